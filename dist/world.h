// Joining the job this process was started in: MPI's world under a launcher, else one process.
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "dist/communicator.h"

namespace bitgrad {

// The job this process was started in: the MPI world when a launcher (mpirun, srun) started it,
// a SingleProcess otherwise, without starting MPI. Fails when a launcher started it but this
// build has no MPI (libopenmpi-dev was missing when Bazel configured the workspace), or MPI
// cannot start.
absl::StatusOr<std::unique_ptr<Communicator>> join_world();

// Whether the environment says a launcher (mpirun, srun) started this process.
bool launched_by_mpi();

// This process's index among the job's processes on its machine (the GPU it takes): from the
// launcher's environment, 0 without one.
int local_rank();

// The all-reduce of GPU gradients between `world`'s processes, this one on cuda:device_index:
// NCCL where the build has it; otherwise an error that says so.
absl::StatusOr<std::unique_ptr<DeviceAllReduce>> open_gpu_all_reduce(Communicator& world,
                                                                     int device_index);

}  // namespace bitgrad
