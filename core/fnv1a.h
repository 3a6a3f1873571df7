// FNV-1a, 64 bits: a hash that is the same on every machine, compiler and run, unlike
// std::hash, for what must not change between runs (which images a test split holds out, the
// fingerprint of a training set a checkpoint records).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace bitgrad {

inline constexpr uint64_t kFnv1aStart = 0xcbf29ce484222325ull;

// Continues `hash` over `bytes` (start with kFnv1aStart).
inline uint64_t fnv1a(std::string_view bytes, uint64_t hash = kFnv1aStart) {
  for (unsigned char c : bytes) hash = (hash ^ c) * 0x100000001b3ull;
  return hash;
}

}  // namespace bitgrad
