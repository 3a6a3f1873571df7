#include "data/decoded_image_cache.h"

#include <utility>

namespace bitgrad {

DecodedImageCache::DecodedImageCache(const ImageSet& set, DecodeSize at_least,
                                     int64_t budget_bytes)
    : set_(set), at_least_(at_least), budget_bytes_(budget_bytes) {}

absl::StatusOr<std::shared_ptr<const Image>> DecodedImageCache::image(int64_t i) {
  const bool cacheable = !set_.files.empty() && budget_bytes_ > 0;
  if (cacheable) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (auto found = images_.find(i); found != images_.end()) {
      ++hits_;
      return found->second;
    }
  }
  // Decoded outside the lock, so workers decode in parallel; two may decode the same image
  // once, and the first to finish keeps it.
  absl::StatusOr<Image> decoded = set_.image(i, at_least_);
  if (!decoded.ok()) return decoded.status();
  auto image = std::make_shared<const Image>(*std::move(decoded));
  if (cacheable) {
    std::lock_guard<std::mutex> lock(mutex_);
    const int64_t size = static_cast<int64_t>(image->pixels.size());
    if (!images_.count(i) && bytes_ + size <= budget_bytes_) {
      images_.emplace(i, image);
      bytes_ += size;
    }
  }
  return image;
}

int64_t DecodedImageCache::bytes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return bytes_;
}

int64_t DecodedImageCache::hits() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return hits_;
}

}  // namespace bitgrad
