#!/usr/bin/env python3
"""Checks bit_export's ONNX files in ONNX Runtime against bitgrad's own logits.

For each model (seeded random BiT-S-R50x1 and BiT-S-R101x1 by default), bit_export writes the
.onnx file and the same weights as an official .npz; for each resolution, a random batch in
[-1, 1] goes through ONNX Runtime and through bit_predict (--input=batch.npy), and the logits
must agree to --rtol, relative to the largest logit. Tools only (ONNX Runtime from PyPI):

    bazel build //examples:bit_export //examples:bit_predict
    /work/.venv-onnx/bin/python tools/onnx/check_bit_onnx.py      # pip install onnxruntime numpy
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnxruntime


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bin", default="bazel-bin/examples", help="where bit_export and bit_predict are")
    parser.add_argument("--models", default="BiT-S-R50x1,BiT-S-R101x1")
    parser.add_argument("--resolutions", default="128,160")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--rtol", type=float, default=1e-4)
    args = parser.parse_args()

    failures = 0
    print(f"onnxruntime {onnxruntime.__version__}")
    print(f"{'model':14} {'res':>4} {'max |ort - bitgrad|':>20} {'max |logit|':>12} {'relative':>10}  verdict")
    with tempfile.TemporaryDirectory() as work:
        for model in args.models.split(","):
            onnx_path = os.path.join(work, model + ".onnx")
            npz_path = os.path.join(work, model + ".npz")
            subprocess.run([os.path.join(args.bin, "bit_export"), "--weights=random", "--model=" + model,
                            "--output=" + onnx_path, "--save_weights=" + npz_path], check=True)
            session = onnxruntime.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
            for res in map(int, args.resolutions.split(",")):
                rng = np.random.default_rng(res)
                batch = rng.uniform(-1, 1, (args.batch, 3, res, res)).astype(np.float32)
                batch_path = os.path.join(work, "batch.npy")
                logits_path = os.path.join(work, "logits.npy")
                np.save(batch_path, batch)
                subprocess.run([os.path.join(args.bin, "bit_predict"), "--weights=" + npz_path,
                                "--input=" + batch_path, "--output=" + logits_path, "--top_k=0"],
                               check=True, stdout=subprocess.DEVNULL)
                ours = np.load(logits_path)
                theirs = session.run(["logits"], {"images": batch})[0]
                diff = float(np.abs(theirs - ours).max())
                scale = float(np.abs(ours).max())
                relative = diff / scale
                ok = theirs.shape == ours.shape and relative <= args.rtol
                failures += not ok
                print(f"{model:14} {res:4} {diff:20.3e} {scale:12.4f} {relative:10.2e}  {'ok' if ok else 'FAIL'}")
    if failures:
        print(f"{failures} comparison(s) over rtol {args.rtol}")
        return 1
    print(f"all within rtol {args.rtol}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
