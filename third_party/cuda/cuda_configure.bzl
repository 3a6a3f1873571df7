"""cuda_configure: finds the CUDA toolkit when Bazel loads the workspace; never requires it.

Looks in $BITGRAD_CUDA_PATH, then $CUDA_PATH, then /usr/local/cuda, and takes the first folder
with bin/nvcc and include/cuda_runtime_api.h. The repository it makes (@local_cuda) always has
the same targets and a defs.bzl:

    CUDA_FOUND                  True or False
    CUDA_PATH                   the toolkit folder ("" when not found)
    CUDA_COMPATIBLE_WITH        [] when found; otherwise a constraint no platform has, so every
                                target that uses it (and all that depend on them) is skipped by
                                `bazel build //...` and `bazel test //...`
    NCCL_FOUND                  whether the toolkit folder also holds NCCL (include/nccl.h); the
                                @local_cuda//:nccl target is incompatible where it does not

Point BITGRAD_CUDA_PATH at a folder without CUDA (e.g. /nonexistent) to check a CPU-only build.
"""

_ENV_VARS = ["BITGRAD_CUDA_PATH", "CUDA_PATH"]
_DEFAULT_PATH = "/usr/local/cuda"

def _find_cuda(repository_ctx):
    candidates = [repository_ctx.os.environ.get(v, "") for v in _ENV_VARS] + [_DEFAULT_PATH]
    for candidate in candidates:
        if not candidate:
            continue
        path = repository_ctx.path(candidate)
        if path.get_child("bin").get_child("nvcc").exists and \
           path.get_child("include").get_child("cuda_runtime_api.h").exists:
            return str(path)

        # An explicit setting that points nowhere means "no CUDA", not "look elsewhere".
        return ""
    return ""

def _cuda_configure_impl(repository_ctx):
    cuda_path = _find_cuda(repository_ctx)
    found = cuda_path != ""
    if found:
        repository_ctx.symlink(cuda_path + "/include", "include")
    else:
        repository_ctx.file(
            "include/README",
            "CUDA was not found when Bazel configured this workspace.\n",
        )
    nccl = found and repository_ctx.path(cuda_path + "/include/nccl.h").exists
    repository_ctx.template("BUILD.bazel", repository_ctx.attr.build_template, {
        "%{cuda_lib_dir}": (cuda_path + "/lib64") if found else "/cuda-not-found",
        "%{nccl_compatible_with}": "[]" if nccl else '[":cuda_not_found"]',
    })
    repository_ctx.file("defs.bzl", "\n".join([
        "# Written by third_party/cuda/cuda_configure.bzl when Bazel loaded the workspace.",
        "CUDA_FOUND = %s" % found,
        "CUDA_PATH = %r" % cuda_path,
        "CUDA_COMPATIBLE_WITH = %s" % ("[]" if found else '["@local_cuda//:cuda_not_found"]'),
        "NCCL_FOUND = %s" % nccl,
        "",
    ]))

cuda_configure = repository_rule(
    implementation = _cuda_configure_impl,
    attrs = {"build_template": attr.label(default = "//third_party/cuda:BUILD.tpl")},
    environ = _ENV_VARS,
    local = True,
    configure = True,
)
