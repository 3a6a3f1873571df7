"""cuda_library: compiles .cu files with nvcc into a cc_library.

Bazel 4 has no CUDA rules, and rules_cuda cannot be fetched offline. This rule runs
nvcc (found at configure time) on each .cu file, with the headers, include paths and defines of its
C++ deps, and hands the objects to a cc_library so the rest of the build sees plain C++.

    cuda_library(
        name = "silu_cuda_launch",
        srcs = ["silu_cuda.cu"],
        hdrs = ["silu_cuda.h"],
    )

The .cu files hold device code and plain launch functions only (no bitgrad headers), so they
need no deps; the .cc that unpacks tensors and registers the kernels is a cc_library that
depends on this target (examples/custom_op, docs/custom_ops.md step 3c).
"""

load("@local_cuda//:defs.bzl", "CUDA_FOUND", "CUDA_PATH")

# Found by third_party/cuda/cuda_configure.bzl. Without CUDA, cuda_library targets depend on the
# incompatible //third_party:cuda_runtime, so they are skipped and nvcc never runs.
NVCC = CUDA_PATH + "/bin/nvcc"

def if_cuda(deps):
    """`deps` where a CUDA toolkit was found at configure time, else nothing.

    For programs that run on the CPU everywhere and on a GPU where there is one: without CUDA they
    still build, and device_available(kCUDA) says why there is no GPU.
    """
    return deps if CUDA_FOUND else []

# H100/H200 (sm_90) and A100 (sm_80) machine code, plus sm_90 PTX that newer GPUs can JIT.
CUDA_GENCODE = [
    "-gencode=arch=compute_80,code=sm_80",
    "-gencode=arch=compute_90,code=sm_90",
    "-gencode=arch=compute_90,code=compute_90",
]

def _cuda_objects_impl(ctx):
    cc_infos = [dep[CcInfo] for dep in ctx.attr.deps]
    headers = depset(
        ctx.files.hdrs,
        transitive = [info.compilation_context.headers for info in cc_infos],
    )
    # The root of the target's repository: "." here, external/bitgrad in a user's workspace.
    root = ctx.label.workspace_root or "."
    include_flags = ["-I" + root, "-I" + ctx.bin_dir.path + "/" + ctx.label.workspace_root]
    for info in cc_infos:
        cc = info.compilation_context
        include_flags += ["-I" + d for d in cc.includes.to_list()]
        include_flags += ["-I" + d for d in cc.quote_includes.to_list()]
        include_flags += ["-isystem=" + d for d in cc.system_includes.to_list()]
        include_flags += ["-D" + d for d in cc.defines.to_list()]
    include_flags = depset(include_flags).to_list()

    objects = []
    for src in ctx.files.srcs:
        obj = ctx.actions.declare_file("_objs/{}/{}.o".format(ctx.label.name, src.basename))
        args = ["-c", src.path, "-o", obj.path, "-std=c++17", "-O3", "-Xcompiler", "-fPIC",
                "--expt-relaxed-constexpr", "-Werror=all-warnings"]
        args += CUDA_GENCODE + include_flags + ctx.attr.copts
        ctx.actions.run(
            executable = NVCC,
            arguments = args,
            inputs = depset([src], transitive = [headers]),
            outputs = [obj],
            mnemonic = "NvccCompile",
            progress_message = "nvcc {}".format(src.short_path),
            use_default_shell_env = True,
        )
        objects.append(obj)
    return [DefaultInfo(files = depset(objects))]

_cuda_objects = rule(
    implementation = _cuda_objects_impl,
    attrs = {
        "srcs": attr.label_list(allow_files = [".cu"]),
        "hdrs": attr.label_list(allow_files = True),
        "deps": attr.label_list(providers = [CcInfo]),
        "copts": attr.string_list(),
    },
)

# Label(): resolved in bitgrad's repository even when a user's workspace calls the macro.
_CUDA_RUNTIME = Label("//third_party:cuda_runtime")

def cuda_library(name, srcs, hdrs = [], deps = [], copts = [], alwayslink = False, **kwargs):
    """A cc_library whose .cu sources are compiled by nvcc (see the module docstring)."""
    _cuda_objects(
        name = name + "_nvcc",
        srcs = srcs,
        hdrs = hdrs,
        deps = deps + [_CUDA_RUNTIME],
        copts = copts,
    )
    native.cc_library(
        name = name,
        srcs = [":" + name + "_nvcc"],
        hdrs = hdrs,
        deps = deps + [_CUDA_RUNTIME],
        alwayslink = alwayslink,
        **kwargs
    )
