// The all-reduce of GPU gradients on NCCL: one NCCL communicator over the processes of a
// Communicator world (MPI, or one process), one GPU each. Rank 0 makes NCCL's unique id and the
// world broadcasts it, as NCCL asks; sums are queued on the GPU's bitgrad stream, so they are
// ordered after the kernels that wrote the gradients and before those that read them.
#pragma once

#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "dist/communicator.h"

namespace bitgrad {

class NcclAllReduce final : public DeviceAllReduce {
 public:
  // Joins `world`'s processes, this one on cuda:device_index. A failure returns NCCL's or CUDA's
  // own message; every process of the world must call this.
  static absl::StatusOr<std::unique_ptr<NcclAllReduce>> open(Communicator& world,
                                                             int device_index);
  ~NcclAllReduce() override;
  NcclAllReduce(const NcclAllReduce&) = delete;
  NcclAllReduce& operator=(const NcclAllReduce&) = delete;

  // Replaces `count` floats at `values` (memory on this process's GPU) with their sum over the
  // processes, in place. Queued on the GPU's stream; throws an Error with NCCL's message.
  void sum(float* values, int64_t count) override;

  int device_index() const { return device_index_; }

 private:
  struct Comm;
  NcclAllReduce(std::unique_ptr<Comm> comm, int device_index);

  std::unique_ptr<Comm> comm_;
  int device_index_;
};

}  // namespace bitgrad
