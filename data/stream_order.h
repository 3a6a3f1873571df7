// The order in which training sees examples, as a pure function of (seed, position), and the
// seeds of per-example randomness. Nothing here depends on thread scheduling or on what was
// drawn before, so a run can start at any step (exact resume) with any number of workers.
//
// The training stream is endless: position p = step * batch + j (j-th example of a step's
// batch) lies in epoch e = p / N at offset p % N. Each epoch is a permutation of [0, N) drawn
// from derive_seed(seed, kShuffle, e); without shuffling, position p is example p % N. Batches
// run on across epoch boundaries, so every batch is full, also when the batch exceeds N.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

namespace bitgrad {

// What a derived seed is for, so that the streams never share numbers.
enum class SeedPurpose : uint64_t { kShuffle = 1, kAugment = 2, kFewShot = 3, kMixup = 4 };

// A well-mixed 64-bit seed from (seed, purpose, index), by splitmix64's finaliser.
uint64_t derive_seed(uint64_t seed, SeedPurpose purpose, uint64_t index);

class StreamOrder {
 public:
  StreamOrder(int64_t size, bool shuffle, uint64_t seed);

  int64_t size() const { return size_; }
  // The example at stream position p >= 0. Thread-safe.
  int64_t example(int64_t position) const;

 private:
  std::shared_ptr<const std::vector<int64_t>> permutation(int64_t epoch) const;

  int64_t size_;
  bool shuffle_;
  uint64_t seed_;
  mutable std::mutex mutex_;
  // The latest epochs' permutations; a cache, so evicting one only costs recomputing it.
  mutable std::map<int64_t, std::shared_ptr<const std::vector<int64_t>>> cache_;
};

}  // namespace bitgrad
