#!/usr/bin/env bash
# Runs tests under ThreadSanitizer (`--config=tsan` in .bazelrc), in an output base of its own so
# the normal build's objects stay. Default: the tests of the code that runs threads of its own
# and of everything that drives it (the loader's workers beside training, the decoded-image
# cache, the gradient reducer's all-reduce thread under mpirun, SIGKILL and resume).
#
#   tools/tsan/run.sh [bazel test targets...]
#
# Any report fails its test (halt_on_error). tools/tsan/suppressions.txt names the reports that
# come from inside Open MPI, none from bitgrad. Environment: TSAN_OUTPUT_BASE.
set -euo pipefail
cd "$(dirname "$0")/../.."

output_base=${TSAN_OUTPUT_BASE:-$HOME/.cache/bitgrad-tsan-bazel}
targets=("$@")
if ((${#targets[@]} == 0)); then
  targets=(//tests/core/... //tests/io/... //tests/data/... //tests/dist/... //tests/train/...)
fi
options=halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/tools/tsan/suppressions.txt
bazel --output_base="$output_base" test --config=tsan --test_tag_filters=-gpu,-no_tsan \
  --test_env=TSAN_OPTIONS="$options" -- "${targets[@]}"
