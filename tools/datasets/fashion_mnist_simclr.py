#!/usr/bin/env python3
"""A self-supervised (SimCLR) upstream model for bit_finetune's transfer experiment, in PyTorch.

Measures whether contrastive pre-training on the five upstream classes transfers better than
the supervised upstream stage of train/transfer_experiment.cc at the same small scale: the same
BiT R50 (base width 8, 4 groups, tools/golden/bit_torch.py) at 32x32, trained for --minutes on
two augmented views of each image (random box of --min_area to 100% of the area, aspect 3/4 to
4/3, flip, brightness and contrast) with the NT-Xent loss on a 2-layer projection of the
pre-logits (Adam, lr 2e-3); --supervised_weight adds the softmax loss on the labels. Writes an
official-layout .npz, then reports linear probes on --probe_classes (fashion_mnist_probe.py).
Fine-tune it as the experiment does (base lr 0.01, batch 16, 500 updates, `shift`):

    /usr/bin/python3 tools/datasets/fashion_mnist_simclr.py --minutes=5 --out=/tmp/simclr.npz
    /usr/bin/python3 tools/datasets/fashion_mnist_classes.py --classes=2,4,5,6,7 \\
        --out=/tmp/down.npz
    bazel run //examples:bit_finetune -- --weights=/tmp/simclr.npz --base_width=8 \\
        --num_groups=4 --dataset=npz:/tmp/down.npz --examples_per_class=10 --resolution=32 \\
        --batch=16 --base_lr=0.01 --augment=shift --seed=0   # and --seed=1, 2; --weights=random

Needs Debian's python3-torch; a tool for a measurement, not part of the experiment.
"""
import argparse
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "golden"))
import bit_torch  # noqa: E402
import fashion_mnist_files  # noqa: E402
import fashion_mnist_probe  # noqa: E402

RESOLUTION = 32
PROJECTION = 64


def augmented_view(x, min_area):
    """A random box (min_area..1 of the area, aspect 3/4..4/3), flip, brightness and contrast,
    resampled to RESOLUTION; x: (N, 1, 28, 28) in [-1, 1] -> (N, 3, R, R)."""
    n = x.shape[0]
    area = torch.empty(n).uniform_(min_area, 1).sqrt()
    aspect = torch.empty(n).uniform_(math.log(3 / 4), math.log(4 / 3)).exp().sqrt()
    sx, sy = (area * aspect).clamp(max=1), (area / aspect).clamp(max=1)
    flip = torch.where(torch.rand(n) < 0.5, -1.0, 1.0)
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0], theta[:, 1, 1] = sx * flip, sy
    theta[:, 0, 2] = (torch.rand(n) * 2 - 1) * (1 - sx)
    theta[:, 1, 2] = (torch.rand(n) * 2 - 1) * (1 - sy)
    grid = F.affine_grid(theta, (n, 1, RESOLUTION, RESOLUTION), align_corners=False)
    y = F.grid_sample(x, grid, align_corners=False, padding_mode="border")
    contrast = torch.empty(n, 1, 1, 1).uniform_(0.6, 1.4)
    brightness = torch.empty(n, 1, 1, 1).uniform_(-0.3, 0.3)
    return ((y + 1) * contrast - 1 + brightness).clamp(-1, 1).repeat(1, 3, 1, 1)


def nt_xent(z, temperature):
    """SimCLR's loss: rows i and i + N are the two views of one image."""
    z = F.normalize(z, dim=1)
    n = z.shape[0] // 2
    similarity = (z @ z.T / temperature).fill_diagonal_(-1e9)
    positives = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)])
    return F.cross_entropy(similarity, positives)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classes", default="0,1,3,8,9", help="the upstream classes")
    parser.add_argument("--probe_classes", default="2,4,5,6,7")
    parser.add_argument("--minutes", type=float, default=5)
    parser.add_argument("--batch", type=int, default=256, help="images; twice as many views")
    parser.add_argument("--temperature", type=float, default=0.2)
    parser.add_argument("--min_area", type=float, default=0.3)
    parser.add_argument("--supervised_weight", type=float, default=0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True, help="the .npz to write")
    parser.add_argument("--dir", default=fashion_mnist_files.DEFAULT_DIR)
    args = parser.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    torch.manual_seed(args.seed)
    train_images, train_labels = fashion_mnist_files.read_split(args.dir, "train")
    images, labels = fashion_mnist_files.select_classes(
        train_images, train_labels, fashion_mnist_files.parse_classes(args.classes))
    x = torch.from_numpy(images.astype(np.float32) / 127.5 - 1)[:, None]
    y = torch.from_numpy(labels).long()

    cfg = bit_torch.BitConfig(depth=50, head_size=int(y.max()) + 1, base_width=8, num_groups=4)
    model = bit_torch.BitModel.random(cfg, seed=args.seed)
    for key, value in model.params.items():
        if bit_torch.is_head_key(key):
            value.zero_()
    model.requires_grad_(True)
    c = cfg.feature_channels
    projection = [torch.randn(c, c) / math.sqrt(c), torch.zeros(c),
                  torch.randn(c, PROJECTION) / math.sqrt(c)]
    for p in projection:
        p.requires_grad_(True)
    optimizer = torch.optim.Adam(model.parameters() + projection, lr=2e-3)

    start, step = time.time(), 0
    while time.time() - start < args.minutes * 60:
        picks = torch.randint(0, len(x), (args.batch,))
        views = torch.cat([augmented_view(x[picks], args.min_area) for _ in range(2)])
        activations = {}
        logits = model(views, activations)
        z = F.relu(activations["prelogits"] @ projection[0] + projection[1]) @ projection[2]
        loss = nt_xent(z, args.temperature)
        if args.supervised_weight:
            loss = loss + args.supervised_weight * F.cross_entropy(logits, y[picks].repeat(2))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        step += 1
        if step % 100 == 0:
            print(f"step {step}: loss {loss.item():.3f}, {time.time() - start:.0f} s", flush=True)
    model.requires_grad_(False)
    for key, value in model.params.items():
        if bit_torch.is_head_key(key):
            value.zero_()  # the supervised loss trained it; fine-tuning replaces it anyway
    model.save_npz(args.out)
    print(f"{args.out}: {step} updates of {args.batch} image pairs "
          f"({step * args.batch / len(x):.1f} epochs)")

    probe_classes = fashion_mnist_files.parse_classes(args.probe_classes)
    train_x, train_y = fashion_mnist_files.select_classes(train_images, train_labels, probe_classes)
    test_x, test_y = fashion_mnist_files.select_classes(
        *fashion_mnist_files.read_split(args.dir, "test"), probe_classes)
    feats = lambda a: fashion_mnist_probe.features(model, a, RESOLUTION)
    fashion_mnist_probe.report(os.path.basename(args.out), feats(train_x), train_y,
                               feats(test_x), test_y, 10)


if __name__ == "__main__":
    main()
