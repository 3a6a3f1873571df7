# BUILD file of @local_cuda, written by cuda_configure.bzl from third_party/cuda/BUILD.tpl.
# Every target here is incompatible (skipped by `bazel build //...`) when CUDA was not found.
load(":defs.bzl", "CUDA_COMPATIBLE_WITH")

package(default_visibility = ["//visibility:public"])

# A constraint no platform has: depending on it makes a target incompatible.
constraint_setting(name = "cuda_presence")

constraint_value(
    name = "cuda_not_found",
    constraint_setting = ":cuda_presence",
)

cc_library(
    name = "headers",
    hdrs = glob(["include/**"]),
    includes = ["include"],
    target_compatible_with = CUDA_COMPATIBLE_WITH,
)

# The link paths are absolute on purpose: the libraries live outside the workspace.
cc_library(
    name = "cudart",
    linkopts = [
        "-L%{cuda_lib_dir}",
        "-Wl,-rpath,%{cuda_lib_dir}",
        "-lcudart",
    ],
    target_compatible_with = CUDA_COMPATIBLE_WITH,
    deps = [":headers"],
)

cc_library(
    name = "cudnn",
    linkopts = ["-lcudnn"],
    target_compatible_with = CUDA_COMPATIBLE_WITH,
    deps = [":cudart"],
)

cc_library(
    name = "cublas",
    linkopts = ["-lcublas"],
    target_compatible_with = CUDA_COMPATIBLE_WITH,
    deps = [":cudart"],
)

# NCCL, the GPU all-reduce of data parallelism (dist/nccl_all_reduce.h), where the toolkit
# folder holds it.
cc_library(
    name = "nccl",
    linkopts = ["-lnccl"],
    target_compatible_with = %{nccl_compatible_with},
    deps = [":cudart"],
)
