#!/usr/bin/python3
"""bitgrad against what users would pick instead, in the same run: the ratios the performance
targets are stated in.

Runs //tools/bench:bit_bench and the baselines on the same configuration, all of them once per
round for --rounds rounds, so that a burst of load on a shared machine hits all, and compares the
medians of their per-round results. The baselines:
  pytorch:  bit_bench_torch.py under every interpreter of --torch_python (say Debian's PyTorch
            1.13 and a pip-installed 2.x), each in every --memory_formats;
  onnx:     with --onnx_python (--mode=infer only), bit_bench_onnx.py on ONNX Runtime and on
            OpenVINO (each --openvino_hints), the same model exported to ONNX.
bitgrad is reported against the fastest baseline of each group (by median img/s).

  bazel build -c opt //tools/bench:bit_bench
  /usr/bin/python3 tools/bench/compare.py --mode=train --batch=16 --res=128 --rounds=3 \
      --torch_python=/usr/bin/python3,/work/.venv-bench/bin/python
  /usr/bin/python3 tools/bench/compare.py --mode=infer --batch=32 --res=128 --rounds=3 \
      --torch_python=/usr/bin/python3,/work/.venv-bench/bin/python \
      --onnx_python=/work/.venv-bench/bin/python
  /usr/bin/python3 tools/bench/compare.py --mode=infer --batch=32 --res=128 --rounds=3 \
      --dtype=bf16 --torch_python=/work/.venv-bench/bin/python

Prints a line per run, a summary table, and last one JSON object with every result and, per
group, the ratios against its fastest baseline (img/s bitgrad / baseline; peak RSS bitgrad /
baseline). The top-level ratios are against the fastest PyTorch.
"""
import argparse
import collections
import json
import os
import statistics
import subprocess
import sys

from bench_config import add_config_flags, config_args

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))

# A contestant: its name, its group ("bitgrad" or a baseline group) and its command line.
Contestant = collections.namedtuple("Contestant", "name group command")


def run(command):
    """Runs one benchmark and returns the JSON object of its last line."""
    done = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    lines = done.stdout.strip().splitlines()
    if not lines:
        raise SystemExit(f"{' '.join(command)} printed no result line:\n{done.stderr[-2000:]}")
    return json.loads(lines[-1])


def module_versions(python, modules):
    """The __version__ of each of `modules` under the interpreter `python`; fails early, with a
    readable message, where one is missing."""
    code = "import sys, importlib; print(*(importlib.import_module(m).__version__ for m in " \
           "sys.argv[1:]))"
    try:
        done = subprocess.run([python, "-c", code] + modules, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    except OSError as error:
        raise SystemExit(f"{python}: {error}")
    if done.returncode != 0:
        raise SystemExit(f"{python} cannot import {', '.join(modules)} (tools/bench/make_venv.sh "
                         f"makes a venv that can):\n{done.stderr[-1000:]}")
    return done.stdout.split()


def contestants(args):
    """bitgrad first, then the baselines the flags ask for."""
    shared = config_args(args)
    result = [Contestant("bitgrad", "bitgrad", [args.bit_bench] + shared)]
    for python in args.torch_python.split(","):
        (version,) = module_versions(python, ["torch"])
        for memory_format in args.memory_formats.split(","):
            result.append(Contestant(
                f"pytorch {version} {memory_format}", "pytorch",
                [python, os.path.join(HERE, "bit_bench_torch.py"), *shared,
                 f"--memory_format={memory_format}"]))
    if args.onnx_python:
        ort_version, ov_version = module_versions(args.onnx_python, ["onnxruntime", "openvino"])
        onnx_bench = [args.onnx_python, os.path.join(HERE, "bit_bench_onnx.py"), *shared]
        result.append(Contestant(f"onnxruntime {ort_version}", "onnx",
                                 onnx_bench + ["--runtime=onnxruntime"]))
        for hint in args.openvino_hints.split(","):
            result.append(Contestant(f"openvino {ov_version.split('-')[0]} {hint.lower()}",
                                     "onnx", onnx_bench + ["--runtime=openvino",
                                                           f"--openvino_hint={hint}"]))
    names = [c.name for c in result]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise SystemExit(f"two baselines would both be called {duplicates[0]}: give each "
                         "interpreter a different PyTorch")
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_config_flags(parser, steps=6, steps_help="timed steps per run")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each contestant")
    parser.add_argument("--bit_bench", default=os.path.join(ROOT, "bazel-bin/tools/bench/bit_bench"),
                        help="the bit_bench binary (bazel build -c opt //tools/bench:bit_bench)")
    parser.add_argument("--torch_python", default=sys.executable,
                        help="comma-separated Python interpreters to run PyTorch with, one "
                             "baseline each per memory format")
    parser.add_argument("--memory_formats", default="contiguous,channels_last",
                        help="comma-separated PyTorch memory formats (bit_bench_torch.py)")
    parser.add_argument("--onnx_python",
                        help="a Python with torch, onnx, onnxruntime and openvino: adds ONNX "
                             "Runtime and OpenVINO (--mode=infer only)")
    parser.add_argument("--openvino_hints", default="LATENCY,THROUGHPUT",
                        help="comma-separated OpenVINO PERFORMANCE_HINTs, one baseline each "
                             "(LATENCY, THROUGHPUT)")
    args = parser.parse_args()
    if not os.access(args.bit_bench, os.X_OK):
        raise SystemExit(f"--bit_bench: {args.bit_bench} is not an executable; build it with "
                         "bazel build -c opt //tools/bench:bit_bench")
    if args.onnx_python and args.mode != "infer":
        raise SystemExit("--onnx_python: ONNX Runtime and OpenVINO are inference baselines; "
                         "use --mode=infer")
    if args.onnx_python and args.dtype != "fp32":
        raise SystemExit("--onnx_python: ONNX Runtime and OpenVINO run the float32 model here; "
                         "use --dtype=fp32")

    entrants = contestants(args)
    width = max(len(c.name) for c in entrants)
    results = {c.name: [] for c in entrants}
    for round_index in range(args.rounds):
        # The order flips every round, so that no contestant always runs first or last.
        for c in entrants if round_index % 2 == 0 else reversed(entrants):
            result = run(c.command)
            results[c.name].append(result)
            check = (f", max abs diff {result['max_abs_diff']:.2g}"
                     if "max_abs_diff" in result else "")  # the ONNX runtimes against PyTorch
            print(f"round {round_index + 1}/{args.rounds} {c.name:{width}s} "
                  f"{result['img_per_s']:7.2f} img/s {result['gflops']:6.1f} GFLOP/s "
                  f"{result['peak_rss_mb']:7.1f} MB{check}", flush=True)

    summary = {}
    for name, runs in results.items():
        summary[name] = {
            "img_per_s": round(statistics.median(r["img_per_s"] for r in runs), 3),
            "img_per_s_all": [r["img_per_s"] for r in runs],
            "gflops": round(statistics.median(r["gflops"] for r in runs), 2),
            "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
        }

    narrowed = ", ".join(f"{name} {value}" for name, value in (
        ("base width", args.base_width), ("groups", args.num_groups)) if value > 0)
    model = f"{args.model} ({narrowed}, head {args.head})" if narrowed else args.model
    print(f"\n{model} {args.mode} in {args.dtype}, batch {args.batch} at "
          f"{args.res}x{args.res}, {args.threads} threads, median of {args.rounds} runs of "
          f"{args.steps} steps")
    kernels = results["bitgrad"][0].get("kernels", "not reported")
    print(f"  bitgrad's kernels: {kernels}")
    bitgrad = summary["bitgrad"]
    for name, s in summary.items():
        ratio = ("" if name == "bitgrad" else
                 f"  bitgrad/this {bitgrad['img_per_s'] / s['img_per_s']:.2f}x")
        print(f"  {name:{width}s} {s['img_per_s']:7.2f} img/s {s['gflops']:6.1f} GFLOP/s "
              f"peak RSS {s['peak_rss_mb']:7.1f} MB{ratio}")

    against = {}
    for group in dict.fromkeys(c.group for c in entrants if c.group != "bitgrad"):
        fastest = max((c.name for c in entrants if c.group == group),
                      key=lambda name: summary[name]["img_per_s"])
        speed = bitgrad["img_per_s"] / summary[fastest]["img_per_s"]
        # Each round runs all back to back, so a slow phase of the machine that lasts a round
        # hits all; the median of the rounds' own ratios is the steadier figure.
        round_ratios = [b["img_per_s"] / p["img_per_s"]
                        for b, p in zip(results["bitgrad"], results[fastest])]
        paired = statistics.median(round_ratios)
        memory = bitgrad["peak_rss_mb"] / summary[fastest]["peak_rss_mb"]
        print(f"  speed ratio bitgrad/fastest {group} ({fastest}) {speed:.2f}x (median of the "
              f"rounds' ratios {paired:.2f}x: {', '.join(f'{r:.2f}' for r in round_ratios)}), "
              f"memory ratio {memory:.2f}")
        against[group] = {"fastest": fastest, "speed_ratio": round(speed, 3),
                          "paired_speed_ratio": round(paired, 3),
                          "round_ratios": [round(r, 3) for r in round_ratios],
                          "memory_ratio": round(memory, 3)}
    print(json.dumps({"model": args.model, "head": args.head, "base_width": args.base_width,
                      "num_groups": args.num_groups, "mode": args.mode, "batch": args.batch,
                      "res": args.res, "threads": args.threads, "dtype": args.dtype,
                      "kernels": kernels,
                      "results": summary,
                      **{k: v for k, v in against["pytorch"].items() if k != "fastest"},
                      "against": against}))


if __name__ == "__main__":
    main()
