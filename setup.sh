#!/usr/bin/env bash
# Installs everything bitgrad needs on a fresh Debian 12 machine, by package name. Idempotent:
# packages already present are skipped, and nothing else is touched.
#
#   ./setup.sh            build, test and tool dependencies
#
# CUDA 13, cuDNN 9 and cuBLAS are not Debian packages; they are expected under /usr/local/cuda
# (present on these machines). Without them the CPU parts still build and test, and Bazel skips
# the CUDA targets (third_party/cuda/cuda_configure.bzl).
set -euo pipefail

PACKAGES=(
  bazel-bootstrap                 # Bazel 4.2.3, the build system (offline shims in third_party/)
  g++                             # C++17 compiler (GCC 12) with GNU OpenMP
  libdnnl-dev                     # oneDNN 2.6: the CPU backend
  libabsl-dev                     # Abseil: flags, status, strings, containers
  protobuf-compiler libprotobuf-dev   # checkpoints, configs, logs
  libgtest-dev libgmock-dev       # tests
  libzip-dev                      # .npz weights (zip64)
  libonnx-dev                     # ONNX export (bit_export): onnx.proto and its checker
  libpng-dev libjpeg-dev libwebp-dev   # image decoding
  libopenmpi-dev openmpi-bin      # multi-process training: mpirun and the CPU all-reduce (dist/)
  clang libclang-rt-14-dev        # fuzzing: clang's libFuzzer and ASan (tools/fuzz/run.sh)
  valgrind                        # memcheck: uninitialised reads (tools/valgrind/run.sh)
  python3-numpy python3-torch     # tools only: golden fixtures, PyTorch baselines
  dataset-fashion-mnist           # a real dataset for the examples
)

missing=()
for package in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$package")
done

if ((${#missing[@]})); then
  echo "setup.sh: installing ${missing[*]}"
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
else
  echo "setup.sh: all ${#PACKAGES[@]} packages are installed"
fi

if [[ ! -x /usr/local/cuda/bin/nvcc ]]; then
  echo "setup.sh: warning: no CUDA toolkit at /usr/local/cuda;" \
       "CUDA targets will be skipped (docs/build.md)" >&2
fi
