#include "dist/nccl_all_reduce.h"

#include <nccl.h>

#include <climits>
#include <cstdint>

#include "absl/strings/str_cat.h"
#include "core/check.h"
#include "core/cuda/cuda_stream.h"

namespace bitgrad {

struct NcclAllReduce::Comm {
  ncclComm_t handle = nullptr;
};

namespace {

absl::Status nccl_status(ncclResult_t result, const char* call) {
  if (result == ncclSuccess) return absl::OkStatus();
  return absl::UnavailableError(absl::StrCat("NCCL call ", call, " failed: ",
                                             ncclGetErrorString(result), " (",
                                             ncclGetLastError(nullptr), ")"));
}

}  // namespace

absl::StatusOr<std::unique_ptr<NcclAllReduce>> NcclAllReduce::open(Communicator& world,
                                                                    int device_index) {
  // Each step is collective, so a failure on one process must reach the others before they
  // wait for it: the root's id comes with its status, and the devices' problems are counted.
  struct {
    int32_t root_failed = 0;
    ncclUniqueId id{};
  } from_root;
  absl::Status status;
  if (world.is_root()) {
    status = nccl_status(ncclGetUniqueId(&from_root.id), "ncclGetUniqueId");
    from_root.root_failed = !status.ok();
  }
  world.broadcast(&from_root, sizeof(from_root), 0);
  if (from_root.root_failed) {
    return status.ok() ? absl::UnavailableError("NCCL: ncclGetUniqueId failed on rank 0") : status;
  }
  try {
    cuda_stream(device_index);  // makes the device current, with a clear Error without one
  } catch (const Error& error) {
    status = absl::FailedPreconditionError(error.what());
  }
  double failures = status.ok() ? 0 : 1;
  world.all_reduce_sum(&failures, 1);
  if (!status.ok()) return status;
  if (failures > 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("NCCL: ", failures, " other process(es) could not use their GPU"));
  }
  auto comm = std::make_unique<Comm>();
  if (absl::Status s = nccl_status(
          ncclCommInitRank(&comm->handle, world.size(), from_root.id, world.rank()),
          "ncclCommInitRank");
      !s.ok()) {
    return s;
  }
  return std::unique_ptr<NcclAllReduce>(new NcclAllReduce(std::move(comm), device_index));
}

NcclAllReduce::NcclAllReduce(std::unique_ptr<Comm> comm, int device_index)
    : comm_(std::move(comm)), device_index_(device_index) {}

NcclAllReduce::~NcclAllReduce() {
  if (comm_ && comm_->handle != nullptr) ncclCommDestroy(comm_->handle);
}

void NcclAllReduce::sum(float* values, int64_t count) {
  cudaStream_t stream = cuda_stream(device_index_);
  // NCCL counts are size_t; one call takes any count.
  const ncclResult_t result = ncclAllReduce(values, values, static_cast<size_t>(count), ncclFloat,
                                            ncclSum, comm_->handle, stream);
  BG_CHECK(result == ncclSuccess, "NCCL all-reduce of ", count, " floats on cuda:", device_index_,
           " failed: ", ncclGetErrorString(result), " (", ncclGetLastError(comm_->handle), ")");
}

}  // namespace bitgrad
