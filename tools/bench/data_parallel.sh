#!/usr/bin/env bash
# Data parallelism on this machine (docs/scale_out.md, docs/performance.md): BiT-R50x1 training
# at 128 px, batch 16, as 1 process of 2 threads against 2 processes of 1 thread under mpirun,
# with buckets of 5, 25 (the default) and 100 MiB, and one bucket for all (no overlap);
# BUCKETS="25" picks others.
#
#   bazel build -c opt //examples:bit_finetune && tools/bench/data_parallel.sh [STEPS]
#
# Prints images/s of each run and the all-reduce line (time in all-reduce, and how much of it
# backward hid). MPIRUN_ARGS adds mpirun arguments ("--mca mpi_yield_when_idle 1"). The data: 256 random 64x64 images in a keras-style .npz, upscaled to 128 px by
# BiT's train path, so the loader does real work.
set -euo pipefail
cd "$(dirname "$0")/../.."
steps="${1:-20}"
binary=bazel-bin/examples/bit_finetune
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
run() {  # LOG COMMAND...: a failing run shows its log (the trap then removes it)
  local log="$1"
  shift
  if ! "$@" >"$log" 2>&1; then
    echo "failed: $*" >&2
    tail -20 "$log" >&2
    exit 1
  fi
}
/usr/bin/python3 - "$work/data.npz" <<'PY'
import sys
import numpy as np
r = np.random.default_rng(0)
np.savez(sys.argv[1], x_train=r.integers(0, 256, (256, 64, 64, 3), dtype=np.uint8),
         y_train=r.integers(0, 10, 256, dtype=np.uint8),
         x_test=r.integers(0, 256, (16, 64, 64, 3), dtype=np.uint8),
         y_test=r.integers(0, 10, 16, dtype=np.uint8))
PY
flags=(--weights=random --model=R50x1 "--dataset=npz:$work/data.npz" --resolution=128 --batch=16
       "--steps=$steps" --schedule=constant --base_lr=0.001 --mixup_alpha=0 --workers=1
       --eval_batch=16)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

report() {  # NAME LOG
  local images all_reduce
  images="$(grep -o '[0-9.]* images/s' "$2" | tail -1 || true)"
  all_reduce="$(grep '^all-reduce:' "$2" | sed 's/^all-reduce: //' || true)"
  printf '%-40s %-16s %s\n' "$1" "$images" "${all_reduce:--}"
}

cpu="$(grep -m1 "model name" /proc/cpuinfo | cut -d: -f2 | sed "s/^ //")"
echo "$cpu, $(nproc) cores; $steps updates"
run "$work/one.log" env OMP_NUM_THREADS=2 "$binary" "${flags[@]}" "--out=$work/one"
report "1 process x 2 threads" "$work/one.log"
for bucket in ${BUCKETS:-5 25 100 1000}; do
  run "$work/two-$bucket.log" mpirun -np 2 -x OMP_NUM_THREADS=1 ${MPIRUN_ARGS:-} "$binary" \
    "${flags[@]}" "--bucket_mb=$bucket" "--out=$work/two-$bucket"
  report "2 processes x 1 thread, ${bucket} MiB buckets" "$work/two-$bucket.log"
done
