"""The run configuration the BiT benchmarks share: bit_bench (as C++ flags of the same names),
bit_bench_torch.py and compare.py, which passes it through to both. No torch import, so that
compare.py stays a plain driver."""
import os

# The flags compare.py hands to both benchmarks, in this order.
CONFIG_FLAGS = ("model", "mode", "batch", "res", "steps", "threads", "dtype")


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


def config_args(args):
    """The shared flags of parsed `args` as command-line arguments."""
    return [f"--{name}={getattr(args, name)}" for name in CONFIG_FLAGS]
