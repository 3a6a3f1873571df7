// FirstNonFinite on the CPU (contract: ops/non_finite.h). The tensors are cut into chunks that
// the threads share; a chunk is checked on its bits (a NaN or an infinity has every exponent bit
// set), integer work that vectorizes without reordering any float arithmetic. A chunk of a
// tensor after one already found is skipped, so the answer is the first whatever the threads do.
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <type_traits>

#include "ops/cpu/common/cpu_isa.h"
#include "ops/cpu/common/parallel.h"
#include "ops/non_finite.h"

namespace bitgrad::cpu {
namespace {

constexpr int64_t kChunkElements = 1 << 16;

// Whether x[0, n) holds a NaN or an infinity.
template <typename T>
BG_ALWAYS_INLINE bool any_non_finite(const void* data, int64_t n) {
  using Bits = std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>;
  constexpr Bits kExponent = static_cast<Bits>(sizeof(T) == 4 ? 0x7f800000u : 0x7ff0000000000000u);
  const T* x = static_cast<const T*>(data);
  Bits found = 0;
#pragma omp simd reduction(| : found)
  for (int64_t i = 0; i < n; ++i) {
    Bits bits;
    std::memcpy(&bits, x + i, sizeof bits);
    found |= static_cast<Bits>((bits & kExponent) == kExponent);
  }
  return found != 0;
}

// `count` elements of tensor `tensor` from `data`, and the check for its dtype.
struct Chunk {
  int64_t tensor;
  const void* data;
  int64_t count;
  bool (*any_non_finite)(const void*, int64_t);
};

int64_t first_non_finite_cpu(const std::vector<Tensor>& tensors) {
  std::vector<Chunk> chunks;
  int64_t elements = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    const auto [data, check] = BG_DISPATCH_FLOAT(t.dtype(), "first_non_finite", [&] {
      return std::make_pair(static_cast<const void*>(t.data<scalar_t>()),
                            for_active_isa<&any_non_finite<scalar_t>>());
    });
    const char* bytes = static_cast<const char*>(data);
    const int64_t item_bytes = static_cast<int64_t>(t.itemsize());
    for (int64_t begin = 0; begin < t.numel(); begin += kChunkElements) {
      chunks.push_back({static_cast<int64_t>(i), bytes + begin * item_bytes,
                        std::min(kChunkElements, t.numel() - begin), check});
    }
    elements += t.numel();
  }
  const int64_t none = static_cast<int64_t>(tensors.size());
  std::atomic<int64_t> first{none};
  const int64_t num_chunks = static_cast<int64_t>(chunks.size());
#pragma omp parallel for schedule(dynamic, 1) if (elements >= kParallelMinElements)
  for (int64_t c = 0; c < num_chunks; ++c) {
    const Chunk& chunk = chunks[c];
    if (chunk.tensor >= first.load(std::memory_order_relaxed)) continue;  // cannot be the first
    if (!chunk.any_non_finite(chunk.data, chunk.count)) continue;
    // first = min(first, chunk.tensor), against other threads doing the same.
    int64_t seen = first.load();
    while (chunk.tensor < seen && !first.compare_exchange_weak(seen, chunk.tensor)) continue;
  }
  const int64_t found = first.load();
  return found == none ? -1 : found;
}

}  // namespace

BG_REGISTER_KERNEL(FirstNonFinite, kCpu, first_non_finite_cpu);

}  // namespace bitgrad::cpu
