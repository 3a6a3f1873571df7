#!/usr/bin/env bash
# The GPU check (issue 14), run on a GPU machine that has no Bazel: every GPU test, then BiT-R50x1
# at 128 px, batch 128, training and inference, in bitgrad (fp32/TF32, TF32 off, bf16 autocast)
# and in PyTorch (which that machine has), then the hand-written kernels' tests again under
# compute-sanitizer's memcheck, and one table. Built and packed here by tools/gpu/bundle.sh; one run takes under 8 minutes.
#
#   tools/gpu/check.sh [BUNDLE_DIR]     (default .gpu_bundle, holding bundle.tar.xz)
#
# Without a GPU it still runs end to end (the tests skip, the benchmarks say why they cannot
# run): that is the dry run to do here before spending GPU time. Exit status: 0 when no test
# failed. CHECK_STEPS (default 20) sets the timed steps of each benchmark.
set -uo pipefail
cd "$(dirname "$0")/../.."
bundle="${1:-.gpu_bundle}/bundle.tar.xz"
steps="${CHECK_STEPS:-20}"
work="${TMPDIR:-/tmp}/bitgrad_gpu_check"
rm -rf "$work" && mkdir -p "$work/tmp"
tar -C "$work" -xJf "$bundle" || { echo "check.sh: cannot unpack $bundle (run tools/gpu/bundle.sh)"; exit 2; }

# CUDA's libraries from that machine: the toolkit's, and the pip wheels' (cuDNN comes with PyTorch).
cuda_dirs=(/usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib)
python="${CHECK_PYTHON:-$(command -v python3 || echo /usr/bin/python3)}"  # the one with PyTorch
site="$("$python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])' 2>/dev/null)"
for dir in "$site"/nvidia/*/lib; do [[ -d $dir ]] && cuda_dirs+=("$dir"); done
export LD_LIBRARY_PATH="$work/lib:$(IFS=:; echo "${cuda_dirs[*]}")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

echo "== machine"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 | head -2
echo "bitgrad $(git rev-parse --short HEAD 2>/dev/null || echo '?'), python $("$python" -c 'import torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available())' 2>&1 | tail -1)"

# The tests' working directory, laid out as under Bazel: the fixtures (tests/) from this
# checkout, the binaries tests start (examples/bit_finetune) from the bundle.
root="$work/root"
mkdir -p "$root/examples"
ln -s "$PWD/tests" "$root/tests"
ln -s "$work/bin/bit_finetune" "$root/examples/bit_finetune"

echo "== tests"
failed=0
summary=()
for test in "$work"/bin/*_test; do
  name="$(basename "$test")"
  log="$work/$name.log"
  (cd "$root" && TEST_TMPDIR="$work/tmp" timeout 300 "$test" > "$log" 2>&1)
  status=$?
  # One line per test case ends in its time, "(12 ms)"; the summaries' lists do not.
  passed=$(grep -c '^\[       OK \] .*ms)$' "$log")
  skipped=$(grep -c '^\[  SKIPPED \] .*ms)$' "$log")
  failures=$(grep -c '^\[  FAILED  \] .*ms)$' "$log")
  ((status != 0)) && failed=1
  summary+=("$(printf '%-34s %s: %d passed, %d skipped, %d failed' "$name" \
    "$( ((status == 0)) && echo ok || echo "FAILED (exit $status)")" "$passed" "$skipped" "$failures")")
  ((status != 0)) && grep -v '^\[ *\(RUN\|OK\) ' "$log" | tail -30
  grep -m1 -h 'needs a CUDA GPU' "$log" | head -1 | sed "s/^/  $name: /"
done
printf '%s\n' "${summary[@]}"

echo "== benchmarks (BiT-R50x1, 128 px, batch 128, $steps timed steps; img/s)"
deadline=360  # seconds since the start: benchmarks, then memcheck, all under 8 minutes
bench() {  # label, command...: prints "label img/s" from the JSON line, or why there is none
  local label="$1"; shift
  if ((SECONDS > deadline)); then printf '%s\t-\t(skipped: out of time)\n' "$label"; return; fi
  local out
  out="$(timeout 240 "$@" 2>&1)"
  local ips
  ips="$(echo "$out" | grep '^{' | tail -1 | "$python" -c 'import json, sys; print(round(json.load(sys.stdin)["img_per_s"], 1))' 2>/dev/null)"
  if [[ -n $ips ]]; then printf '%s\t%s\n' "$label" "$ips"; else
    printf '%s\t-\t(%s)\n' "$label" "$(echo "$out" | grep -i 'error' | head -1 | cut -c1-120)"; fi
}
config=(--model=BiT-R50x1 --res=128 --batch=128 --steps="$steps" --warmup=3)
results="$work/bench.tsv"
{
  for mode in train infer; do
    bench "bitgrad $mode fp32/TF32" "$work/bin/bit_bench" "${config[@]}" --mode=$mode --device=cuda
    bench "bitgrad $mode fp32 (TF32 off)" env BITGRAD_CUDA_TF32=0 "$work/bin/bit_bench" "${config[@]}" --mode=$mode --device=cuda
    bench "bitgrad $mode bf16 autocast" "$work/bin/bit_bench" "${config[@]}" --mode=$mode --device=cuda --dtype=bf16
    for format in contiguous channels_last; do
      for dtype in fp32 bf16; do
        bench "pytorch $mode $dtype $format" "$python" tools/bench/bit_bench_torch.py "${config[@]}" \
          --mode=$mode --device=cuda --dtype=$dtype --memory_format=$format --threads=1
      done
    done
  done
} | tee "$results"
# The hand-written kernels under compute-sanitizer's memcheck (out-of-bounds and misaligned
# accesses), with the caching allocator off so that it sees every allocation. It works on
# Firecracker machines, not under gVisor: where it cannot start, it says so and the check goes on.
echo "== memcheck (hand-written kernels)"
sanitizer="$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null)"
if ((SECONDS > 400)); then
  echo "skipped: out of time"
elif [[ -z $sanitizer ]]; then
  echo "compute-sanitizer not found: skipped"
else
  for name in elementwise_reduce_cuda_test unary_cuda_test shape_ops_cuda_test norm_cuda_test \
      loss_pool_pad_optim_cuda_test; do
    log="$work/$name.memcheck.log"
    (cd "$root" && BITGRAD_CUDA_CACHE=0 TEST_TMPDIR="$work/tmp" timeout 60 "$sanitizer" \
      --tool memcheck --error-exitcode 99 "$work/bin/$name" > "$log" 2>&1)
    status=$?
    case $status in
      0) echo "$name: no memcheck errors" ;;
      99) failed=1; echo "$name: MEMCHECK ERRORS"; grep -m20 -E 'Invalid|Address|at 0x|by thread' "$log" ;;
      124) echo "$name: memcheck out of time (60 s)" ;;
      *)
        # Without memcheck errors it returns the test's own status: a test failing only here
        # (the caching allocator off) is a failure, not a sanitizer that could not start.
        if grep -q '^\[  FAILED  \]' "$log"; then
          failed=1
          echo "$name: TEST FAILED under memcheck (exit $status)"; grep -m20 '^\[  FAILED  \]' "$log"
        else
          echo "$name: memcheck did not run (exit $status): $(grep -m1 -i 'error' "$log")"
        fi ;;
    esac
  done
fi

echo "== table"
column -t -s $'\t' "$results"
echo "bitgrad bf16 autocast: convolutions in bf16 (float32 accumulation), everything else float32"
exit $failed
