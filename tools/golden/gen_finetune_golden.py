#!/usr/bin/python3
"""Writes tests/train/testdata/finetune_golden_{data,model,expected}.npz: 3 steps of plain mini-batch SGD on a tiny
BiT, computed by the independent PyTorch model in bit_torch.py, for tests/train/golden_test.cc.

The run is what `bit_finetune --augment=none --shuffle=false --schedule=constant
--mixup_alpha=0` does (issue 13): step i trains on examples [i*B, (i+1)*B) modulo N in file
order, preprocessed by the eval path (x / 127.5 - 1; the images already have the model's
resolution, so nothing is resized), mean cross-entropy, SGD momentum 0.9, no weight decay,
constant lr. With batch_split S each step sums the gradients of S micro-batches of B/S images,
each loss divided by S. Computed in float64 from float32 data, saved as float32.
PyTorch's batch_split=2 run rounds to the same float32 arrays as batch_split=1 (checked here),
so one expected file serves both of the test's runs.

Run: /usr/bin/python3 tools/golden/gen_finetune_golden.py   (~5 s; byte-identical output)
"""
import collections
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bit_torch  # noqa: E402
from bit_torch import BitConfig, BitModel  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../tests/train/testdata")
CFG = BitConfig(50, 1, head_size=3, base_width=4, num_groups=2)
N_TRAIN, N_TEST, SIDE = 6, 4, 32
BATCH, STEPS, LR, MOMENTUM = 4, 3, 0.003, 0.9  # BiT's base lr; at 0.05 this tiny
# model is so ill-conditioned that float32 PyTorch itself lands 5e-3 off the float64 weights


def train(model, x, labels, batch_split):
    model = model.to(torch.float64).requires_grad_()
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    losses = []
    for step in range(STEPS):
        index = [(step * BATCH + j) % N_TRAIN for j in range(BATCH)]
        opt.zero_grad()
        micro = BATCH // batch_split
        total = 0.0
        for m in range(batch_split):
            part = index[m * micro:(m + 1) * micro]
            loss = torch.nn.functional.cross_entropy(model(x[part]), labels[part]) / batch_split
            loss.backward()
            total += loss.item()
        opt.step()
        losses.append(total)
    return model, losses


def main():
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    rng = np.random.RandomState(13)
    x_train = rng.randint(0, 256, (N_TRAIN, SIDE, SIDE, 3)).astype(np.uint8)
    y_train = np.array([0, 1, 2, 1, 0, 2], dtype=np.int64)
    x_test = rng.randint(0, 256, (N_TEST, SIDE, SIDE, 3)).astype(np.uint8)
    y_test = np.array([2, 0, 1, 2], dtype=np.int64)
    os.makedirs(OUT, exist_ok=True)
    np.savez_compressed(os.path.join(OUT, "finetune_golden_data.npz"), x_train=x_train,
                        y_train=y_train, x_test=x_test, y_test=y_test)

    model = BitModel.random(CFG, seed=21)
    model.save_npz(os.path.join(OUT, "finetune_golden_model.npz"), compressed=True)

    x = torch.from_numpy(x_train).permute(0, 3, 1, 2).to(torch.float32) / 127.5 - 1.0
    x = x.to(torch.float64)
    labels = torch.from_numpy(y_train)
    results = {split: train(model, x, labels, split) for split in (1, 2)}
    arrays = results[1][0].numpy_arrays()
    for key, value in results[2][0].numpy_arrays().items():
        assert np.array_equal(value, arrays[key]), f"batch_split=2 differs in float32 at {key}"
    arrays["loss"] = np.array(results[1][1], dtype=np.float32)
    np.savez_compressed(os.path.join(OUT, "finetune_golden_expected.npz"), **arrays)
    print(f"losses {results[1][1]}")


if __name__ == "__main__":
    main()
