"""Reads Fashion-MNIST's gzipped idx files (Debian's dataset-fashion-mnist) with numpy."""
import gzip
import os
import sys

import numpy as np

DEFAULT_DIR = "/usr/share/datasets/fashion-mnist"
CLASS_NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot"]


def read_split(directory, split):
    """(images uint8 (N, 28, 28), labels uint8 (N,)) of split "train" or "test"; exits with a
    message naming the file when one is missing."""
    prefix = {"train": "train", "test": "t10k"}[split]

    def read(name, header_bytes):
        path = os.path.join(directory, name)
        if not os.path.exists(path):
            sys.exit(f"{path}: no such file (install dataset-fashion-mnist, or pass --dir)")
        with gzip.open(path) as f:
            return np.frombuffer(f.read(), np.uint8, offset=header_bytes)
    labels = read(f"{prefix}-labels-idx1-ubyte.gz", 8)
    images = read(f"{prefix}-images-idx3-ubyte.gz", 16).reshape(len(labels), 28, 28)
    return images, labels


def parse_classes(text, flag="--classes"):
    """Distinct class indices 0..9 from "a,b,c"; exits with a message naming the flag."""
    try:
        classes = [int(c) for c in text.split(",")]
    except ValueError:
        sys.exit(f"{flag}: expected comma-separated integers, got {text!r}")
    distinct = len(set(classes)) == len(classes)
    if len(classes) < 2 or not distinct or not all(0 <= c < 10 for c in classes):
        sys.exit(f"{flag}: expected at least two distinct indices in 0..9, got {text!r}")
    return classes


def select_classes(images, labels, classes):
    """The examples of `classes`, relabeled 0..K-1 in that order, in file order."""
    keep = np.isin(labels, classes)
    relabel = np.full(10, -1, np.int64)
    relabel[classes] = np.arange(len(classes))
    return images[keep], relabel[labels[keep]]
