#!/usr/bin/python3
"""PyTorch baseline for gn_bench: F.group_norm(32) + relu forward and backward, float32 CPU.

Same shapes as gn_bench.cc (BiT-R50 at 128x128, batch 16). Forward is group_norm then relu;
backward is autograd through both, given dy. Best of repeated runs after a warm-up
(the most repeatable statistic on a shared machine), as in gn_bench.

    OMP_NUM_THREADS=2 /usr/bin/python3 tools/bench/kernels/gn_torch_bench.py [--cpu_time]

--cpu_time reports process CPU time divided by the thread count, as gn_bench --cpu_time does.
"""
import sys
import time

import torch
import torch.nn.functional as F


USE_CPU_TIME = "--cpu_time" in sys.argv[1:]


def now_ms():
    if USE_CPU_TIME:
        return time.process_time() * 1e3 / torch.get_num_threads()
    return time.perf_counter() * 1e3


def best_ms(fn):
    fn()
    fn()
    times, total = [], 0.0
    while len(times) < 5 or (total < 400.0 and len(times) < 200):
        start = now_ms()
        fn()
        ms = now_ms() - start
        times.append(ms)
        total += ms
    return min(times)


def main():
    n = 16
    clock = "CPU time / threads" if USE_CPU_TIME else "wall time"
    print(f"torch {torch.__version__} GroupNorm(32)+ReLU float32, N={n}, "
          f"{torch.get_num_threads()} threads, {clock}")
    torch.manual_seed(0)
    for c in (256, 512, 1024):
        for hw in (32, 16, 8):
            x = torch.randn(n, c, hw, hw, requires_grad=True)
            gamma = torch.ones(c, requires_grad=True)
            beta = torch.zeros(c, requires_grad=True)
            dy = torch.randn(n, c, hw, hw)

            def forward():
                with torch.no_grad():
                    F.relu(F.group_norm(x, 32, gamma, beta))

            y = F.relu(F.group_norm(x, 32, gamma, beta))

            def backward():
                torch.autograd.grad(y, (x, gamma, beta), dy, retain_graph=True)

            mb = n * c * hw * hw * 4 / 1e6
            fwd, bwd = best_ms(forward), best_ms(backward)
            print(f"torch          C={c:4d} {hw:2d}x{hw:<2d}  {mb:6.1f} MB  fwd {fwd:7.3f} ms "
                  f"{2 * mb / fwd:6.1f} GB/s   bwd {bwd:7.3f} ms {4 * mb / bwd:6.1f} GB/s")


if __name__ == "__main__":
    main()
