#include "dist/nccl_all_reduce.h"

#include <nccl.h>

#include <climits>

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
  ncclUniqueId id{};
  if (world.is_root()) {
    if (absl::Status s = nccl_status(ncclGetUniqueId(&id), "ncclGetUniqueId"); !s.ok()) return s;
  }
  world.broadcast(&id, sizeof(id), 0);
  try {
    cuda_stream(device_index);  // makes the device current, with a clear Error without one
  } catch (const Error& error) {
    return absl::FailedPreconditionError(error.what());
  }
  auto comm = std::make_unique<Comm>();
  if (absl::Status s = nccl_status(ncclCommInitRank(&comm->handle, world.size(), id, world.rank()),
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
