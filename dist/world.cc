#include "dist/world.h"

#include <cstdlib>

#ifdef BITGRAD_WITH_MPI
#include "dist/mpi_communicator.h"
#endif
#ifdef BITGRAD_WITH_NCCL
#include "dist/nccl_all_reduce.h"
#endif

namespace bitgrad {

bool launched_by_mpi() {
  // Open MPI's mpirun, then PMI/PMIx (Slurm's srun, MPICH's hydra).
  for (const char* variable : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE"}) {
    if (std::getenv(variable) != nullptr) return true;
  }
  return false;
}

absl::StatusOr<std::unique_ptr<Communicator>> join_world() {
  if (!launched_by_mpi()) return std::unique_ptr<Communicator>(new SingleProcess());
#ifdef BITGRAD_WITH_MPI
  return open_mpi_world();
#else
  return absl::FailedPreconditionError(
      "started by an MPI launcher, but this build has no MPI (libopenmpi-dev was not found when "
      "Bazel configured the workspace; run ./setup.sh, then `bazel sync --configure` and rebuild)");
#endif
}

int local_rank() {
  for (const char* variable : {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "SLURM_LOCALID"}) {
    if (const char* value = std::getenv(variable)) return std::atoi(value);
  }
  return 0;
}

absl::StatusOr<std::unique_ptr<DeviceAllReduce>> open_gpu_all_reduce(Communicator& world,
                                                                     int device_index) {
#ifdef BITGRAD_WITH_NCCL
  absl::StatusOr<std::unique_ptr<NcclAllReduce>> nccl = NcclAllReduce::open(world, device_index);
  if (!nccl.ok()) return nccl.status();
  return std::unique_ptr<DeviceAllReduce>(std::move(*nccl));
#else
  return absl::FailedPreconditionError(
      "data parallelism on GPUs needs NCCL, and this build has none (no CUDA, or no nccl.h under "
      "it, when Bazel configured the workspace)");
#endif
}

}  // namespace bitgrad
