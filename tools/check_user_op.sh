#!/usr/bin/env bash
# A user's own op builds outside bitgrad's layers (docs/custom_ops.md): copies examples/custom_op
# to a package of its own at the top of the workspace, as a user would, renames the paths, and
# builds and tests it there. A layer's visibility that shut out packages outside tools/layers.bzl
# fails this ("target ... is not visible"). .ci/run calls it; it leaves nothing behind.
#
#   tools/check_user_op.sh
set -euo pipefail
cd "$(dirname "$0")/.."
package=user_op_check
if [[ -e $package ]]; then
  echo "check_user_op: $package/ exists already; remove it first" >&2
  exit 1
fi
trap 'rm -rf "$package"' EXIT
cp -r examples/custom_op "$package"
sed -i "s|examples/custom_op|$package|g" "$package"/*
# //... rather than the targets by name: the CUDA test is skipped, not an error, without CUDA.
bazel test "//$package/..."
