// The oneDNN runtime shared by the CPU kernels: the engine and stream, error translation, the
// primitive cache, the user-mode scratchpad and the "no reference implementation" check.
//
// A kernel builds a CacheKey from everything its primitive depends on, gets the primitive (and
// its primitive descriptor, which oneDNN itself never caches) from cached_primitive(), and runs
// it with execute(), which supplies the scratchpad:
//
//   CacheKey key("relu_fwd");
//   key.add(src_desc);
//   auto relu = cached_primitive<dnnl::eltwise_forward::primitive_desc>(key, [&] {
//     return dnnl::eltwise_forward::primitive_desc(desc, default_attr(), engine());
//   });
//   execute("relu", relu, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}});
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>

#include <oneapi/dnnl/dnnl.hpp>

#include "core/check.h"
#include "core/dispatch.h"

namespace bitgrad::onednn {

dnnl::engine& engine();
dnnl::stream& stream();  // one per thread

// Throws a bitgrad::Error naming `op` for a failed oneDNN C API status.
#define BG_DNNL_CHECK(op, status_expr)                                                     \
  do {                                                                                     \
    dnnl_status_t bg_dnnl_status = (status_expr);                                          \
    if (bg_dnnl_status != dnnl_success) {                                                  \
      ::bitgrad::onednn::throw_dnnl_error(op, bg_dnnl_status, #status_expr);               \
    }                                                                                      \
  } while (0)

[[noreturn]] void throw_dnnl_error(const char* op, dnnl_status_t status, const char* what);

// Row-major, dense C (m, n) = op(A) * op(B), op = transpose where asked (dnnl_sgemm, threaded
// by oneDNN); a failure throws an Error naming `op_name`.
void sgemm(const char* op_name, bool transpose_a, bool transpose_b, int64_t m, int64_t n,
           int64_t k, const float* a, const float* b, float* c);

// Runs `body`, turning a dnnl::error thrown by the C++ API into a bitgrad::Error naming `op`.
template <typename Body>
decltype(auto) translate_errors(const char* op, Body&& body) {
  try {
    return body();
  } catch (const dnnl::error& e) {
    throw_dnnl_error(op, e.status, e.what());
  }
}

// Runs the reference kernel of `Slot` (for float64 and the cases oneDNN cannot do well).
template <typename Slot, typename... Args>
decltype(auto) run_reference(const Args&... args) {
  BackendOverride reference(Backend::kRef);
  return call<Slot>(args...);
}

// Every primitive is created with a user-mode scratchpad: execute() lends it one buffer per
// thread instead of each primitive holding its own.
dnnl::primitive_attr default_attr();

// With BITGRAD_ONEDNN_CHECK_IMPL=1 in the environment (or after set_check_implementation(true)),
// creating a primitive whose implementation is a slow reference one ("ref:any") throws.
void set_check_implementation(bool enabled);
bool check_implementation_enabled();
void check_implementation(const char* op, const dnnl::primitive_desc_base& pd);

// The identity of a primitive: op name, the thread count, then whatever the op adds (shapes,
// attributes, memory descs, dtype). Two calls with equal keys may share a primitive.
class CacheKey {
 public:
  explicit CacheKey(const char* op);
  CacheKey& add(int64_t value);
  CacheKey& add(double value);
  CacheKey& add(const dnnl::memory::dims& dims);
  CacheKey& add(const dnnl::memory::desc& desc);
  const char* op() const { return op_; }
  const std::string& bytes() const { return bytes_; }

 private:
  void append(const void* data, size_t size) {
    bytes_.append(static_cast<const char*>(data), size);
  }
  const char* op_;
  std::string bytes_;
};

// A primitive and its typed descriptor, which kernels query for the layouts it chose.
template <typename Pd>
struct CachedPrimitive {
  Pd pd;
  dnnl::primitive primitive;
  dnnl::memory::desc scratchpad;
};

struct CacheStats {
  int64_t hits = 0;
  int64_t misses = 0;
};
CacheStats cache_stats();

namespace detail {
void count_cache_lookup(bool hit);
// Throws OutOfMemoryError naming `op` unless the address space has room for creating a
// primitive: oneDNN 2.6 writes its JIT code through a null pointer when it cannot map memory.
void ensure_room_for_primitive(const char* op);
// Above this many entries per primitive type the cache is dropped and refilled: a safety valve
// for programs that see endless new shapes; training sees the same few hundred every step.
constexpr size_t kMaxCachedPrimitives = 4096;

template <typename Pd>
struct PrimitiveCache {
  std::mutex mutex;
  std::unordered_map<std::string, CachedPrimitive<Pd>> entries;
};

template <typename Pd>
PrimitiveCache<Pd>& primitive_cache() {  // one per primitive type
  static PrimitiveCache<Pd> cache;
  return cache;
}
}  // namespace detail

// Returns the cached primitive for `key`, creating it from make_pd() on the first call.
template <typename Pd, typename MakePd>
CachedPrimitive<Pd> cached_primitive(const CacheKey& key, MakePd&& make_pd) {
  detail::PrimitiveCache<Pd>& cache = detail::primitive_cache<Pd>();
  {
    std::lock_guard<std::mutex> lock(cache.mutex);
    auto it = cache.entries.find(key.bytes());
    detail::count_cache_lookup(it != cache.entries.end());
    if (it != cache.entries.end()) return it->second;
  }
  CachedPrimitive<Pd> entry = translate_errors(key.op(), [&] {
    Pd pd = make_pd();
    check_implementation(key.op(), pd);
    detail::ensure_room_for_primitive(key.op());
    return CachedPrimitive<Pd>{pd, dnnl::primitive(pd.get()), pd.scratchpad_desc()};
  });
  std::lock_guard<std::mutex> lock(cache.mutex);
  if (cache.entries.size() >= detail::kMaxCachedPrimitives) cache.entries.clear();
  cache.entries.emplace(key.bytes(), entry);
  return entry;
}

// Runs a primitive on the thread's stream and waits for it, supplying the scratchpad.
void execute(const char* op, const dnnl::primitive& primitive,
             const dnnl::memory::desc& scratchpad, std::unordered_map<int, dnnl::memory> args);

template <typename Pd>
void execute(const char* op, const CachedPrimitive<Pd>& cached,
             std::unordered_map<int, dnnl::memory> args) {
  execute(op, cached.primitive, cached.scratchpad, std::move(args));
}

}  // namespace bitgrad::onednn
