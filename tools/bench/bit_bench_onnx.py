#!/usr/bin/env python3
"""ONNX Runtime and OpenVINO baselines for //tools/bench:bit_bench --mode=infer: the PyTorch BiT
of tools/golden/bit_torch.py with bit_bench_torch.py's weights and input, exported to ONNX and
timed the same way (median step time after warm-up), fp32.

Needs torch, onnx, onnxruntime and openvino (tools/bench/make_venv.sh):

  /work/.venv-bench/bin/python tools/bench/bit_bench_onnx.py --runtime=onnxruntime --batch=32
  /work/.venv-bench/bin/python tools/bench/bit_bench_onnx.py --runtime=openvino --batch=32

The first run of a configuration exports the model (in a child process, so that the timed
process never imports torch and its peak RSS is the runtime's own) to --cache_dir, together with
the input and PyTorch's logits. Every run checks the runtime's logits against PyTorch's before
timing and fails if they differ by more than --tolerance (relative to the largest logit).

  onnxruntime: intra_op_num_threads=--threads, inter_op 1, sequential, ORT_ENABLE_ALL.
  openvino:    CPU plugin, INFERENCE_NUM_THREADS=--threads, INFERENCE_PRECISION_HINT=f32,
               PERFORMANCE_HINT=--openvino_hint (LATENCY: one request runs the whole batch on
               all threads; THROUGHPUT: the batch is split over the compiled model's optimal
               number of requests, run asynchronously, one per stream).

Prints a progress line per step and, last, one JSON object like bit_bench_torch.py's, plus the
check's max_abs_diff.
"""
import argparse
import hashlib
import inspect
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

from bench_config import add_config_flags

HERE = os.path.dirname(os.path.abspath(__file__))
GOLDEN = os.path.join(HERE, "..", "golden")
# 17: the newest opset of PyTorch's TorchScript exporter that ONNX Runtime and OpenVINO both
# read; GroupNorm is exported as InstanceNormalization between reshapes.
OPSET = 17


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_config_flags(parser, steps=10)
    parser.add_argument("--runtime", choices=["onnxruntime", "openvino"], default="onnxruntime")
    parser.add_argument("--openvino_hint", choices=["LATENCY", "THROUGHPUT"], default="LATENCY",
                        help="OpenVINO's PERFORMANCE_HINT")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--tolerance", type=float, default=1e-3,
                        help="largest |runtime - PyTorch| logit difference allowed, relative to "
                             "the largest |logit|")
    parser.add_argument("--cache_dir", default=os.path.join(tempfile.gettempdir(),
                                                            "bitgrad_bench_onnx"))
    parser.add_argument("--export_to", help=argparse.SUPPRESS)  # the child process's job
    args = parser.parse_args(argv)
    if args.mode != "infer":
        parser.error("--mode: only inference (--mode=infer) is timed with ONNX runtimes")
    if args.dtype != "fp32":
        parser.error("--dtype: the exported model runs in float32 here (--dtype=fp32)")
    return args


# ---------------------------------------------------------------------------------------------
# Export (child process: imports torch).

def export(args, directory):
    """Writes model.onnx, reference.npz (input x, PyTorch's logits) and meta.json to directory:
    bit_bench_torch.py's model, weights and input."""
    sys.path.insert(0, GOLDEN)
    import torch
    import bit_torch
    from bit_bench_torch import bit_torch_flops, model_config

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cfg = model_config(args)
    model = bit_torch.BitModel.random(cfg, seed=0)
    x = torch.rand(args.batch, 3, args.res, args.res) * 2 - 1  # as bit_bench_torch.py draws it

    class Wrapper(torch.nn.Module):
        """BitModel's functional forward as a module whose weights are the graph's initializers
        (torch.onnx.export takes modules); constant folding then standardizes them once."""

        def __init__(self):
            super().__init__()
            for i, value in enumerate(model.params.values()):
                self.register_buffer(f"p{i}", value)

        def forward(self, images):
            return model(images)

    wrapper = Wrapper().eval()
    with torch.no_grad():
        logits = wrapper(x)
        # Newer PyTorch defaults to the dynamo exporter (which needs onnxscript); keep the
        # TorchScript one, which every PyTorch 2.x has.
        extra = ({"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters
                 else {})
        torch.onnx.export(wrapper, (x,), os.path.join(directory, "model.onnx"),
                          input_names=["images"], output_names=["logits"],
                          dynamic_axes={"images": {0: "batch"}, "logits": {0: "batch"}},
                          opset_version=OPSET, do_constant_folding=True, **extra)
    np.savez(os.path.join(directory, "reference.npz"), x=x.numpy(), logits=logits.numpy())
    with open(os.path.join(directory, "meta.json"), "w") as f:
        json.dump({"flops_per_image": bit_torch_flops(cfg, args.res),
                   "exported_by": "torch " + torch.__version__, "opset": OPSET}, f)


def cached_export(args):
    """The directory of this configuration's export, exporting it first if it is missing."""
    sources = b"".join(open(os.path.join(d, f), "rb").read() for d, f in (
        (GOLDEN, "bit_torch.py"), (HERE, "bit_bench_torch.py"), (HERE, "bit_bench_onnx.py")))
    key = hashlib.sha256(repr((args.model, args.batch, args.res, args.head, args.base_width,
                               args.num_groups, OPSET)).encode()
                         + sources).hexdigest()[:16]
    directory = os.path.join(args.cache_dir, f"{args.model}_b{args.batch}_r{args.res}_{key}")
    if not os.path.exists(os.path.join(directory, "meta.json")):
        os.makedirs(args.cache_dir, exist_ok=True)
        partial = tempfile.mkdtemp(dir=args.cache_dir, prefix="partial_")
        done = subprocess.run([sys.executable, os.path.abspath(__file__), "--export_to", partial]
                              + sys.argv[1:], stdout=sys.stderr)
        if done.returncode != 0:
            shutil.rmtree(partial, ignore_errors=True)
            raise SystemExit(f"exporting {args.model} to ONNX failed ({done.returncode})")
        try:
            os.rename(partial, directory)
        except OSError:  # another run exported it meanwhile
            shutil.rmtree(partial, ignore_errors=True)
    return directory


# ---------------------------------------------------------------------------------------------
# The runtimes: each returns (name with version, a function running the whole batch).

def onnxruntime_session(args, path):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    return "onnxruntime " + ort.__version__, lambda x: session.run(None, {"images": x})[0]


def openvino_session(args, path):
    import openvino as ov

    core = ov.Core()
    model = core.read_model(path)
    config = {"INFERENCE_NUM_THREADS": args.threads, "INFERENCE_PRECISION_HINT": "f32",
              "PERFORMANCE_HINT": args.openvino_hint}
    name = f"openvino {ov.__version__.split('-')[0]} {args.openvino_hint.lower()}"
    if args.openvino_hint == "LATENCY":
        model.reshape([args.batch, 3, args.res, args.res])
        request = core.compile_model(model, "CPU", config).create_infer_request()
        return name, lambda x: request.infer({0: x}, share_inputs=True)[0]

    # THROUGHPUT: as many requests as the plugin runs streams, each on an equal part of the batch.
    probe = core.compile_model(model, "CPU", config)
    parts = probe.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")
    del probe
    while args.batch % parts:
        parts -= 1
    model.reshape([args.batch // parts, 3, args.res, args.res])
    compiled = core.compile_model(model, "CPU", config)
    queue = ov.AsyncInferQueue(compiled, parts)
    outputs = [None] * parts

    def keep(request, index):
        outputs[index] = request.get_output_tensor(0).data.copy()

    queue.set_callback(keep)

    def run(x):
        for index, chunk in enumerate(np.split(x, parts)):
            queue.start_async({0: chunk}, userdata=index, share_inputs=True)
        queue.wait_all()
        return np.concatenate(outputs)

    streams = compiled.get_property("NUM_STREAMS")
    print(f"openvino THROUGHPUT: {parts} requests of {args.batch // parts} images, "
          f"{streams} streams", file=sys.stderr)
    return name, run


RUNTIMES = {"onnxruntime": onnxruntime_session, "openvino": openvino_session}


def main():
    args = parse_args()
    if args.export_to:
        export(args, args.export_to)
        return
    directory = cached_export(args)
    with open(os.path.join(directory, "meta.json")) as f:
        meta = json.load(f)
    reference = np.load(os.path.join(directory, "reference.npz"))
    x = np.ascontiguousarray(reference["x"])
    framework, step = RUNTIMES[args.runtime](args, os.path.join(directory, "model.onnx"))

    logits = np.asarray(step(x))
    diff = float(np.abs(logits - reference["logits"]).max())
    scale = float(np.abs(reference["logits"]).max())
    print(f"{framework}: max |logits - PyTorch's| = {diff:.3g} (largest |logit| {scale:.3g})",
          file=sys.stderr)
    if not diff <= args.tolerance * scale:
        raise SystemExit(f"{framework} disagrees with PyTorch: max abs diff {diff:.3g} > "
                         f"{args.tolerance} x {scale:.3g}")

    times = []
    faults_before_timed_steps = 0
    for i in range(args.warmup + args.steps):
        if i == args.warmup:
            faults_before_timed_steps = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        start = time.perf_counter()
        step(x)
        elapsed = time.perf_counter() - start
        if i >= args.warmup:
            times.append(elapsed)
        print(f"step {i + 1}/{args.warmup + args.steps}{' (warm-up)' if i < args.warmup else ''}: "
              f"{elapsed * 1000:.0f} ms, {args.batch / elapsed:.2f} img/s", file=sys.stderr)

    usage = resource.getrusage(resource.RUSAGE_SELF)
    median = statistics.median(times)
    print(json.dumps({
        "framework": framework, "model": args.model, "mode": args.mode,
        "batch": args.batch, "res": args.res, "threads": args.threads,
        "img_per_s": round(args.batch / median, 3), "step_ms": round(median * 1000, 2),
        "gflops": round(meta["flops_per_image"] * args.batch / median / 1e9, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "page_faults_per_step": round((usage.ru_minflt - faults_before_timed_steps) / args.steps),
        "max_abs_diff": float(f"{diff:.3g}")}))


if __name__ == "__main__":
    main()
