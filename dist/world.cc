#include "dist/world.h"

#include <cstdlib>

#ifdef BITGRAD_WITH_MPI
#include "dist/mpi_communicator.h"
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

}  // namespace bitgrad
