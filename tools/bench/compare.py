#!/usr/bin/python3
"""bitgrad against PyTorch in the same run: the ratio the performance targets are stated in.

Runs //tools/bench:bit_bench and bit_bench_torch.py on the same configuration, alternating
between the two for --rounds rounds so that a burst of load on a shared machine hits both, and
compares the medians of their per-round medians.

  bazel build -c opt //tools/bench:bit_bench
  /usr/bin/python3 tools/bench/compare.py --mode=train --batch=16 --res=128 --rounds=3

Prints a line per run, a summary table, and last one JSON object with both results and the
ratios (img/s bitgrad / PyTorch; peak RSS bitgrad / PyTorch).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

from bench_config import add_config_flags, config_args

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))


def run(command):
    """Runs one benchmark and returns the JSON object of its last line."""
    done = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    lines = done.stdout.strip().splitlines()
    if not lines:
        raise SystemExit(f"{' '.join(command)} printed no result line:\n{done.stderr[-2000:]}")
    return json.loads(lines[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_config_flags(parser, steps=6, steps_help="timed steps per run")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each framework")
    parser.add_argument("--bit_bench", default=os.path.join(ROOT, "bazel-bin/tools/bench/bit_bench"),
                        help="the bit_bench binary (bazel build -c opt //tools/bench:bit_bench)")
    args = parser.parse_args()
    if not os.access(args.bit_bench, os.X_OK):
        raise SystemExit(f"--bit_bench: {args.bit_bench} is not an executable; build it with "
                         "bazel build -c opt //tools/bench:bit_bench")

    shared = config_args(args)
    commands = {
        "bitgrad": [args.bit_bench] + shared,
        "pytorch": [sys.executable, os.path.join(HERE, "bit_bench_torch.py")] + shared,
    }
    results = {name: [] for name in commands}
    for round_index in range(args.rounds):
        # The order flips every round, so that neither framework always runs first.
        order = list(commands.items())
        for name, command in order if round_index % 2 == 0 else reversed(order):
            result = run(command)
            results[name].append(result)
            print(f"round {round_index + 1}/{args.rounds} {name:8s} {result['img_per_s']:7.2f} img/s"
                  f" {result['gflops']:6.1f} GFLOP/s {result['peak_rss_mb']:7.1f} MB", flush=True)

    summary = {}
    for name, runs in results.items():
        summary[name] = {
            "img_per_s": round(statistics.median(r["img_per_s"] for r in runs), 3),
            "img_per_s_all": [r["img_per_s"] for r in runs],
            "gflops": round(statistics.median(r["gflops"] for r in runs), 2),
            "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
        }
    speed = summary["bitgrad"]["img_per_s"] / summary["pytorch"]["img_per_s"]
    # Each round runs the two back to back, so a slow phase of the machine that lasts a round
    # hits both; the median of the rounds' own ratios is the steadier figure.
    round_ratios = [b["img_per_s"] / p["img_per_s"]
                    for b, p in zip(results["bitgrad"], results["pytorch"])]
    paired = statistics.median(round_ratios)
    memory = summary["bitgrad"]["peak_rss_mb"] / summary["pytorch"]["peak_rss_mb"]
    print(f"\n{args.model} {args.mode}, batch {args.batch} at {args.res}x{args.res}, "
          f"{args.threads} threads, median of {args.rounds} runs of {args.steps} steps")
    for name, s in summary.items():
        print(f"  {name:8s} {s['img_per_s']:7.2f} img/s {s['gflops']:6.1f} GFLOP/s "
              f"peak RSS {s['peak_rss_mb']:7.1f} MB")
    print(f"  speed ratio bitgrad/pytorch {speed:.2f}x (median of the rounds' ratios "
          f"{paired:.2f}x: {', '.join(f'{r:.2f}' for r in round_ratios)}), "
          f"memory ratio {memory:.2f}")
    print(json.dumps({"model": args.model, "mode": args.mode, "batch": args.batch,
                      "res": args.res, "threads": args.threads, "results": summary,
                      "speed_ratio": round(speed, 3), "paired_speed_ratio": round(paired, 3),
                      "round_ratios": [round(r, 3) for r in round_ratios],
                      "memory_ratio": round(memory, 3)}))


if __name__ == "__main__":
    main()
