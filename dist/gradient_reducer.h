// Data-parallel gradient averaging, overlapped with backward (the scheme of PyTorch's DDP).
//
// The parameters are grouped into buckets of about `bucket_bytes`, filled from the last
// parameter to the first: the order in which backward finishes their gradients. During the
// update's last backward pass, the engine reports each parameter whose gradient is final
// (BackwardOptions::leaf_ready); when a bucket's last gradient arrives, the bucket is copied
// into one flat buffer and handed to a thread that all-reduces it, while backward goes on with
// the layers below. Buckets are all-reduced strictly in bucket order, so every process issues
// the same collectives in the same order. finish() waits for the rest and writes the sums back
// into the .grad tensors.
//
// The sum, not the mean: the training loop already divides each process's loss by the number
// of micro-batches in the whole update (train/update.h), so the sum is the gradient of the mean
// loss over the global batch.
//
// Parameters on a GPU keep their buckets in GPU memory and are summed by a DeviceAllReduce
// (NCCL, dist/nccl_all_reduce.h) queued on the GPU's stream, which orders it after the kernels
// that wrote the gradients: no thread is needed, and the CPU never waits for it.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "autograd/engine.h"
#include "core/tensor.h"
#include "dist/communicator.h"

namespace bitgrad {

// PyTorch DDP's default: large enough that per-message latency is small against the transfer,
// small enough that the first bucket is ready early in backward (docs/scale_out.md). 25 MiB.
constexpr int64_t kDefaultBucketBytes = 25 << 20;

// What the all-reduce cost, summed over finish() calls.
struct ReducerStats {
  int64_t updates = 0;
  int64_t buckets_per_update = 0;
  int64_t bytes_per_update = 0;
  double all_reduce_seconds = 0;  // the reducer thread inside all_reduce_sum
  double exposed_seconds = 0;     // finish() waiting: the part backward did not hide
};

class GradientReducer {
 public:
  // `parameters`: float32 tensors in model order, all on the CPU, or all on one GPU with
  // `gpu_sum` to sum them. Each bucket holds whole tensors, at least one.
  GradientReducer(std::vector<Tensor> parameters, Communicator& world,
                  int64_t bucket_bytes = kDefaultBucketBytes,
                  DeviceAllReduce* gpu_sum = nullptr);
  ~GradientReducer();  // joins the thread
  GradientReducer(const GradientReducer&) = delete;
  GradientReducer& operator=(const GradientReducer&) = delete;

  // For the update's last backward pass: starts each bucket's all-reduce once its gradients
  // are final. Valid while the reducer lives.
  BackwardOptions backward_options();

  // Starts the buckets still waiting (a parameter that received no gradient adds zeros), waits
  // for all of them and stores each sum in its parameter's .grad. Every parameter has a .grad
  // afterwards, the same on every process. Call once per update, after the last backward.
  // Throws Error when the communicator failed to sum a bucket (the message says which).
  void finish();

  int64_t num_buckets() const { return static_cast<int64_t>(buckets_.size()); }
  const ReducerStats& stats() const { return stats_; }

 private:
  struct Bucket {
    std::vector<int64_t> parameters;  // indices into parameters_
    Tensor flat;                      // their gradients, one after the other, on their device
    int64_t waiting = 0;              // gradients not final yet, this update
    bool reduced = false;             // the thread is done with it, this update
  };

  void on_leaf_ready(AutogradMeta& leaf);
  void start_ready_buckets(bool all);  // in bucket order; `all`: also those still waiting
  void pack(Bucket& bucket);           // the gradients into bucket.flat (zeros for none)
  void unpack(const Bucket& bucket);   // bucket.flat back into the .grad tensors
  void reduce_loop();                  // the thread

  std::vector<Tensor> parameters_;
  std::unordered_map<const AutogradMeta*, int64_t> index_of_;
  std::vector<int64_t> bucket_of_;
  std::vector<Bucket> buckets_;
  Communicator& world_;
  DeviceAllReduce* gpu_sum_;  // non-null when the parameters are on a GPU
  int64_t next_to_start_ = 0;
  ReducerStats stats_;

  std::mutex mutex_;
  std::condition_variable work_, done_;
  std::deque<int64_t> queue_;  // buckets handed to the thread, in order
  bool stopping_ = false;
  double thread_seconds_ = 0;  // under mutex_
  std::string failure_;        // under mutex_: a failed sum, rethrown by finish()
  std::thread thread_;
};

}  // namespace bitgrad
