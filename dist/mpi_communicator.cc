#include "dist/mpi_communicator.h"

#include <mpi.h>

#include <algorithm>
#include <climits>
#include <iostream>
#include <mutex>

#include "absl/strings/str_cat.h"

namespace bitgrad {
namespace {

// MPI counts are ints; larger buffers go in pieces of at most this many elements.
constexpr int64_t kMaxMpiCount = INT_MAX / 8;

class MpiWorld final : public Communicator {
 public:
  MpiWorld() {
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
  }
  ~MpiWorld() override { MPI_Finalize(); }

  int rank() const override { return rank_; }
  int size() const override { return size_; }

  void all_reduce_sum(float* values, int64_t count) override {
    all_reduce(values, count, MPI_FLOAT);
  }
  void all_reduce_sum(double* values, int64_t count) override {
    all_reduce(values, count, MPI_DOUBLE);
  }

  void broadcast(void* data, int64_t bytes, int root) override {
    std::lock_guard<std::mutex> lock(mutex_);
    char* at = static_cast<char*>(data);
    for (int64_t done = 0; done < bytes; done += kMaxMpiCount) {
      const int n = static_cast<int>(std::min(kMaxMpiCount, bytes - done));
      MPI_Bcast(at + done, n, MPI_BYTE, root, MPI_COMM_WORLD);
    }
  }

  void abort(const std::string& message) override {
    // One write, so that the lines of processes failing at once do not interleave.
    const std::string lines = absl::StrCat("error: ", name(), ": ", message, "\nerror: ", name(),
                                           " is stopping all ", size_, " processes\n");
    std::cerr.write(lines.data(), static_cast<std::streamsize>(lines.size()));
    std::cerr.flush();
    MPI_Abort(MPI_COMM_WORLD, 1);
    std::_Exit(1);  // MPI_Abort does not return; this is for the compiler
  }

 private:
  template <typename T>
  void all_reduce(T* values, int64_t count, MPI_Datatype type) {
    std::lock_guard<std::mutex> lock(mutex_);
    for (int64_t done = 0; done < count; done += kMaxMpiCount) {
      const int n = static_cast<int>(std::min(kMaxMpiCount, count - done));
      MPI_Allreduce(MPI_IN_PLACE, values + done, n, type, MPI_SUM, MPI_COMM_WORLD);
    }
  }

  int rank_ = 0, size_ = 1;
  std::mutex mutex_;  // MPI_THREAD_SERIALIZED: one call at a time
};

}  // namespace

absl::StatusOr<std::unique_ptr<Communicator>> open_mpi_world() {
  int provided = 0;
  if (MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided) != MPI_SUCCESS) {
    return absl::UnavailableError("MPI_Init_thread failed: MPI could not start");
  }
  if (provided < MPI_THREAD_SERIALIZED) {
    MPI_Finalize();
    return absl::FailedPreconditionError(absl::StrCat(
        "this MPI library offers thread level ", provided, "; bitgrad needs MPI_THREAD_SERIALIZED "
        "(its gradient all-reduce runs on a thread of its own)"));
  }
  return std::unique_ptr<Communicator>(new MpiWorld());
}

}  // namespace bitgrad
