"""bitgrad_dependencies(): the repositories bitgrad needs, for its own WORKSPACE and for yours.

To build against bitgrad from a workspace of your own (docs/build.md, "bitgrad in your own
workspace"), put this in its WORKSPACE:

    local_repository(name = "bitgrad", path = "/path/to/bitgrad")
    load("@bitgrad//tools:workspace.bzl", "bitgrad_dependencies")
    bitgrad_dependencies()

and depend on `@bitgrad//:bitgrad`, `@bitgrad//models:bit_resnet_v2` and the like.
"""

load("//third_party/cuda:cuda_configure.bzl", "cuda_configure")
load("//third_party/mpi:mpi_configure.bzl", "mpi_configure")

def _offline_stand_in_impl(repository_ctx):
    # Label(): bitgrad's third_party/, also when a user's WORKSPACE calls this.
    third_party = repository_ctx.path(Label("//third_party:BUILD.bazel")).dirname
    for entry in third_party.get_child(repository_ctx.name).readdir():
        repository_ctx.symlink(entry, entry.basename)

# One of the three tiny repositories in third_party/ that stand in for those Bazel 4.2.3 would
# fetch from the network (docs/build.md), named like the folder that holds it.
_offline_stand_in = repository_rule(implementation = _offline_stand_in_impl)

def bitgrad_dependencies():
    """The offline stand-ins, @local_cuda and @local_mpi (each found at configure time, never
    required), each unless the WORKSPACE declared a repository of its name before. The names are
    fixed: bitgrad's BUILD files refer to them."""
    for name in ["rules_cc", "rules_java", "remote_coverage_tools"]:
        if not native.existing_rule(name):
            _offline_stand_in(name = name)
    if not native.existing_rule("local_cuda"):
        cuda_configure(name = "local_cuda")
    if not native.existing_rule("local_mpi"):
        mpi_configure(name = "local_mpi")
