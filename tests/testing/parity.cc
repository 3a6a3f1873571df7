#include "tests/testing/parity.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_join.h"
#include "core/dispatch.h"
#include "core/profiler.h"
#include "core/random.h"
#include "ops/conv.h"
#include "ops/cpu/conv/direct.h"
#include "ops/cpu/common/onednn_layout.h"
#include "tests/testing/assertions.h"

namespace bitgrad::testing {
namespace {

struct Run {
  Tensor output;
  std::vector<Tensor> grads;
};

Run run(const Computation& fn, const std::vector<Tensor>& inputs, uint64_t seed, Device device) {
  std::vector<Tensor> leaves;
  for (const Tensor& input : inputs) {
    if (!input.defined()) {
      leaves.push_back(input);
      continue;
    }
    Tensor leaf = input.detach().clone().to(device);
    if (input.requires_grad()) leaf.set_requires_grad();
    leaves.push_back(leaf);
  }
  Run result;
  result.output = fn(leaves);
  if (result.output.requires_grad()) {
    Generator generator(seed);
    Tensor cotangent = randn(result.output.shape(), result.output.dtype(), Device::cpu(),
                             generator);
    result.output.backward(cotangent.to(device));
  }
  for (const Tensor& leaf : leaves) {
    result.grads.push_back(leaf.defined() && leaf.requires_grad() ? leaf.grad() : Tensor());
  }
  return result;
}

}  // namespace

::testing::AssertionResult close_to(const Tensor& actual, const Tensor& expected,
                                    const ParityOptions& options) {
  double scale = 0;
  for (double v : expected.to_vector<double>()) scale = std::max(scale, std::fabs(v));
  return all_close(actual, expected, options.rtol, options.atol * std::max(scale, 1e-3));
}

::testing::AssertionResult matches_reference(const Computation& fn,
                                             const std::vector<Tensor>& inputs,
                                             const ParityOptions& options) {
  // The fast run must use its backend's kernels: were none linked in, or did one fall back, the
  // comparison would hold the reference kernels to themselves.
  const bool profiled = !detail::profiler_running;
  Profiler profiler;
  if (profiled) profiler.start();
  Run fast = run(fn, inputs, options.seed, options.device);
  if (profiled) {
    profiler.stop();
    const std::vector<KernelTime> kernels = profiler.results();
    const auto is_ref = [](const KernelTime& k) {
      return k.backend == backend_name(Backend::kRef);
    };
    if (std::all_of(kernels.begin(), kernels.end(), is_ref)) {
      return ::testing::AssertionFailure()
             << "the fast run on " << options.device << " ran only reference kernels (are its "
             << "kernel libraries linked, with alwayslink = True?)";
    }
    std::vector<std::string> unexpected;
    for (const KernelTime& k : kernels) {
      const std::vector<std::string>& allowed = options.reference_fallbacks;
      if (is_ref(k) && std::find(allowed.begin(), allowed.end(), k.slot) == allowed.end()) {
        unexpected.push_back(k.slot);
      }
    }
    if (!unexpected.empty()) {
      return ::testing::AssertionFailure()
             << "the fast run on " << options.device << " sent " << absl::StrJoin(unexpected, ", ")
             << " to the reference kernels (ParityOptions::reference_fallbacks lists the slots "
                "that may)";
    }
  }
  Run ref;
  {
    BackendOverride reference(Backend::kRef);
    ref = run(fn, inputs, options.seed, Device::cpu());
  }
  ::testing::AssertionResult same = close_to(fast.output, ref.output, options);
  if (!same) return ::testing::AssertionFailure() << "output: " << same.message();
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!ref.grads[i].defined()) continue;
    if (!fast.grads[i].defined()) {
      return ::testing::AssertionFailure() << "no gradient for input " << i << " on "
                                           << options.device;
    }
    same = close_to(fast.grads[i], ref.grads[i], options);
    if (!same) {
      return ::testing::AssertionFailure() << "gradient of input " << i << ": " << same.message();
    }
  }
  return ::testing::AssertionSuccess();
}

ParityOptions allowing_reference_kernels(std::vector<std::string> slots) {
  ParityOptions options;
  options.reference_fallbacks = std::move(slots);
  return options;
}

Tensor random_input(const Shape& shape, bool requires_grad) {
  return random_input(shape, DType::kFloat32, requires_grad);
}

Tensor random_input(const Shape& shape, DType dtype, bool requires_grad) {
  Tensor t = randn(shape, dtype);
  if (requires_grad) t.set_requires_grad();
  return t;
}

Tensor random_float32_input_as(const Shape& shape, DType dtype) {
  return random_input(shape, /*requires_grad=*/false).to(dtype).set_requires_grad();
}

namespace {

// Element (i, ch, p) of an (N, C, H*W) tensor in nChw<k>c.
int64_t blocked_index(int64_t i, int64_t ch, int64_t p, int64_t c, int64_t hw, int64_t k) {
  return ((i * (c / k) + ch / k) * hw + p) * k + ch % k;
}

}  // namespace

std::vector<float> pack_blocked(const Tensor& plain, int64_t block) {
  const Shape& s = plain.shape();
  const int64_t n = s[0], c = s[1], hw = s[2] * s[3];
  const std::vector<float> values = plain.to_vector<float>();
  std::vector<float> packed(values.size());
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t ch = 0; ch < c; ++ch) {
      for (int64_t p = 0; p < hw; ++p) {
        packed[blocked_index(i, ch, p, c, hw, block)] = values[(i * c + ch) * hw + p];
      }
    }
  }
  return packed;
}

Tensor unpack_blocked(const std::vector<float>& packed, const Shape& shape, int64_t block) {
  const int64_t n = shape[0], c = shape[1], hw = shape[2] * shape[3];
  std::vector<float> values(packed.size());
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t ch = 0; ch < c; ++ch) {
      for (int64_t p = 0; p < hw; ++p) {
        values[(i * c + ch) * hw + p] = packed[blocked_index(i, ch, p, c, hw, block)];
      }
    }
  }
  return from_vector(values, shape);
}

Tensor blocked_input(const Shape& shape, bool requires_grad) {
  Tensor x = conv2d(randn({shape[0], 8, shape[2], shape[3]}), randn({shape[1], 8, 1, 1}));
  EXPECT_FALSE(x.is_plain());
  if (requires_grad) x = x.detach().set_requires_grad();
  return x;
}

std::string native_blocked_layout_name() {
  return "onednn:aBcd" + std::to_string(onednn::activation_channel_block()) + "b";
}

Tensor with_channel_block(const Tensor& plain, int64_t block) {
  Tensor blocked = onednn::empty_with_desc(plain.shape(), DType::kFloat32,
                                           onednn::desc_with_channel_block(plain.shape(), block));
  onednn::reorder(onednn::view(plain).memory, onednn::view(blocked).memory);
  return blocked;
}

::testing::AssertionResult padding_channels_are_zero(const Tensor& blocked) {
  const int64_t block = onednn::channel_block(blocked);
  if (block < 2) return ::testing::AssertionFailure() << "not channel-blocked: " << blocked.str();
  const int64_t channels = blocked.size(1), blocks = (channels + block - 1) / block;
  const int64_t pixels = blocked.size(2) * blocked.size(3);
  const float* raw = static_cast<const float*>(blocked.raw_data());
  for (int64_t n = 0; n < blocked.size(0); ++n) {
    for (int64_t p = 0; p < pixels; ++p) {
      const float* last_block = raw + ((n * blocks + blocks - 1) * pixels + p) * block;
      for (int64_t c = channels - (blocks - 1) * block; c < block; ++c) {
        if (last_block[c] != 0.0f) {
          return ::testing::AssertionFailure() << "padding lane " << c << " of sample " << n
                                               << ", pixel " << p << " holds " << last_block[c];
        }
      }
    }
  }
  return ::testing::AssertionSuccess();
}

}  // namespace bitgrad::testing
