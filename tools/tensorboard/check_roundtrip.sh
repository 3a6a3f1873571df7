#!/bin/sh
# Writes example scalars with bitgrad's TensorBoardWriter, reads them back with the real
# tensorboard package and compares: prints PASS if every (tag, step, value) matches. From the
# repository root:
#
#   tools/tensorboard/check_roundtrip.sh [VENV]     (default /work/.venv-tb, with tensorboard)
set -eu
PYTHON=${1:-/work/.venv-tb}/bin/python
OUT=$(mktemp -d /tmp/bitgrad_tb.XXXXXX)

bazel build //tools/tensorboard:write_example_events
"$(bazel info bazel-bin 2>/dev/null)/tools/tensorboard/write_example_events" "$OUT" \
  > "$OUT.written"
"$PYTHON" tools/tensorboard/read_events.py "$OUT" > "$OUT.read"
if diff "$OUT.written" "$OUT.read"; then
  echo "PASS: tensorboard read back all $(wc -l < "$OUT.read") scalars from $OUT"
else
  echo "FAIL: written (<) and read by tensorboard (>) differ; files in $OUT*"
  exit 1
fi
