#!/usr/bin/python3
"""PyTorch baseline for ws_bench: BiT's StdConv2d weight standardization, forward + backward
over every conv weight of BiT-R50, float32 CPU. Best of 7 after a warm-up.

    OMP_NUM_THREADS=2 /usr/bin/python3 tools/bench/kernels/ws_torch_bench.py [--cpu_time]
"""
import sys
import time

import torch

USE_CPU_TIME = "--cpu_time" in sys.argv[1:]


def now_ms():
    if USE_CPU_TIME:
        return time.process_time() * 1e3 / torch.get_num_threads()
    return time.perf_counter() * 1e3


def bit_r50_weights():
    shapes = [(64, 3, 7, 7)]
    cin = 64
    for mid, blocks in ((64, 3), (128, 4), (256, 6), (512, 3)):
        out = 4 * mid
        for b in range(blocks):
            if b == 0:
                shapes.append((out, cin, 1, 1))
            shapes.append((mid, cin if b == 0 else out, 1, 1))
            shapes.append((mid, mid, 3, 3))
            shapes.append((out, mid, 1, 1))
        cin = out
    return shapes


def standardize(w):
    var, mean = torch.var_mean(w, dim=[1, 2, 3], keepdim=True, unbiased=False)
    return (w - mean) / torch.sqrt(var + 1e-10)


def main():
    torch.manual_seed(0)
    weights = [(torch.randn(s) * 0.05).requires_grad_() for s in bit_r50_weights()]
    grads = [torch.randn(s) for s in bit_r50_weights()]
    total = sum(w.numel() for w in weights)

    def step():
        for w, g in zip(weights, grads):
            torch.autograd.grad(standardize(w), w, g)

    step()
    best = 1e30
    for _ in range(7):
        start = now_ms()
        step()
        best = min(best, now_ms() - start)
    clock = "CPU time / threads" if USE_CPU_TIME else "wall time"
    print(f"torch {torch.__version__} WS fwd+bwd over BiT-R50's {len(weights)} conv weights "
          f"({total / 1e6:.1f}M values), {torch.get_num_threads()} threads, {clock}")
    print(f"torch       {best:8.2f} ms")


if __name__ == "__main__":
    main()
