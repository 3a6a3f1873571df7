#!/usr/bin/python3
"""Where oneDNN's time goes in one benchmark step: sums DNNL_VERBOSE=1 execution lines by primitive
and by shape, for the last of the steps bit_bench ran.

  DNNL_VERBOSE=1 bazel-bin/tools/bench/bit_bench --mode=train --warmup=2 --steps=1 > verbose.txt
  /usr/bin/python3 tools/bench/onednn_breakdown.py verbose.txt --steps=3

--steps is warmup + timed steps of that run: every step executes the same primitives, so the last
1/steps of the execution lines is the last step. Convolutions get achieved GFLOP/s.
"""
import argparse
import collections
import re


def conv_flops(shape):
    """2 * multiply-adds of a convolution from oneDNN's problem descriptor (no groups)."""
    values = dict(re.findall(r"([a-z]+)(\d+)", shape))
    mb, ic, oc = int(values["mb"]), int(values["ic"]), int(values["oc"])
    oh, ow = int(values.get("oh", 1)), int(values.get("ow", 1))
    kh, kw = int(values.get("kh", 1)), int(values.get("kw", 1))
    return 2 * mb * ic * oc * oh * ow * kh * kw


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("verbose_log")
    parser.add_argument("--steps", type=int, required=True, help="warmup + timed steps of the run")
    parser.add_argument("--top", type=int, default=20, help="shapes to list")
    args = parser.parse_args()

    lines = [l.strip().split(",") for l in open(args.verbose_log)
             if l.startswith("onednn_verbose,exec")]
    if not lines:
        raise SystemExit(f"{args.verbose_log}: no onednn_verbose,exec lines (run with DNNL_VERBOSE=1)")
    last = lines[len(lines) - len(lines) // args.steps:]

    by_kind = collections.defaultdict(lambda: [0, 0.0])
    by_shape = collections.defaultdict(lambda: [0, 0.0])
    for f in last:
        kind, impl, prop, shape, ms = f[3], f[4], f[5], f[-2], float(f[-1])
        by_kind[(kind, impl, prop)][0] += 1
        by_kind[(kind, impl, prop)][1] += ms
        by_shape[(kind, prop, shape)][0] += 1
        by_shape[(kind, prop, shape)][1] += ms

    total = sum(v[1] for v in by_kind.values())
    print(f"oneDNN time in the last step: {total:.1f} ms\n")
    print(f"{'ms':>8} {'calls':>5}  primitive")
    for (kind, impl, prop), (calls, ms) in sorted(by_kind.items(), key=lambda kv: -kv[1][1]):
        print(f"{ms:8.1f} {calls:5d}  {kind} {impl} {prop}")
    print(f"\n{'ms':>8} {'calls':>5} {'GFLOP/s':>8}  convolution shape (top {args.top})")
    convs = [(k, v) for k, v in by_shape.items() if k[0] == "convolution"]
    for (kind, prop, shape), (calls, ms) in sorted(convs, key=lambda kv: -kv[1][1])[:args.top]:
        gflops = conv_flops(shape) * calls / (ms * 1e-3) / 1e9
        print(f"{ms:8.1f} {calls:5d} {gflops:8.1f}  {prop} {shape}")


if __name__ == "__main__":
    main()
