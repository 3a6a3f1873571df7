#!/usr/bin/env python3
"""Writes some classes of Fashion-MNIST as a Keras-style .npz for `--dataset=npz:FILE`.

The classes are relabeled 0..K-1 in the order given, and both splits keep the files' order:
the same images, labels and order as the upstream stage of bit_finetune's transfer experiment
(train/transfer_experiment.cc), so that stage can be rerun with other settings, e.g. wider:

    /usr/bin/python3 tools/datasets/fashion_mnist_classes.py --classes=0,1,3,8,9 \
        --out=/tmp/fashion_upstream.npz

Needs numpy only; reads Debian's dataset-fashion-mnist unless --dir says otherwise.
"""
import argparse
import gzip
import os
import sys

import numpy as np


def read_idx(path, header_bytes):
    with gzip.open(path) as f:
        return np.frombuffer(f.read(), np.uint8, offset=header_bytes)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classes", required=True, help="comma-separated class indices, 0-9")
    parser.add_argument("--out", required=True, help="the .npz to write")
    parser.add_argument("--dir", default="/usr/share/datasets/fashion-mnist")
    args = parser.parse_args()
    try:
        classes = [int(c) for c in args.classes.split(",")]
    except ValueError:
        sys.exit(f"--classes: expected comma-separated integers, got {args.classes!r}")
    if not classes or len(set(classes)) != len(classes) or not all(0 <= c < 10 for c in classes):
        sys.exit(f"--classes: expected distinct indices in 0..9, got {args.classes!r}")

    arrays = {}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        images = read_idx(os.path.join(args.dir, f"{prefix}-images-idx3-ubyte.gz"), 16)
        labels = read_idx(os.path.join(args.dir, f"{prefix}-labels-idx1-ubyte.gz"), 8)
        images = images.reshape(len(labels), 28, 28)
        keep = np.isin(labels, classes)
        relabel = {c: k for k, c in enumerate(classes)}
        arrays[f"x_{split}"] = images[keep]
        arrays[f"y_{split}"] = np.array([relabel[v] for v in labels[keep]], np.int64)
    tmp = args.out + ".tmp.npz"
    np.savez(tmp, **arrays)
    os.replace(tmp, args.out)
    print(f"{args.out}: {len(arrays['y_train'])} train and {len(arrays['y_test'])} test images "
          f"of classes {classes}, relabeled 0..{len(classes) - 1}")


if __name__ == "__main__":
    main()
