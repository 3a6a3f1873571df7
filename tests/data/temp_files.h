// Files and folders written by tests under ::testing::TempDir().
#pragma once

#include <sys/resource.h>
#include <zlib.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <functional>
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

// Runs `write` under a file-size limit of `bytes` (RLIMIT_FSIZE, with SIGXFSZ ignored, which
// would otherwise kill the test): a stand-in for a full disk that cuts a write short. The limit
// and the signal's action are restored after.
template <typename Result>
Result with_file_size_limit(uint64_t bytes, const std::function<Result()>& write) {
  rlimit previous_limit;
  EXPECT_EQ(::getrlimit(RLIMIT_FSIZE, &previous_limit), 0);
  rlimit tight = previous_limit;
  tight.rlim_cur = bytes;
  const auto previous_handler = std::signal(SIGXFSZ, SIG_IGN);
  EXPECT_EQ(::setrlimit(RLIMIT_FSIZE, &tight), 0);
  Result result = write();
  EXPECT_EQ(::setrlimit(RLIMIT_FSIZE, &previous_limit), 0);
  std::signal(SIGXFSZ, previous_handler);
  return result;
}

// Writes `bytes` gzip-compressed to `path` (its folder must exist) and returns the path.
inline std::string write_gz_file(const std::string& path, const std::string& bytes) {
  gzFile file = gzopen(path.c_str(), "wb");
  if (file == nullptr) {
    ADD_FAILURE() << "cannot write " << path;
    return path;
  }
  gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(file);
  return path;
}

}  // namespace bitgrad::testing
