#!/usr/bin/env bash
# A user's own op builds outside bitgrad's layers (docs/custom_ops.md) and outside bitgrad's
# workspace (docs/build.md, "bitgrad in your own workspace"). Copies examples/custom_op as a user
# would, renames its paths, and builds and tests it twice:
#   1. as a package of its own at the top of bitgrad's workspace: a layer's visibility that shut
#      out packages outside tools/layers.bzl fails this ("target ... is not visible");
#   2. in a workspace of its own that reaches bitgrad as @bitgrad: a macro that names bitgrad's
#      targets or paths as if it were the main workspace fails this. That workspace also builds
#      bitgrad's generated protos, a proto of its own that imports one of bitgrad's, and, where
#      CUDA was found, bitgrad's nvcc-compiled kernels.
# .ci/run calls it; it leaves nothing behind.
#
#   tools/check_user_op.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bitgrad=$PWD
package=user_op_check
if [[ -e $bitgrad/$package ]]; then
  echo "check_user_op: $package/ exists already; remove it first" >&2
  exit 1
fi
scratch=$(mktemp -d)
workspace=$scratch/workspace
output_base=$scratch/output_base  # outside the workspace, where no package pattern walks into it
cleanup() {
  rm -rf "${bitgrad:?}/$package" || true
  if [[ -e $output_base ]]; then
    (cd "$workspace" && bazel --output_base="$output_base" shutdown) || true
  fi
  chmod -R u+w "$scratch" 2>/dev/null || true  # Bazel leaves read-only outputs
  rm -rf "$scratch" || true
}
trap cleanup EXIT

echo "check_user_op: 1. //$package in bitgrad's workspace"
cp -r examples/custom_op "$package"
sed -i "s|examples/custom_op|$package|g" "$package"/*
# //... rather than the targets by name: the CUDA test is skipped, not an error, without CUDA.
bazel test "//$package/..."

echo "check_user_op: 2. //my_op in a workspace of its own ($workspace)"
mkdir -p "$workspace/my_op"
cp examples/custom_op/* "$workspace/my_op/"
sed -i "s|examples/custom_op|my_op|g" "$workspace/my_op"/*
# Every absolute label in the op's BUILD file is bitgrad's.
sed -i 's|"//|"@bitgrad//|g' "$workspace/my_op/BUILD.bazel"
# The user's protos: one imports bitgrad's RunConfig, the other, in another package (private by
# default, as a user's are), imports that one, so protoc must find bitgrad's proto through a
# dep's dep too, and the dep's protos must be visible where its cc_proto is.
mkdir -p "$workspace/my_config" "$workspace/my_protos"
cat > "$workspace/my_config/experiment.proto" <<'PROTO'
syntax = "proto3";
package my_project;
import "train/run_config.proto";
message Experiment { bitgrad.RunConfig run = 1; }
PROTO
cat > "$workspace/my_protos/sweep.proto" <<'PROTO'
syntax = "proto3";
package my_project;
import "my_config/experiment.proto";
message Sweep { repeated Experiment experiments = 1; }
PROTO
cat > "$workspace/my_protos/sweep_test.cc" <<'CC'
#include "my_protos/sweep.pb.h"
#include "gtest/gtest.h"

TEST(UserProto, CarriesBitgradRunConfig) {
  my_project::Sweep sweep;
  sweep.add_experiments()->mutable_run()->set_batch(64);
  my_project::Sweep parsed;
  ASSERT_TRUE(parsed.ParseFromString(sweep.SerializeAsString()));
  EXPECT_EQ(parsed.experiments(0).run().batch(), 64);
}
CC
cat > "$workspace/my_config/BUILD.bazel" <<'BUILD'
load("@bitgrad//tools:proto.bzl", "cc_proto")

cc_proto(
    name = "experiment_proto",
    srcs = ["experiment.proto"],
    visibility = ["//visibility:public"],
    deps = ["@bitgrad//train:run_config_proto"],
)
BUILD
cat > "$workspace/my_protos/BUILD.bazel" <<'BUILD'
load("@bitgrad//tools:proto.bzl", "cc_proto")

cc_proto(
    name = "sweep_proto",
    srcs = ["sweep.proto"],
    deps = ["//my_config:experiment_proto"],
)

cc_test(
    name = "sweep_test",
    srcs = ["sweep_test.cc"],
    deps = [
        ":sweep_proto",
        "@bitgrad//third_party:gtest_main",
    ],
)
BUILD
cat > "$workspace/WORKSPACE" <<WORKSPACE
workspace(name = "my_project")

local_repository(name = "bitgrad", path = "$bitgrad")

load("@bitgrad//tools:workspace.bzl", "bitgrad_dependencies")

bitgrad_dependencies()
WORKSPACE
echo "import $bitgrad/.bazelrc" > "$workspace/.bazelrc"
touch "$workspace/BUILD.bazel"
cd "$workspace"
bazel --output_base="$output_base" test --symlink_prefix=/ \
  //my_op/... //my_protos/... @bitgrad//models:checkpoint_proto @bitgrad//ops/cuda/...
