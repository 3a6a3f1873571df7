// The bytes of idx files as MNIST ships them (data/idx_dataset.h), for tests and fuzz seeds.
#pragma once

#include <cstdint>
#include <string>

namespace bitgrad::testing {

inline std::string big_endian32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}

// An idx image file: magic 0x803, count, rows, columns, then `pixels` (count * rows * cols
// bytes, or fewer to make a truncated file).
inline std::string idx_images_file(uint32_t count, uint32_t rows, uint32_t cols,
                                   const std::string& pixels) {
  return big_endian32(0x803) + big_endian32(count) + big_endian32(rows) + big_endian32(cols) +
         pixels;
}

// An idx label file: magic 0x801, the count, one byte per label.
inline std::string idx_labels_file(const std::string& labels) {
  return big_endian32(0x801) + big_endian32(static_cast<uint32_t>(labels.size())) + labels;
}

}  // namespace bitgrad::testing
