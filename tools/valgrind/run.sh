#!/usr/bin/env bash
# Runs tests under valgrind memcheck (bazel's --run_under), which finds what the sanitizers do
# not: reads of uninitialised memory. Any report fails its test. Default: every CPU test that
# runs in one process (the ones that start bit_finetune or mpirun children are left out; for
# them, run the binary with valgrind --trace-children=yes by hand).
#
#   tools/valgrind/run.sh [bazel flags...] [bazel test targets...]
#
# DNNL_MAX_CPU_ISA=AVX2: valgrind cannot execute AVX-512 or AMX. BITGRAD_CPU_CACHE=0: the
# caching allocator would hand out stale, defined bytes. One OpenMP thread: valgrind runs one
# thread at a time anyway. tools/valgrind/suppressions.txt names the reports from inside oneDNN
# and glibc; it is not an input of the tests, so after editing it pass --nocache_test_results.
# Environment: VALGRIND_OUTPUT_BASE (default: Bazel's own).
set -euo pipefail
cd "$(dirname "$0")/../.."

flags=() targets=()
for arg in "$@"; do
  if [[ $arg == --* ]]; then flags+=("$arg"); else targets+=("$arg"); fi
done
if ((${#targets[@]} == 0)); then
  targets=(//tests/... //examples/... -//tests/train:bad_input_test -//tests/train:kill_test
           -//tests/train:resume_test -//tests/dist:data_parallel_test
           -//tests/dist:mpi_collectives_test)
fi
valgrind="valgrind --error-exitcode=9 --track-origins=yes --num-callers=30 -q --leak-check=no"
# oneDNN's pooling JIT code makes blocks too big for VEX's default superblocks.
valgrind+=" --vex-guest-max-insns=25 --suppressions=$PWD/tools/valgrind/suppressions.txt"
bazel ${VALGRIND_OUTPUT_BASE:+--output_base="$VALGRIND_OUTPUT_BASE"} test \
  --test_tag_filters=-gpu,-isa_cap --run_under="$valgrind" --test_timeout=1800 \
  --test_env=DNNL_MAX_CPU_ISA=AVX2 --test_env=BITGRAD_CPU_CACHE=0 --test_env=OMP_NUM_THREADS=1 \
  "${flags[@]}" -- "${targets[@]}"
