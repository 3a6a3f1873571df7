// Decoded images of a file-backed ImageSet, kept in memory up to a byte budget, so that a
// few-shot run (the same 50 photos for 500 updates) decodes each file once instead of once per
// epoch. The images are the ones ImageSet::image returns, so batches built from the cache are
// bit-identical to batches built without it. Thread-safe: the loader's workers share one.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "absl/status/statusor.h"
#include "data/image_io.h"
#include "data/image_set.h"

namespace bitgrad {

class DecodedImageCache {
 public:
  // `set` must outlive the cache; every image is decoded at `at_least` (image_io.h).
  DecodedImageCache(const ImageSet& set, DecodeSize at_least, int64_t budget_bytes);

  // Example i, from memory when it was decoded before and fitted in the budget. Sets that hold
  // pixels rather than files are not cached (they are in memory already).
  absl::StatusOr<std::shared_ptr<const Image>> image(int64_t i);

  int64_t bytes() const;  // of the images held
  int64_t hits() const;   // image() calls answered from memory
  DecodeSize decode_size() const { return at_least_; }
  const ImageSet& set() const { return set_; }

 private:
  const ImageSet& set_;
  const DecodeSize at_least_;
  const int64_t budget_bytes_;
  mutable std::mutex mutex_;
  std::unordered_map<int64_t, std::shared_ptr<const Image>> images_;
  int64_t bytes_ = 0, hits_ = 0;
};

}  // namespace bitgrad
