// The Communicator over MPI's world (Open MPI, Debian's libopenmpi-dev). Built only where MPI
// was found at configure time (third_party/mpi); reached through join_world().
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "dist/communicator.h"

namespace bitgrad {

// Initializes MPI (with MPI_THREAD_SERIALIZED: two threads call it, never at once) and returns
// the world; MPI is finalized when the Communicator is destroyed.
absl::StatusOr<std::unique_ptr<Communicator>> open_mpi_world();

}  // namespace bitgrad
