#!/usr/bin/env python3
"""How much a BiT model's features know about some Fashion-MNIST classes: linear probes.

For the transfer experiment of bit_finetune (train/transfer_experiment.cc): a logistic
regression on the pooled features (pre-logits) of the model in --weights, fitted on 10 training
images per class (three seeded draws) and on all of them, and scored on the test images of
--classes; the same for a random model of that shape and for the raw pixels, with the
nearest-neighbour accuracy (cosine) beside each 10-shot figure. With several comma-separated
--weights, each model's features and their concatenation: whether models trained alike from
different seeds learn different features (docs/transfer_experiments.md).

    bazel run //examples:bit_export -- --weights=UPSTREAM.ckpt --output=/tmp/up.onnx \\
        --save_weights=/tmp/up.npz --base_width=8 --num_groups=4
    /usr/bin/python3 tools/datasets/fashion_mnist_probe.py --weights=/tmp/up.npz \\
        --base_width=8 --num_groups=4 --classes=2,4,5,6,7

Needs Debian's python3-torch (tools/golden/bit_torch.py is the model); about three minutes on
2 cores.
"""
import argparse
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "golden"))
import bit_torch  # noqa: E402
import fashion_mnist_files  # noqa: E402

DRAWS = 3


def features(model, images, resolution):
    """Pre-logits of the eval path: [-1, 1], resized to the resolution, gray to 3 channels."""
    out = []
    with torch.no_grad():
        for i in range(0, len(images), 500):
            x = torch.from_numpy(images[i:i + 500].astype(np.float32) / 127.5 - 1)[:, None]
            x = F.interpolate(x, size=resolution, mode="bilinear", align_corners=False)
            activations = {}
            model(x.repeat(1, 3, 1, 1), activations)
            out.append(activations["prelogits"])
    return torch.cat(out)


def linear_probe(train_x, train_y, test_x, test_y, l2):
    """Top-1 (%) of an L2-regularised logistic regression on standardised features."""
    mean, std = train_x.mean(0), train_x.std(0) + 1e-6
    a, b = (train_x - mean) / std, (test_x - mean) / std
    classes = int(train_y.max()) + 1
    w = torch.zeros(a.shape[1], classes, requires_grad=True)
    bias = torch.zeros(classes, requires_grad=True)
    optimizer = torch.optim.LBFGS([w, bias], max_iter=300)
    targets = torch.from_numpy(train_y).long()

    def closure():
        optimizer.zero_grad()
        loss = F.cross_entropy(a @ w + bias, targets) + l2 * (w ** 2).sum()
        loss.backward()
        return loss
    optimizer.step(closure)
    return 100 * np.mean((b @ w + bias).argmax(1).numpy() == test_y)


def nearest_neighbour(train_x, train_y, test_x, test_y):
    similarity = F.normalize(test_x, dim=1) @ F.normalize(train_x, dim=1).T
    return 100 * np.mean(train_y[similarity.argmax(1).numpy()] == test_y)


def report(name, train_x, train_y, test_x, test_y, shots):
    few = []
    for seed in range(DRAWS):
        rng = np.random.RandomState(seed)
        picks = np.concatenate([rng.choice(np.flatnonzero(train_y == c), shots, replace=False)
                                for c in range(int(train_y.max()) + 1)])
        few.append((linear_probe(train_x[picks], train_y[picks], test_x, test_y, 1e-3),
                    nearest_neighbour(train_x[picks], train_y[picks], test_x, test_y)))
    few = np.mean(few, axis=0)
    full = linear_probe(train_x, train_y, test_x, test_y, 1e-5)
    print(f"  {name:22s} {shots}-shot linear {few[0]:5.1f}%  nearest neighbour {few[1]:5.1f}%  "
          f"all images linear {full:5.1f}%", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", required=True,
                        help="official-layout .npz files (bit_export), comma-separated")
    parser.add_argument("--base_width", type=int, default=8)
    parser.add_argument("--num_groups", type=int, default=4)
    parser.add_argument("--classes", required=True, help="comma-separated class indices, 0-9")
    parser.add_argument("--shots", type=int, default=10)
    parser.add_argument("--resolution", type=int, default=32)
    parser.add_argument("--dir", default=fashion_mnist_files.DEFAULT_DIR)
    args = parser.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    classes = fashion_mnist_files.parse_classes(args.classes)
    weights = args.weights.split(",")
    for path in weights:
        if not os.path.exists(path):
            sys.exit(f"--weights: {path} does not exist (write it with bit_export --save_weights)")
    train_images, train_y = fashion_mnist_files.select_classes(
        *fashion_mnist_files.read_split(args.dir, "train"), classes)
    test_images, test_y = fashion_mnist_files.select_classes(
        *fashion_mnist_files.read_split(args.dir, "test"), classes)

    models = [bit_torch.BitModel.load_npz(path, args.base_width, args.num_groups)
              for path in weights]
    print(f"classes {args.classes}: {len(train_y)} training and {len(test_y)} test images, "
          f"test top-1 of probes, {DRAWS} draws for the {args.shots}-shot figures")
    all_train, all_test = [], []
    for path, model in zip(weights, models):
        all_train.append(features(model, train_images, args.resolution))
        all_test.append(features(model, test_images, args.resolution))
        report(os.path.basename(path), all_train[-1], train_y, all_test[-1], test_y, args.shots)
    if len(models) > 1:
        report(f"the {len(models)} concatenated", torch.cat(all_train, 1), train_y,
               torch.cat(all_test, 1), test_y, args.shots)
    random_model = bit_torch.BitModel.random(models[0].cfg, seed=0)
    report("random init", features(random_model, train_images, args.resolution), train_y,
           features(random_model, test_images, args.resolution), test_y, args.shots)
    pixels = lambda images: torch.from_numpy(images.reshape(len(images), -1).astype(np.float32))
    report("pixels", pixels(train_images), train_y, pixels(test_images), test_y, args.shots)


if __name__ == "__main__":
    main()
