#!/usr/bin/env python3
"""Ranks the ways to split Fashion-MNIST into 5 upstream and 5 downstream classes.

bit_finetune's transfer experiment (train/transfer_experiment.cc) fine-tunes on 10 images per
downstream class. Transfer can only show where those 50 images alone separate the classes
poorly, so this ranks every downstream 5-set by how well 10 images per class do from the pixels:
nearest neighbour (cosine) of 1000 other training images per class against the 10, mean of
three draws. Only training images are used; the test split stays for the experiment.

    /usr/bin/python3 tools/datasets/fashion_mnist_splits.py [--top=10]

Needs numpy only; reads Debian's dataset-fashion-mnist unless --dir says otherwise.
"""
import argparse
import itertools

import numpy as np

import fashion_mnist_files

SHOTS = 10
QUERIES = 1000  # per class, disjoint from the shots
DRAWS = 3


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default=fashion_mnist_files.DEFAULT_DIR)
    parser.add_argument("--top", type=int, default=10, help="how many splits to print")
    args = parser.parse_args()
    images, labels = fashion_mnist_files.read_split(args.dir, "train")
    images = images.reshape(len(labels), -1).astype(np.float32)
    images /= np.linalg.norm(images, axis=1, keepdims=True)

    # Per draw and class: SHOTS "training" images and QUERIES others to classify.
    draws = []
    for seed in range(DRAWS):
        rng = np.random.RandomState(seed)
        picks = [rng.permutation(np.flatnonzero(labels == c))[:SHOTS + QUERIES] for c in range(10)]
        draws.append([(p[:SHOTS], p[SHOTS:]) for p in picks])

    ranking = []
    for down in itertools.combinations(range(10), 5):
        accuracy = []
        for draw in draws:
            shots = np.concatenate([draw[c][0] for c in down])
            queries = np.concatenate([draw[c][1] for c in down])
            nearest = (images[queries] @ images[shots].T).argmax(axis=1)
            accuracy.append(np.mean(labels[shots][nearest] == labels[queries]))
        ranking.append((100 * np.mean(accuracy), down))
    ranking.sort()
    print(f"10-shot nearest-neighbour accuracy from pixels, {DRAWS} draws, hardest first:")
    for accuracy, down in ranking[:args.top]:
        up = [c for c in range(10) if c not in down]
        names = ", ".join(fashion_mnist_files.CLASS_NAMES[c] for c in down)
        print(f"  {accuracy:5.1f}%  downstream {','.join(map(str, down))} ({names}); "
              f"upstream {','.join(map(str, up))}")


if __name__ == "__main__":
    main()
