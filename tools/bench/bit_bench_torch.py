#!/usr/bin/python3
"""PyTorch baseline for //tools/bench:bit_bench: the same BiT model, mode, batch and resolution,
timed the same way (median step time after warm-up), on Debian's python3-torch (1.13, CPU, the
same oneDNN 2.6.3) or any other PyTorch (compare.py's --torch_python). The model is
tools/golden/bit_torch.py, written from docs/bit.md.

  /usr/bin/python3 tools/bench/bit_bench_torch.py --model=BiT-R50x1 --mode=train --batch=16 --res=128

--memory_format=channels_last is PyTorch's own recipe for NHWC: the input and the 4-D weights are
converted once, and the convolutions then produce channels_last activations.

--device=cuda runs it on the GPU (tools/gpu/check.sh), with TF32 for the convolutions and the
matrix products as bitgrad has it; --dtype=bf16 adds autocast to bfloat16 (on the CPU too, where
bitgrad has no bf16 path: a reference point for CPUs with AMX).

Prints a progress line per step and, last, one JSON object like bit_bench's.
"""
import argparse
import contextlib
import json
import os
import re
import resource
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "golden"))
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import bit_torch  # noqa: E402
from bench_config import add_config_flags  # noqa: E402

MEMORY_FORMATS = {"contiguous": torch.contiguous_format, "channels_last": torch.channels_last}


def parse_model(name):
    match = re.fullmatch(r"(?:BiT-[SM]-)?(?:BiT-)?R(50|101|152)x([1-4])", name)
    if not match:
        raise SystemExit(f"--model: expected a name like BiT-R50x1 or BiT-M-R101x3, got {name}")
    return int(match.group(1)), int(match.group(2))


def model_config(args):
    """The bit_torch.BitConfig of the shared flags (bench_config.py): --model, --head, and
    --base_width and --num_groups where they are set."""
    depth, width = parse_model(args.model)
    sizes = {"base_width": args.base_width, "num_groups": args.num_groups}
    return bit_torch.BitConfig(depth=depth, width_factor=width, head_size=args.head,
                               **{name: value for name, value in sizes.items() if value > 0})


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_config_flags(parser, steps=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--memory_format", choices=sorted(MEMORY_FORMATS), default="contiguous",
                        help="layout of the input and the kernels")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--profile", action="store_true",
                        help="print PyTorch's per-op time over the timed steps")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.backends.cuda.matmul.allow_tf32 = True  # bitgrad's default for float32 on the GPU
    torch.backends.cudnn.allow_tf32 = True
    torch.backends.cudnn.benchmark = True  # algorithms chosen once per shape, as bitgrad does
    torch.manual_seed(0)
    cfg = model_config(args)
    model = bit_torch.BitModel.random(cfg, seed=0)
    x = (torch.rand(args.batch, 3, args.res, args.res) * 2 - 1).to(device)
    memory_format = MEMORY_FORMATS[args.memory_format]
    x = x.contiguous(memory_format=memory_format)
    for key, value in model.params.items():
        value = value.to(device)
        model.params[key] = value.contiguous(memory_format=memory_format) if value.dim() == 4 else value
    y = torch.randint(0, args.head, (args.batch,)).to(device)
    autocast = (torch.autocast(args.device, dtype=torch.bfloat16) if args.dtype == "bf16"
                else contextlib.nullcontext())

    if args.mode == "train":
        params = model.requires_grad_(True).parameters()
        optimizer = torch.optim.SGD(params, lr=0.003, momentum=0.9)

        def step():
            with autocast:
                loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    else:
        def step():
            with torch.no_grad(), autocast:
                model(x)

    times = []
    faults_before_timed_steps = 0
    profiler = torch.autograd.profiler.profile(enabled=args.profile)
    for i in range(args.warmup + args.steps):
        if i == args.warmup:
            faults_before_timed_steps = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            profiler.__enter__()
        start = time.perf_counter()
        step()
        if args.device == "cuda":
            torch.cuda.synchronize()
        elapsed = time.perf_counter() - start
        if i >= args.warmup:
            times.append(elapsed)
        print(f"step {i + 1}/{args.warmup + args.steps}{' (warm-up)' if i < args.warmup else ''}: "
              f"{elapsed * 1000:.0f} ms, {args.batch / elapsed:.2f} img/s", file=sys.stderr)

    profiler.__exit__(None, None, None)
    if args.profile:
        print(f"per-op self time over {args.steps} timed steps:", file=sys.stderr)
        print(profiler.key_averages().table(sort_by="self_cpu_time_total", row_limit=20),
              file=sys.stderr)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    median = statistics.median(times)
    # Multiply-adds of the convolutions and the head, times 2 (forward) and 3x for training.
    flops = bit_torch_flops(cfg, args.res) * args.batch * (3 if args.mode == "train" else 1)
    print(json.dumps({
        "framework": "pytorch " + torch.__version__, "model": args.model, "mode": args.mode,
        "batch": args.batch, "res": args.res, "threads": args.threads,
        "memory_format": args.memory_format, "device": args.device, "dtype": args.dtype,
        "img_per_s": round(args.batch / median, 3), "step_ms": round(median * 1000, 2),
        "gflops": round(flops / median / 1e9, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "page_faults_per_step": round((usage.ru_minflt - faults_before_timed_steps) / args.steps)}))


def bit_torch_flops(cfg, res):
    """Forward FLOPs of one image: 2 * multiply-adds of every conv and the head."""
    side = (res + 2 * 3 - 7) // 2 + 1           # root conv 7x7/s2/p3
    total = 2 * side * side * 7 * 7 * 3 * cfg.root_channels
    side = (side + 2 - 3) // 2 + 1             # zero pad 1, max-pool 3x3/s2
    for _, n_units, cin, cmid, cout, stride in cfg.stages():
        for u in range(n_units):
            s = stride if u == 0 else 1
            out_side = (side - 1) // s + 1
            total += 2 * side * side * cin * cmid                       # conv1 1x1
            total += 2 * out_side * out_side * cmid * cmid * 9          # conv2 3x3 (strided)
            total += 2 * out_side * out_side * cmid * cout              # conv3 1x1
            if u == 0:
                total += 2 * out_side * out_side * cin * cout           # projection
            cin, side = cout, out_side
    return total + 2 * cfg.feature_channels * cfg.head_size


if __name__ == "__main__":
    main()
