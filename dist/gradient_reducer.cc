#include "dist/gradient_reducer.h"

#include <exception>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/check.h"
#include "core/stopwatch.h"
#include "core/storage.h"

namespace bitgrad {

GradientReducer::GradientReducer(std::vector<Tensor> parameters, Communicator& world,
                                 int64_t bucket_bytes, DeviceAllReduce* gpu_sum)
    : parameters_(std::move(parameters)),
      bucket_of_(parameters_.size()),
      world_(world),
      gpu_sum_(gpu_sum) {
  BG_CHECK(bucket_bytes > 0, "GradientReducer: bucket_bytes must be positive, got ",
           bucket_bytes);
  const Device device = parameters_.empty() ? Device::cpu() : parameters_.front().device();
  BG_CHECK(device.is_cpu() || gpu_sum != nullptr,
           "GradientReducer: parameters on ", device.str(), " need a GPU all-reduce (NCCL)");
  int64_t bucket_size = 0;
  for (int64_t i = static_cast<int64_t>(parameters_.size()) - 1; i >= 0; --i) {
    Tensor& p = parameters_[i];
    BG_CHECK(p.dtype() == DType::kFloat32 && p.device() == device,
             "GradientReducer: parameter ", i, " is ", dtype_name(p.dtype()), " on ",
             p.device().str(), "; data parallelism handles float32 parameters, all on ",
             device.str());
    const int64_t bytes = p.numel() * static_cast<int64_t>(sizeof(float));
    if (buckets_.empty() || (bucket_size > 0 && bucket_size + bytes > bucket_bytes)) {
      buckets_.emplace_back();
      bucket_size = 0;
    }
    buckets_.back().parameters.push_back(i);
    bucket_size += bytes;
    bucket_of_[i] = static_cast<int64_t>(buckets_.size()) - 1;
    index_of_[&p.autograd_meta()] = i;
    stats_.bytes_per_update += bytes;
  }
  for (Bucket& bucket : buckets_) {
    int64_t elements = 0;
    for (int64_t i : bucket.parameters) elements += parameters_[i].numel();
    bucket.flat = empty({elements}, DType::kFloat32, device);
    bucket.waiting = static_cast<int64_t>(bucket.parameters.size());
  }
  stats_.buckets_per_update = num_buckets();
  thread_ = std::thread(&GradientReducer::reduce_loop, this);
}

GradientReducer::~GradientReducer() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  work_.notify_all();
  thread_.join();
}

BackwardOptions GradientReducer::backward_options() {
  BackwardOptions options;
  options.leaf_ready = [this](AutogradMeta& leaf) { on_leaf_ready(leaf); };
  return options;
}

void GradientReducer::on_leaf_ready(AutogradMeta& leaf) {
  auto it = index_of_.find(&leaf);
  if (it == index_of_.end()) return;  // a leaf that is not one of ours (an input)
  Bucket& bucket = buckets_[bucket_of_[it->second]];
  if (bucket.waiting > 0 && --bucket.waiting == 0) start_ready_buckets(false);
}

void GradientReducer::start_ready_buckets(bool all) {
  for (; next_to_start_ < num_buckets(); ++next_to_start_) {
    Bucket& bucket = buckets_[next_to_start_];
    if (bucket.waiting > 0 && !all) return;  // later buckets wait for this one: same order
    pack(bucket);
    if (gpu_sum_ != nullptr) {  // queued on the stream after the copies: no thread needed
      gpu_sum_->sum(bucket.flat.mutable_data<float>(), bucket.flat.numel());
      bucket.reduced = true;
      continue;
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      queue_.push_back(next_to_start_);
    }
    work_.notify_one();
  }
}

void GradientReducer::reduce_loop() {
  while (true) {
    int64_t index;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      work_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, nothing left
      index = queue_.front();
      queue_.pop_front();
    }
    Bucket& bucket = buckets_[index];  // the training thread leaves it alone until `reduced`
    const SteadyClock::time_point start = SteadyClock::now();
    std::string failure;
    try {  // an exception must reach the training thread, not end the process from this one
      world_.all_reduce_sum(bucket.flat.mutable_data<float>(), bucket.flat.numel());
    } catch (const std::exception& error) {
      failure = absl::StrCat("summing gradient bucket ", index, " across ", world_.size(),
                             " processes failed: ", error.what());
    }
    const double seconds = seconds_since(start);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (failure_.empty()) failure_ = std::move(failure);
      bucket.reduced = true;
      thread_seconds_ += seconds;
    }
    done_.notify_all();
  }
}

// Copies through the device's runtime: memcpy on the CPU, the stream on a GPU.
void GradientReducer::pack(Bucket& bucket) {
  const Device device = bucket.flat.device();
  DeviceRuntime& runtime = device_runtime(device.type);
  float* out = bucket.flat.mutable_data<float>();
  for (int64_t i : bucket.parameters) {
    const Tensor grad = parameters_[i].grad();
    const size_t bytes = parameters_[i].numel() * sizeof(float);
    if (grad.defined()) {
      runtime.copy(out, device, grad.to_plain().data<float>(), device, bytes);
    } else {
      runtime.fill_zero(out, bytes, device.index);
    }
    out += parameters_[i].numel();
  }
}

void GradientReducer::unpack(const Bucket& bucket) {
  const Device device = bucket.flat.device();
  DeviceRuntime& runtime = device_runtime(device.type);
  const float* in = bucket.flat.data<float>();
  for (int64_t i : bucket.parameters) {
    Tensor& p = parameters_[i];
    Tensor grad = p.grad();  // the engine's .grad is plain and held by nobody else
    if (!grad.defined() || !grad.is_plain()) {
      grad = empty(p.shape(), DType::kFloat32, device);
      p.set_grad(grad);
    }
    runtime.copy(grad.mutable_data<float>(), device, in, device, p.numel() * sizeof(float));
    in += p.numel();
  }
}

void GradientReducer::finish() {
  start_ready_buckets(true);
  // GPU sums are queued on the stream, in order, ahead of unpack's copies: nothing to wait for.
  const SteadyClock::time_point start = SteadyClock::now();
  {
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [&] {
      for (const Bucket& bucket : buckets_) {
        if (!bucket.reduced) return false;
      }
      return true;
    });
    stats_.all_reduce_seconds = thread_seconds_;
    // The processes no longer agree on the gradients: the run cannot go on.
    if (!failure_.empty()) throw Error(failure_);
  }
  stats_.exposed_seconds += seconds_since(start);
  ++stats_.updates;
  for (Bucket& bucket : buckets_) {
    unpack(bucket);
    bucket.reduced = false;
    bucket.waiting = static_cast<int64_t>(bucket.parameters.size());
  }
  next_to_start_ = 0;
}

}  // namespace bitgrad
