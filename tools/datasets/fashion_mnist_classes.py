#!/usr/bin/env python3
"""Writes some classes of Fashion-MNIST as a Keras-style .npz for `--dataset=npz:FILE`.

The classes are relabeled 0..K-1 in the order given (their names go to FILE.labels.txt beside
the .npz, which bit_finetune reads), and both splits keep the files' order:
the same images, labels and order as the upstream stage of bit_finetune's transfer experiment
(train/transfer_experiment.cc), so that stage can be rerun with other settings, e.g. wider:

    /usr/bin/python3 tools/datasets/fashion_mnist_classes.py --classes=0,1,3,8,9 \
        --out=/tmp/fashion_upstream.npz

Needs numpy only; reads Debian's dataset-fashion-mnist unless --dir says otherwise.
"""
import argparse
import os

import numpy as np

import fashion_mnist_files


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classes", required=True, help="comma-separated class indices, 0-9")
    parser.add_argument("--out", required=True, help="the .npz to write")
    parser.add_argument("--dir", default=fashion_mnist_files.DEFAULT_DIR)
    args = parser.parse_args()
    classes = fashion_mnist_files.parse_classes(args.classes)

    arrays = {}
    for split in ("train", "test"):
        images, labels = fashion_mnist_files.read_split(args.dir, split)
        arrays[f"x_{split}"], arrays[f"y_{split}"] = fashion_mnist_files.select_classes(
            images, labels, classes)
    tmp = args.out + ".tmp.npz"
    np.savez(tmp, **arrays)
    os.replace(tmp, args.out)
    # The class names beside it (data/keras_npz.h), so that bit_finetune's reports name them.
    labels = (args.out[:-4] if args.out.endswith(".npz") else args.out) + ".labels.txt"
    with open(labels + ".tmp", "w") as f:
        f.write("".join(fashion_mnist_files.CLASS_NAMES[c] + "\n" for c in classes))
    os.replace(labels + ".tmp", labels)
    print(f"{args.out}: {len(arrays['y_train'])} train and {len(arrays['y_test'])} test images "
          f"of classes {classes}, relabeled 0..{len(classes) - 1}; their names in {labels}")


if __name__ == "__main__":
    main()
