#include "dist/gradient_reducer.h"

#include <cstring>

#include "core/check.h"
#include "core/stopwatch.h"

namespace bitgrad {

GradientReducer::GradientReducer(std::vector<Tensor> parameters, Communicator& world,
                                 int64_t bucket_bytes)
    : parameters_(std::move(parameters)), bucket_of_(parameters_.size()), world_(world) {
  BG_CHECK(bucket_bytes > 0, "GradientReducer: bucket_bytes must be positive, got ",
           bucket_bytes);
  int64_t bucket_size = 0;
  for (int64_t i = static_cast<int64_t>(parameters_.size()) - 1; i >= 0; --i) {
    Tensor& p = parameters_[i];
    BG_CHECK(p.dtype() == DType::kFloat32 && p.device().is_cpu(),
             "GradientReducer: parameter ", i, " is ", dtype_name(p.dtype()), " on ",
             p.device().str(), "; data parallelism handles float32 CPU parameters");
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
    bucket.flat.resize(elements);
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

void GradientReducer::finish() {
  start_ready_buckets(true);
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
