#include "data/stream_order.h"

#include "core/random.h"

namespace bitgrad {
namespace {

constexpr size_t kCachedEpochs = 4;

uint64_t splitmix64(uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

uint64_t derive_seed(uint64_t seed, SeedPurpose purpose, uint64_t index) {
  return splitmix64(splitmix64(splitmix64(seed) ^ static_cast<uint64_t>(purpose)) ^ index);
}

StreamOrder::StreamOrder(int64_t size, bool shuffle, uint64_t seed)
    : size_(size), shuffle_(shuffle), seed_(seed) {
  BG_CHECK(size > 0, "StreamOrder: the data set is empty");
}

int64_t StreamOrder::example(int64_t position) const {
  BG_CHECK(position >= 0, "StreamOrder::example: negative position ", position);
  if (!shuffle_) return position % size_;
  return (*permutation(position / size_))[position % size_];
}

std::shared_ptr<const std::vector<int64_t>> StreamOrder::permutation(int64_t epoch) const {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (auto hit = cache_.find(epoch); hit != cache_.end()) return hit->second;
  }
  Generator generator(derive_seed(seed_, SeedPurpose::kShuffle, epoch));
  auto perm = std::make_shared<const std::vector<int64_t>>(
      randperm(size_, generator).to_vector<int64_t>());
  std::lock_guard<std::mutex> lock(mutex_);
  cache_.emplace(epoch, perm);
  if (cache_.size() > kCachedEpochs) cache_.erase(cache_.begin());  // the oldest epoch
  return perm;
}

}  // namespace bitgrad
