#!/usr/bin/python3
"""PyTorch baseline for op_bench: the same BiT-R50x1 conv shapes and other ops, timed the same way.

    OMP_NUM_THREADS=2 /usr/bin/python3 tools/bench/op_bench_torch.py --batch 16 \
        [--channels-last] [--bitgrad op_bench_output.txt]

With --bitgrad FILE (the output of `op_bench --csv`), it also prints bitgrad's time and the
speedup of bitgrad over PyTorch (> 1: bitgrad is faster) for every pass.
Timing: two warm-ups, then the best of --reps runs (the machine is shared; the best run is the
one least disturbed by other processes).
"""
import argparse
import csv
import os
import time

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))


def read_shapes(path):
    with open(path) as f:
        rows = [line for line in f if line.strip() and not line.startswith("#")]
    return [(r[0], *map(int, r[1:])) for r in csv.reader(rows)]


def best_ms(fn, reps):
    fn()
    fn()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return min(times)


def read_bitgrad(path):
    """{name: [ms, ...]} from the csv lines of `op_bench --csv`; the best of repeated runs when
    the file holds several."""
    if not path:
        return {}
    result = {}
    with open(path) as f:
        for row in csv.reader(line for line in f if line.startswith("csv,")):
            times = [float(v) for v in row[2:]]
            old = result.get(row[1], times)
            result[row[1]] = [min(a, b) for a, b in zip(old, times)]
    return result


def conv_passes(n, cin, cout, k, stride, pad, size, channels_last, reps):
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    x = torch.randn(n, cin, size, size).contiguous(memory_format=fmt)
    w = torch.randn(cout, cin, k, k).contiguous(memory_format=fmt)
    y = F.conv2d(x, w, None, stride, pad)
    dy = torch.randn_like(y)
    args = ([0], [stride, stride], [pad, pad], [1, 1], False, [0, 0], 1)

    def bwd(mask):
        return lambda: torch.ops.aten.convolution_backward(dy, x, w, *args, mask)

    fwd = best_ms(lambda: F.conv2d(x, w, None, stride, pad), reps)
    bwd_data = 0.0 if cin == 3 else best_ms(bwd([True, False, False]), reps)
    bwd_weight = best_ms(bwd([False, True, False]), reps)
    return [fwd, bwd_data, bwd_weight], 2.0 * y.numel() * cin * k * k


def other_ops(n, channels_last, reps):
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    root = torch.randn(n, 64, 64, 64).contiguous(memory_format=fmt)
    padded = F.pad(root, (1, 1, 1, 1))
    padded_leaf = padded.detach().requires_grad_()
    pooled = F.max_pool2d(padded_leaf, 3, 2)
    dpool = torch.randn_like(pooled)
    a = torch.randn(n, 256, 32, 32).contiguous(memory_format=fmt)
    b = torch.randn(n, 256, 32, 32).contiguous(memory_format=fmt)
    last = torch.randn(n, 2048, 4, 4).contiguous(memory_format=fmt)
    relu_y = torch.relu(a)
    return [
        ("root zero pad (Nx64x64x64) -> 66x66", lambda: F.pad(root, (1, 1, 1, 1))),
        ("root max pool 3x3/2 fwd (Nx64x66x66)", lambda: F.max_pool2d(padded, 3, 2)),
        ("root max pool 3x3/2 bwd",
         lambda: torch.autograd.grad(pooled, padded_leaf, dpool, retain_graph=True)),
        ("root pad bwd (crop 66x66 -> 64x64)", lambda: padded[:, :, 1:-1, 1:-1].contiguous(memory_format=fmt)),
        ("relu fwd (Nx256x32x32)", lambda: torch.relu(a)),
        ("relu bwd (Nx256x32x32)", lambda: torch.ops.aten.threshold_backward(b, relu_y, 0)),
        ("residual add (Nx256x32x32)", lambda: a + b),
        ("global average pool (Nx2048x4x4)", lambda: last.mean((2, 3), keepdim=True)),
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--channels-last", action="store_true", help="NHWC tensors")
    parser.add_argument("--shapes", default=os.path.join(HERE, "bit_r50x1_convs.csv"))
    parser.add_argument("--bitgrad", help="output of `op_bench --csv` to compare with")
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    ours = read_bitgrad(args.bitgrad)
    layout = "channels_last" if args.channels_last else "NCHW"
    print(f"PyTorch {torch.__version__} {layout}, {torch.get_num_threads()} threads, "
          f"batch {args.batch}, best of {args.reps} runs")
    header = f"{'conv':26s} {'n':>3s}"
    for name in ("fwd", "bwd_d", "bwd_w"):
        header += f"  {name + ' ms':>9s} {'GF/s':>6s}" + (f" {'ours':>7s} {'x':>5s}" if ours else "")
    print(header)
    total_torch = total_ours = 0.0
    for name, count, cin, cout, k, stride, pad, size in read_shapes(args.shapes):
        times, flops = conv_passes(args.batch, cin, cout, k, stride, pad, size,
                                   args.channels_last, args.reps)
        line = f"{name:26s} {count:3d}"
        for i, ms in enumerate(times):
            if ms == 0.0:
                line += f"  {'-':>9s} {'-':>6s}" + (f" {'-':>7s} {'-':>5s}" if ours else "")
                continue
            line += f"  {ms:9.2f} {flops / ms / 1e6:6.1f}"
            total_torch += count * ms
            if name in ours:
                line += f" {ours[name][i]:7.2f} {ms / ours[name][i]:5.2f}"
                total_ours += count * ours[name][i]
        print(line, flush=True)
    print(f"\nconvs of one training step, weighted by count: PyTorch {total_torch:.0f} ms"
          + (f", bitgrad {total_ours:.0f} ms, speedup {total_torch / total_ours:.2f}x"
             if total_ours else ""))
    torch.set_grad_enabled(True)
    print(f"\n{'other op':44s} {'ms':>8s}" + (f" {'ours':>8s} {'x':>5s}" if ours else ""))
    for name, fn in other_ops(args.batch, args.channels_last, args.reps):
        ms = best_ms(fn, args.reps)
        line = f"{name:44s} {ms:8.2f}"
        if name in ours:
            line += f" {ours[name][0]:8.2f} {ms / ours[name][0]:5.2f}"
        print(line, flush=True)


if __name__ == "__main__":
    main()
