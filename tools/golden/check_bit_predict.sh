#!/bin/sh
# The issue's "done when" check on a full-size model, by hand (92 MB of weights and torch, so not
# a bazel test). From the repository root:
#
#   tools/golden/check_bit_predict.sh [OUTDIR]      (default /tmp/bitgrad_r50x1)
#
# 1. gen_fixtures.py --r50x1 writes a random R50x1 (official .npz layout, 10-way head), a
#    (2, 3, 128, 128) input batch and the logits of the independent PyTorch BiT (float64).
# 2. bit_predict runs that .npz on that batch; the logits must match to relative error < 1e-4,
#    measured against the logits' scale: max |bitgrad - torch| / max |torch|. (Per element,
#    |bitgrad - torch| / |torch| blows up for logits near 0: PyTorch's own float32 forward of
#    the same model is 5e-4 off the float64 reference that way. The script prints both, and
#    PyTorch float32's errors for comparison.)
# 3. npz -> bitgrad -> npz must give back every array bit for bit, in the same order, directly
#    and through a native checkpoint; bit_predict on that checkpoint must give the same logits
#    bit for bit.
set -eu
OUT=${1:-/tmp/bitgrad_r50x1}
PYTHON=/usr/bin/python3

if [ ! -f "$OUT/bit_r50x1_logits.npy" ]; then
  "$PYTHON" tools/golden/gen_fixtures.py --r50x1 "$OUT"
fi
bazel build //examples:bit_predict //tools/golden:bit_npz_roundtrip
BIN=$(bazel info bazel-bin 2>/dev/null)

"$BIN/examples/bit_predict" --weights="$OUT/bit_r50x1.npz" --input="$OUT/bit_r50x1_x.npy" \
  --output="$OUT/logits_bitgrad.npy" --top_k=3
"$BIN/tools/golden/bit_npz_roundtrip" --input="$OUT/bit_r50x1.npz" --output="$OUT/roundtrip.npz"
"$BIN/tools/golden/bit_npz_roundtrip" --input="$OUT/bit_r50x1.npz" \
  --output="$OUT/roundtrip_ckpt.npz" --via_checkpoint="$OUT/roundtrip.ckpt"
"$BIN/examples/bit_predict" --weights="$OUT/roundtrip.ckpt" --input="$OUT/bit_r50x1_x.npy" \
  --output="$OUT/logits_checkpoint.npy" --top_k=0

"$PYTHON" - "$OUT" <<'PY'
import os
import sys

import numpy as np

out = sys.argv[1]
failures = []

torch_logits = np.load(os.path.join(out, "bit_r50x1_logits.npy"))
ours = np.load(os.path.join(out, "logits_bitgrad.npy"))
assert ours.shape == torch_logits.shape and ours.dtype == np.float32, (ours.shape, ours.dtype)


def errors(logits):
    diff = np.abs(logits.astype(np.float64) - torch_logits)
    return (float(diff.max() / np.abs(torch_logits).max()), float(diff.max()),
            float((diff / np.abs(torch_logits)).max()))


def report(who, logits):
    scaled, absolute, elementwise = errors(logits)
    print(f"{who}: relative error {scaled:.3e} (max |diff| / max |logit|); "
          f"max |diff| {absolute:.3e}; per element up to {elementwise:.3e}")
    return scaled


# PyTorch's own float32 forward, for scale: what float32 arithmetic costs on this model.
sys.path.insert(0, os.path.join("tools", "golden"))
import torch  # noqa: E402
from bit_torch import BitModel  # noqa: E402
model32 = BitModel.load_npz(os.path.join(out, "bit_r50x1.npz"), 64, 32, torch.float32)
with torch.no_grad():
    torch32 = model32(torch.from_numpy(np.load(os.path.join(out, "bit_r50x1_x.npy")))).numpy()
report("PyTorch float32 vs float64 reference", torch32)
if not report(f"bitgrad logits {ours.shape} vs float64 reference", ours) < 1e-4:
    failures.append("logits: relative error not below 1e-4")

from_checkpoint = np.load(os.path.join(out, "logits_checkpoint.npy"))
same = from_checkpoint.tobytes() == ours.tobytes()
print(f"logits through a checkpoint: {'bit-identical' if same else 'DIFFERENT'}")
if not same:
    failures.append("checkpoint logits differ")

original = np.load(os.path.join(out, "bit_r50x1.npz"))
for name in ("roundtrip.npz", "roundtrip_ckpt.npz"):
    again = np.load(os.path.join(out, name))
    keys_same = list(original.keys()) == list(again.keys())
    differing = [k for k in original.keys()
                 if k not in again or again[k].dtype != original[k].dtype
                 or again[k].shape != original[k].shape
                 or again[k].tobytes() != original[k].tobytes()]
    print(f"npz -> bitgrad -> {name}: {len(original.keys())} arrays, key order "
          f"{'same' if keys_same else 'DIFFERENT'}, {len(differing)} array(s) differ")
    if not keys_same or differing:
        failures.append(f"{name}: not lossless ({differing[:3]})")

print("PASS" if not failures else "FAIL: " + "; ".join(failures))
sys.exit(1 if failures else 0)
PY
