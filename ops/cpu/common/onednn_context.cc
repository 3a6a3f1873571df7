#include "ops/cpu/common/onednn_context.h"

#include <omp.h>
#include <sys/mman.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <oneapi/dnnl/dnnl_debug.h>

#include "core/storage.h"
#include "core/tensor.h"

namespace bitgrad::onednn {
namespace {

std::atomic<int64_t> cache_hits{0};
std::atomic<int64_t> cache_misses{0};

std::atomic<bool>& check_implementation_flag() {
  static std::atomic<bool> enabled = [] {
    const char* env = std::getenv("BITGRAD_ONEDNN_CHECK_IMPL");
    return env != nullptr && std::strcmp(env, "1") == 0;
  }();
  return enabled;
}

// Grows to the largest scratchpad any primitive on this thread has asked for; the bytes come
// from bitgrad's caching allocator.
void* scratchpad_buffer(size_t nbytes) {
  thread_local Tensor buffer;
  if (!buffer.defined() || static_cast<size_t>(buffer.numel()) < nbytes) {
    buffer = Tensor();  // hand the old buffer back before asking for a bigger one
    buffer = empty({static_cast<int64_t>(nbytes)}, DType::kUInt8);
  }
  return buffer.mutable_raw_data();
}

}  // namespace

dnnl::engine& engine() {
  static dnnl::engine cpu_engine(dnnl::engine::kind::cpu, 0);
  return cpu_engine;
}

dnnl::stream& stream() {
  thread_local dnnl::stream thread_stream(engine());
  return thread_stream;
}

void throw_dnnl_error(const char* op, dnnl_status_t status, const char* what) {
  throw Error(::bitgrad::detail::str_cat(op, ": oneDNN failed with status ",
                                         dnnl_status2str(status), " (", what, ")"));
}

void sgemm(const char* op_name, bool transpose_a, bool transpose_b, int64_t m, int64_t n,
           int64_t k, const float* a, const float* b, float* c) {
  // dnnl_sgemm generates its JIT kernels on its first call, as unchecked as a primitive's.
  static std::atomic<bool> kernels_generated{false};
  if (!kernels_generated.load(std::memory_order_relaxed)) {
    detail::ensure_room_for_primitive(op_name);
  }
  BG_DNNL_CHECK(op_name,
                dnnl_sgemm(transpose_a ? 'T' : 'N', transpose_b ? 'T' : 'N', m, n, k, 1.0f, a,
                           transpose_a ? m : k, b, transpose_b ? k : n, 0.0f, c, n));
  kernels_generated.store(true, std::memory_order_relaxed);
}

dnnl::primitive_attr default_attr() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

void set_check_implementation(bool enabled) { check_implementation_flag() = enabled; }
bool check_implementation_enabled() { return check_implementation_flag(); }

void check_implementation(const char* op, const dnnl::primitive_desc_base& pd) {
  if (!check_implementation_enabled()) return;
  const char* impl = pd.impl_info_str();
  BG_CHECK(std::strncmp(impl, "ref", 3) != 0, op, ": oneDNN chose the slow reference ",
           "implementation '", impl, "' (BITGRAD_ONEDNN_CHECK_IMPL=1 forbids it); the operand ",
           "layouts probably do not match");
}

CacheKey::CacheKey(const char* op) : op_(op) {
  bytes_ = op;
  bytes_.push_back('\0');
  add(static_cast<int64_t>(omp_get_max_threads()));  // primitives plan their work split
}

CacheKey& CacheKey::add(int64_t value) {
  append(&value, sizeof value);
  return *this;
}

CacheKey& CacheKey::add(double value) {
  append(&value, sizeof value);
  return *this;
}

CacheKey& CacheKey::add(const dnnl::memory::dims& dims) {
  add(static_cast<int64_t>(dims.size()));
  append(dims.data(), dims.size() * sizeof(dims[0]));
  return *this;
}

// Field by field: the struct has padding and a union, so its raw bytes are not a key.
CacheKey& CacheKey::add(const dnnl::memory::desc& desc) {
  const dnnl_memory_desc_t& md = desc.data;
  int64_t n = md.ndims;
  add(n);
  append(md.dims, n * sizeof(md.dims[0]));
  append(md.padded_dims, n * sizeof(md.padded_dims[0]));
  append(md.padded_offsets, n * sizeof(md.padded_offsets[0]));
  add(static_cast<int64_t>(md.data_type));
  add(static_cast<int64_t>(md.offset0));
  add(static_cast<int64_t>(md.format_kind));
  add(static_cast<int64_t>(md.extra.flags));
  if (md.format_kind == dnnl_blocked) {
    const dnnl_blocking_desc_t& blocking = md.format_desc.blocking;
    append(blocking.strides, n * sizeof(blocking.strides[0]));
    add(static_cast<int64_t>(blocking.inner_nblks));
    append(blocking.inner_blks, blocking.inner_nblks * sizeof(blocking.inner_blks[0]));
    append(blocking.inner_idxs, blocking.inner_nblks * sizeof(blocking.inner_idxs[0]));
  }
  return *this;
}

CacheStats cache_stats() { return {cache_hits.load(), cache_misses.load()}; }

namespace detail {
void count_cache_lookup(bool hit) { ++(hit ? cache_hits : cache_misses); }

// oneDNN 2.6 builds its code generator without exceptions and does not check that the buffer for
// a kernel's machine code was mapped: under an address-space or commit limit (ulimit -v,
// vm.overcommit_memory=2), creating a primitive died with SIGSEGV. A mapping that is never
// touched costs no memory, only the room, and a few microseconds once per new primitive.
void ensure_room_for_primitive(const char* op) {
  constexpr size_t kRoom = size_t{16} << 20;  // many times the code of the largest primitive
  auto map_room = [] {
    return mmap(nullptr, kRoom, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  };
  void* room = map_room();
  if (room == MAP_FAILED) {
    cpu_empty_cache();  // try once more with the tensors' cached memory handed back
    room = map_room();
  }
  if (room == MAP_FAILED) {
    throw OutOfMemoryError(::bitgrad::detail::str_cat(
        op, ": out of memory creating its oneDNN primitive (no room for ", kRoom >> 20,
        " MB of address space: ", std::strerror(errno), ")"));
  }
  munmap(room, kRoom);
}
}  // namespace detail

void execute(const char* op, const dnnl::primitive& primitive,
             const dnnl::memory::desc& scratchpad, std::unordered_map<int, dnnl::memory> args) {
  translate_errors(op, [&] {
    size_t nbytes = scratchpad.get_size();
    if (nbytes > 0) {
      args[DNNL_ARG_SCRATCHPAD] = dnnl::memory(scratchpad, engine(), scratchpad_buffer(nbytes));
    }
    primitive.execute(stream(), args);
    stream().wait();
  });
}

}  // namespace bitgrad::onednn
