// Files and folders written by tests under ::testing::TempDir(), and the bytes of idx files.
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "gtest/gtest.h"

namespace bitgrad::testing {

// A fresh, empty folder TempDir()/name.
inline std::string fresh_temp_dir(const std::string& name) {
  const std::string dir = ::testing::TempDir() + "/" + name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// Writes `bytes` to `path` (creating its folder) and returns the path.
inline std::string write_file(const std::string& path, const std::string& bytes) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

inline std::string big_endian32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}

// An idx image file as MNIST ships them (data/idx_dataset.h): magic 0x803, count, rows, columns,
// then `pixels` (count * rows * cols bytes, or fewer to make a truncated file).
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
