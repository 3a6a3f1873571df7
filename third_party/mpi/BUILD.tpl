# BUILD file of @local_mpi, written by mpi_configure.bzl from third_party/mpi/BUILD.tpl.
# Every target here is incompatible (skipped by `bazel build //...`) when MPI was not found.
load(":defs.bzl", "MPI_COMPATIBLE_WITH")

package(default_visibility = ["//visibility:public"])

# A constraint no platform has: depending on it makes a target incompatible.
constraint_setting(name = "mpi_presence")

constraint_value(
    name = "mpi_not_found",
    constraint_setting = ":mpi_presence",
)

# The C API only (libmpi; OMPI_SKIP_MPICXX leaves out the removed C++ bindings). The link paths
# are absolute: the library lives outside the workspace.
cc_library(
    name = "mpi",
    hdrs = glob(["include/*.h"]),
    defines = ["OMPI_SKIP_MPICXX"],
    includes = ["include"],
    linkopts = %{linkopts},
    target_compatible_with = MPI_COMPATIBLE_WITH,
)
