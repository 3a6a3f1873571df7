"""mpi_configure: finds Open MPI when Bazel loads the workspace; never requires it.

Asks the compiler wrapper ($BITGRAD_MPICC, else `mpicc` on the PATH, from Debian's
libopenmpi-dev) for its include and library folders. The repository it makes (@local_mpi) always
has the same targets and a defs.bzl:

    MPI_FOUND              True or False
    MPIRUN                 the launcher next to the wrapper ("" when not found)
    MPI_COMPATIBLE_WITH    [] when found; otherwise a constraint no platform has, so every target
                           that uses it (and all that depend on them) is skipped by
                           `bazel build //...` and `bazel test //...`

Point BITGRAD_MPICC at a path that does not exist to check a build without MPI.
"""

def _showme(repository_ctx, mpicc, what):
    result = repository_ctx.execute([mpicc, "--showme:" + what])
    if result.return_code != 0:
        return None
    return result.stdout.strip().split(" ")

def _mpi_configure_impl(repository_ctx):
    override = repository_ctx.os.environ.get("BITGRAD_MPICC", "")
    mpicc = repository_ctx.path(override) if override else repository_ctx.which("mpicc")
    incdirs = None
    libdirs = None
    if mpicc != None and mpicc.exists:
        incdirs = _showme(repository_ctx, mpicc, "incdirs")
        libdirs = _showme(repository_ctx, mpicc, "libdirs")
    found = bool(incdirs) and bool(libdirs) and \
            repository_ctx.path(incdirs[0] + "/mpi.h").exists
    mpirun = str(mpicc.dirname) + "/mpirun" if found else ""
    if found:
        repository_ctx.symlink(incdirs[0], "include")
        link = ["-L" + d for d in libdirs] + ["-Wl,-rpath," + d for d in libdirs] + ["-lmpi"]
    else:
        repository_ctx.file(
            "include/README",
            "MPI was not found when Bazel configured this workspace.\n",
        )
        link = []
    repository_ctx.template("BUILD.bazel", repository_ctx.attr.build_template, {
        "%{linkopts}": repr(link),
    })
    repository_ctx.file("defs.bzl", "\n".join([
        "# Written by third_party/mpi/mpi_configure.bzl when Bazel loaded the workspace.",
        "MPI_FOUND = %s" % found,
        "MPIRUN = %r" % mpirun,
        "MPI_COMPATIBLE_WITH = %s" % ("[]" if found else '["@local_mpi//:mpi_not_found"]'),
        "",
    ]))

mpi_configure = repository_rule(
    implementation = _mpi_configure_impl,
    attrs = {"build_template": attr.label(default = "//third_party/mpi:BUILD.tpl")},
    environ = ["BITGRAD_MPICC", "PATH"],
    local = True,
    configure = True,
)
