"""The run configuration the BiT benchmarks share: bit_bench (as C++ flags of the same names),
bit_bench_torch.py and compare.py, which passes it through to both. No torch import, so that
compare.py stays a plain driver."""
import os

# The flags compare.py hands to both benchmarks, in this order.
CONFIG_FLAGS = ("model", "mode", "batch", "res", "steps", "threads", "dtype", "head",
                "base_width", "num_groups")


def add_config_flags(parser, steps, steps_help=None):
    """Adds the shared flags to an argparse parser; `steps` is the default of --steps."""
    parser.add_argument("--model", default="BiT-R50x1")
    parser.add_argument("--mode", choices=["train", "infer"], default="train")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--res", type=int, default=128)
    parser.add_argument("--steps", type=int, default=steps, help=steps_help)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--dtype", choices=["fp32", "bf16"], default="fp32",
                        help="bf16: autocast of the convolutions to bfloat16 (bitgrad) or of the "
                             "model (PyTorch), weights float32")
    parser.add_argument("--head", type=int, default=1000, help="classes of the head")
    parser.add_argument("--base_width", type=int, default=0,
                        help="root width before the width factor (0: the official 64); 8 with "
                             "--num_groups=4 is bit_finetune's default experiment")
    parser.add_argument("--num_groups", type=int, default=0,
                        help="GroupNorm groups (0: the official 32)")


def config_args(args):
    """The shared flags of parsed `args` as command-line arguments."""
    return [f"--{name}={getattr(args, name)}" for name in CONFIG_FLAGS]
