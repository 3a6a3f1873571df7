#!/usr/bin/env bash
# Builds what tools/gpu/check.sh runs on a GPU machine that has no Bazel, and packs it into
# .gpu_bundle/bundle.tar.xz (git-ignored; the device tool carries it):
#   bin/   the GPU test binaries and bit_bench, stripped
#   lib/   every shared library they load that is neither glibc's nor CUDA's (ldd), so the
#          machine's own CUDA, cuDNN and cuBLAS are used and nothing else is assumed there
#
#   tools/gpu/bundle.sh                    build and pack (here, where Bazel is)
#   tools/gpu/check.sh .gpu_bundle         run it (on the GPU machine; here it is a dry run)
set -euo pipefail
cd "$(dirname "$0")/../.."

TESTS=(
  //tests/ops_cuda:elementwise_reduce_cuda_test
  //tests/ops_cuda:unary_cuda_test
  //tests/ops_cuda:shape_ops_cuda_test
  //tests/ops_cuda:copy_cuda_test
  //tests/ops_cuda:norm_cuda_test
  //tests/ops_cuda:loss_pool_pad_optim_cuda_test
  //tests/ops_cuda:conv_matmul_cuda_test
  //tests/ops_cuda:bit_model_cuda_test
  //tests/core:cuda_runtime_test
  //tests/models:cuda_module_test
  //tests/train:cuda_finetune_test
  //tests/dist:nccl_all_reduce_test
  //tests/dist:gpu_gradient_reducer_test
  //examples/custom_op:silu_cuda_test
)
TOOLS=(//tools/bench:bit_bench //examples:bit_finetune)

bazel build "${TESTS[@]}" "${TOOLS[@]}"

out=.gpu_bundle
rm -rf "$out/stage"
mkdir -p "$out/stage/bin" "$out/stage/lib"
for label in "${TESTS[@]}" "${TOOLS[@]}"; do
  path="bazel-bin/$(echo "${label#//}" | tr ':' '/')"
  cp "$path" "$out/stage/bin/"
done
chmod u+w "$out"/stage/bin/*
strip --strip-debug "$out"/stage/bin/*

# The libraries to carry: all that ldd resolves, less glibc (the machine has its own, newer),
# libstdc++/libgcc (newer there, backward compatible) and CUDA's (the machine's match its driver).
skip='^(linux-vdso|ld-linux|libc\.|libm\.|libpthread|libdl\.|librt\.|libstdc\+\+|libgcc_s|libcuda\.|libcudart|libcublas|libcudnn|libnccl|libnvrtc|libnvJitLink)'
for binary in "${TESTS[@]}" "${TOOLS[@]}"; do
  ldd "bazel-bin/$(echo "${binary#//}" | tr ':' '/')"
done | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}' | sort -u | while read -r name path; do
  [[ $name =~ $skip ]] && continue
  cp -L "$path" "$out/stage/lib/$name"
done
chmod u+w "$out"/stage/lib/*
strip --strip-debug "$out"/stage/lib/* 2>/dev/null || true

tar -C "$out/stage" -cJf "$out/bundle.tar.xz" bin lib
rm -rf "$out/stage"
echo "bundle.sh: $(du -h "$out/bundle.tar.xz" | cut -f1) in $out/bundle.tar.xz" \
  "($(echo "${TESTS[@]}" | wc -w) tests, $(echo "${TOOLS[@]}" | wc -w) tools)"
