#!/usr/bin/env bash
# Builds one libFuzzer target of tests/fuzz and fuzzes it for SECONDS, starting from its committed
# seed corpus. New inputs go to a scratch corpus, so the committed one stays small; a crash leaves
# its input in the current directory (crash-*, leak-*, timeout-*) and fails the script.
#
#   tools/fuzz/run.sh NAME SECONDS [libFuzzer flags...]     NAME: npy, npz, idx, cifar, image,
#                                                           checkpoint, run_config, labels
#   tools/fuzz/run.sh all SECONDS                           each target in turn
#
# The fuzz build (clang, ASan, UBSan) has its own Bazel output base, so it never replaces the normal
# build's objects. Environment: FUZZ_OUTPUT_BASE, FUZZ_WORK (the scratch corpora).
set -euo pipefail
invoked_from=$PWD
cd "$(dirname "$0")/../.."

TARGETS=(npy npz idx cifar image checkpoint run_config labels)
if (($# < 2)); then
  sed -n '2,11p' "$0" >&2
  exit 2
fi
name=$1
seconds=$2
shift 2
if [[ $name == all ]]; then
  names=("${TARGETS[@]}")
else
  [[ " ${TARGETS[*]} " == *" $name "* ]] || { echo "run.sh: unknown target '$name'; expected one of: ${TARGETS[*]} or all" >&2; exit 2; }
  names=("$name")
fi

output_base=${FUZZ_OUTPUT_BASE:-$HOME/.cache/bitgrad-fuzz-bazel}
work=${FUZZ_WORK:-${TMPDIR:-/tmp}/bitgrad-fuzz}
labels=()
for target in "${names[@]}"; do labels+=("//tests/fuzz:${target}_fuzzer"); done
bazel --output_base="$output_base" build --config=fuzz "${labels[@]}"
bazel_bin=$(bazel --output_base="$output_base" info --config=fuzz bazel-bin 2>/dev/null)

for target in "${names[@]}"; do
  binary=$bazel_bin/tests/fuzz/${target}_fuzzer
  [[ -x $binary ]] || { echo "run.sh: $binary was not built" >&2; exit 1; }
  mkdir -p "$work/$target"
  echo "=== $target: fuzzing for ${seconds}s (scratch corpus $work/$target)"
  # -rss_limit_mb: a crafted size that gets past the readers' limits shows up as a failure.
  ASAN_OPTIONS=detect_leaks=1 BITGRAD_CPU_CACHE=0 "$binary" "$work/$target" \
    "tests/fuzz/corpus/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$invoked_from/" "$@"
done
