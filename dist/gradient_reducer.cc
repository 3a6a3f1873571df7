#include "dist/gradient_reducer.h"

#include <cstring>

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
    if (device.is_cpu()) {
      bucket.flat.resize(elements);
    } else {
      bucket.device_flat = empty({elements}, DType::kFloat32, device);
    }
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
    if (gpu_sum_ != nullptr) {
      start_on_gpu(bucket);
      continue;
    }
    float* out = bucket.flat.data();
    for (int64_t i : bucket.parameters) {
      const Tensor grad = parameters_[i].grad();
      const int64_t n = parameters_[i].numel();
      if (grad.defined()) {
        std::memcpy(out, grad.to_plain().data<float>(), n * sizeof(float));
      } else {
        std::memset(out, 0, n * sizeof(float));
      }
      out += n;
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
    world_.all_reduce_sum(bucket.flat.data(), static_cast<int64_t>(bucket.flat.size()));
    const double seconds = seconds_since(start);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      bucket.reduced = true;
      thread_seconds_ += seconds;
    }
    done_.notify_all();
  }
}

void GradientReducer::start_on_gpu(Bucket& bucket) {
  DeviceRuntime& gpu = device_runtime(DeviceType::kCUDA);
  const Device device = bucket.device_flat.device();
  float* flat = bucket.device_flat.mutable_data<float>();
  int64_t offset = 0;
  for (int64_t i : bucket.parameters) {
    const Tensor grad = parameters_[i].grad();
    const size_t bytes = parameters_[i].numel() * sizeof(float);
    if (grad.defined()) {
      gpu.copy(flat + offset, device, grad.to_plain().data<float>(), device, bytes);
    } else {
      gpu.fill_zero(flat + offset, bytes, device.index);
    }
    offset += parameters_[i].numel();
  }
  gpu_sum_->sum(flat, offset);  // after the copies on the stream, before write_back_from_gpu's
  bucket.reduced = true;
}

void GradientReducer::write_back_from_gpu(const Bucket& bucket) {
  DeviceRuntime& gpu = device_runtime(DeviceType::kCUDA);
  const Device device = bucket.device_flat.device();
  const float* flat = bucket.device_flat.data<float>();
  for (int64_t i : bucket.parameters) {
    Tensor& p = parameters_[i];
    Tensor grad = p.grad();
    if (!grad.defined() || !grad.is_plain()) {
      grad = empty(p.shape(), DType::kFloat32, device);
      p.set_grad(grad);
    }
    gpu.copy(grad.mutable_data<float>(), device, flat, device, p.numel() * sizeof(float));
    flat += p.numel();
  }
}

void GradientReducer::finish() {
  start_ready_buckets(true);
  if (gpu_sum_ != nullptr) {  // the sums are queued on the stream, in order: nothing to wait for
    ++stats_.updates;
    for (Bucket& bucket : buckets_) {
      write_back_from_gpu(bucket);
      bucket.reduced = false;
      bucket.waiting = static_cast<int64_t>(bucket.parameters.size());
    }
    next_to_start_ = 0;
    return;
  }
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
  }
  stats_.exposed_seconds += seconds_since(start);
  ++stats_.updates;
  for (Bucket& bucket : buckets_) {
    const float* in = bucket.flat.data();
    for (int64_t i : bucket.parameters) {
      Tensor& p = parameters_[i];
      Tensor grad = p.grad();  // the engine's .grad is plain and held by nobody else
      if (!grad.defined() || !grad.is_plain()) {
        grad = empty(p.shape());
        p.set_grad(grad);
      }
      std::memcpy(grad.mutable_data<float>(), in, p.numel() * sizeof(float));
      in += p.numel();
    }
    bucket.reduced = false;
    bucket.waiting = static_cast<int64_t>(bucket.parameters.size());
  }
  next_to_start_ = 0;
}

}  // namespace bitgrad
