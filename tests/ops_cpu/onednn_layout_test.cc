// OnednnLayout tensors, the primitive cache, error translation and the implementation check.
#include "ops/cpu/common/onednn_layout.h"

#include <cstdio>
#include <cstdlib>

#include "core/random.h"
#include "gtest/gtest.h"
#include "ops/conv.h"
#include "ops/cpu/common/onednn_context.h"
#include "ops/cpu/conv/direct.h"
#include "tests/testing/address_space.h"
#include "tests/testing/assertions.h"
#include "tests/testing/parity.h"

namespace bitgrad {
namespace {

using testing::all_close;
using testing::throws_error;

// A blocked conv output and the same values computed (plain) by the reference kernel.
struct BlockedAndPlain {
  Tensor blocked, plain;
};

BlockedAndPlain blocked_and_plain(const Shape& x_shape, int64_t channels) {
  Tensor x = randn(x_shape);
  Tensor w = randn({channels, x_shape[1], 1, 1});
  BlockedAndPlain result{conv2d(x, w), Tensor()};
  BackendOverride reference(Backend::kRef);
  result.plain = conv2d(x, w);
  return result;
}

TEST(OnednnLayoutTest, TheConvsChooseAnEightOrSixteenChannelBlock) {
  const int64_t block = onednn::activation_channel_block();
  EXPECT_TRUE(block == 8 || block == 16) << block;
  EXPECT_EQ(testing::native_blocked_layout_name(), "onednn:aBcd" + std::to_string(block) + "b");
}

TEST(OnednnLayoutTest, BlockedTensorsConvertToPlainCorrectly) {
  const int64_t block = onednn::activation_channel_block();
  for (int64_t channels : {16, 5, 21}) {
    BlockedAndPlain t = blocked_and_plain({2, 8, 3, 5}, channels);
    ASSERT_FALSE(t.blocked.is_plain());
    EXPECT_EQ(t.blocked.opaque_layout()->name(), testing::native_blocked_layout_name());
    // Padded channel blocks take more bytes than the logical elements.
    const int64_t padded_channels = (channels + block - 1) / block * block;
    EXPECT_EQ(t.blocked.nbytes(), 2 * padded_channels * 3 * 5 * sizeof(float));
    Tensor plain = t.blocked.to_plain();
    EXPECT_TRUE(plain.is_plain());
    EXPECT_TRUE(all_close(plain, t.plain, 1e-5, 1e-5));
    EXPECT_TRUE(all_close(from_vector(t.blocked.to_vector<float>(), t.blocked.shape()), t.plain,
                          1e-5, 1e-5));
    EXPECT_TRUE(all_close(t.blocked.view({2, channels * 15}), t.plain.view({2, channels * 15}),
                          1e-5, 1e-5));
    EXPECT_TRUE(all_close(t.blocked.clone(), t.plain, 1e-5, 1e-5));
  }
}

TEST(OnednnLayoutTest, ChannelBlockDescribesTheLayoutForHandKernels) {
  BlockedAndPlain t = blocked_and_plain({2, 8, 3, 5}, 21);
  const int64_t block = onednn::channel_block(t.blocked);
  ASSERT_EQ(block, onednn::activation_channel_block());
  EXPECT_EQ(onednn::channel_block(t.plain), 1);
  // Element (n, c, h, w) sits where channel_block's comment says.
  const float* raw = static_cast<const float*>(t.blocked.raw_data());
  const int64_t blocks = (21 + block - 1) / block, hw = 15;
  for (int64_t n = 0; n < 2; ++n) {
    for (int64_t c = 0; c < 21; ++c) {
      for (int64_t p = 0; p < hw; ++p) {
        float expected = t.plain.data<float>()[(n * 21 + c) * hw + p];
        EXPECT_NEAR(raw[((n * blocks + c / block) * hw + p) * block + c % block], expected, 1e-4);
      }
    }
  }
  Tensor like = onednn::empty_like_layout(t.blocked);
  EXPECT_TRUE(like.opaque_layout()->same_as(*t.blocked.opaque_layout()));
  EXPECT_TRUE(onednn::empty_like_layout(t.plain).is_plain());
  // Converting between the two layouts keeps the values.
  Tensor blocked_copy = onednn::to_layout_of(t.plain, t.blocked);
  EXPECT_TRUE(blocked_copy.opaque_layout()->same_as(*t.blocked.opaque_layout()));
  EXPECT_TRUE(all_close(blocked_copy, t.plain, 0, 0));
  EXPECT_TRUE(onednn::to_layout_of(t.blocked, t.blocked).is_same(t.blocked));
  EXPECT_TRUE(onednn::to_layout_of(t.blocked, t.plain).is_plain());
}

TEST(OnednnLayoutTest, PrintingShowsTheValuesAndTheLayout) {
  Tensor x = from_vector<float>({1, 2, 3}, {1, 3, 1, 1});
  Tensor w = zeros({8, 3, 1, 1});
  for (int64_t o = 0; o < 8; ++o) w.at<float>({o, o % 3, 0, 0}) = static_cast<float>(o);
  Tensor y = conv2d(x, w);  // channel o holds o * x[o % 3]
  ASSERT_FALSE(y.is_plain());
  std::vector<float> expected = {0, 2, 6, 3, 8, 15, 6, 14};
  std::string plain_text = from_vector(expected, {1, 8, 1, 1}).str();
  EXPECT_EQ(y.str(), plain_text.substr(0, plain_text.size() - 1) + ", layout=" +
                         testing::native_blocked_layout_name() + ")");
  EXPECT_NE(y.str().find("15.0000"), std::string::npos);
}

TEST(OnednnLayoutTest, LayoutsCompareByDesc) {
  BlockedAndPlain a = blocked_and_plain({2, 8, 3, 5}, 16);
  BlockedAndPlain b = blocked_and_plain({2, 8, 3, 5}, 16);
  BlockedAndPlain c = blocked_and_plain({2, 8, 3, 5}, 24);
  EXPECT_TRUE(a.blocked.opaque_layout()->same_as(*b.blocked.opaque_layout()));
  EXPECT_FALSE(a.blocked.opaque_layout()->same_as(*c.blocked.opaque_layout()));
}

TEST(OnednnLayoutTest, ChannelBlockDescsAndChannelBlocksAgree) {
  for (int64_t block : {4, 8, 16}) {
    EXPECT_EQ(onednn::channel_block_of(onednn::desc_with_channel_block({2, 21, 3, 5}, block)),
              block);
  }
  EXPECT_EQ(onednn::channel_block_of(onednn::plain_desc({2, 21, 3, 5}, DType::kFloat32)), 1);
  EXPECT_TRUE(throws_error([] { onednn::desc_with_channel_block({2, 21, 3, 5}, 12); },
                           {"desc_with_channel_block", "12"}));
}

TEST(OnednnLayoutTest, PlainDescsGivePlainTensors) {
  Tensor t = onednn::empty_with_desc({2, 3}, DType::kFloat32,
                                     onednn::plain_desc({2, 3}, DType::kFloat32));
  EXPECT_TRUE(t.is_plain());
  EXPECT_EQ(onednn::format_tag_of(onednn::plain_desc({2, 3, 4, 5}, DType::kFloat32)),
            dnnl::memory::format_tag::abcd);
}

TEST(OnednnLayoutTest, PrimitivesAreCached) {
  Tensor x = randn({2, 8, 6, 6});
  Tensor w = randn({16, 8, 3, 3});
  conv2d(x, w);
  onednn::CacheStats before = onednn::cache_stats();
  conv2d(x, w);
  onednn::CacheStats after = onednn::cache_stats();
  EXPECT_EQ(after.misses, before.misses);
  EXPECT_GT(after.hits, before.hits);
  conv2d(randn({3, 8, 6, 6}), w);  // a new batch size is a new primitive
  EXPECT_GT(onednn::cache_stats().misses, after.misses);
}

// Warms oneDNN up, leaves 4 MB of address space, creates a primitive of a new shape, prints the
// error and exits 0 when it is an OutOfMemoryError.
[[noreturn]] void create_a_primitive_without_room() {
  conv2d(randn({1, 3, 6, 6}), randn({5, 3, 3, 3}));
  if (!testing::limit_address_space_to_current_plus(size_t{4} << 20)) std::_Exit(2);
  try {
    conv2d(randn({1, 3, 7, 5}), randn({5, 3, 3, 3}));
  } catch (const OutOfMemoryError& e) {
    std::fprintf(stderr, "%s\n", e.what());
    std::_Exit(0);
  }
  std::_Exit(1);
}

// Without the room for its JIT code, oneDNN 2.6 would die creating the primitive (SIGSEGV).
TEST(OnednnLayoutTest, APrimitiveWithoutRoomIsAnOutOfMemoryError) {
  if (!testing::address_space_limits_work()) GTEST_SKIP() << "no address-space limit fits";
  GTEST_FLAG_SET(death_test_style, "threadsafe");  // a fresh process: no OpenMP pool forked
  EXPECT_EXIT(create_a_primitive_without_room(), ::testing::ExitedWithCode(0),
              "out of memory creating its oneDNN primitive");
}

TEST(OnednnLayoutTest, CacheKeysSeeEveryPartOfADesc) {
  using dnnl::memory;
  auto key = [](const memory::desc& desc) { return onednn::CacheKey("k").add(desc).bytes(); };
  memory::desc nchw({2, 16, 3, 3}, memory::data_type::f32, memory::format_tag::nchw);
  memory::desc nhwc({2, 16, 3, 3}, memory::data_type::f32, memory::format_tag::nhwc);
  memory::desc blocked({2, 16, 3, 3}, memory::data_type::f32, memory::format_tag::nChw8c);
  memory::desc other({2, 16, 3, 4}, memory::data_type::f32, memory::format_tag::nchw);
  EXPECT_EQ(key(nchw),
            key(memory::desc({2, 16, 3, 3}, memory::data_type::f32, memory::format_tag::nchw)));
  EXPECT_NE(key(nchw), key(nhwc));
  EXPECT_NE(key(nchw), key(blocked));
  EXPECT_NE(key(nchw), key(other));
}

TEST(OnednnLayoutTest, DnnlErrorsBecomeBitgradErrors) {
  EXPECT_TRUE(throws_error(
      [] {
        onednn::translate_errors("my_op", [] {
          return dnnl::memory::desc({2, -3}, dnnl::memory::data_type::f32,
                                    dnnl::memory::format_tag::ab);
        });
      },
      {"my_op", "oneDNN"}));
  EXPECT_TRUE(throws_error([] { BG_DNNL_CHECK("my_op", dnnl_invalid_arguments); },
                           {"my_op", "invalid_arguments"}));
}

TEST(OnednnLayoutTest, ImplementationCheckRejectsReferenceKernels) {
  // The BUILD file sets BITGRAD_ONEDNN_CHECK_IMPL=1 for these tests.
  EXPECT_TRUE(onednn::check_implementation_enabled());
  using dnnl::memory;
  // eltwise on nChw8c with padded channels is one of oneDNN's reference fallbacks.
  memory::desc padded({2, 5, 3, 3}, memory::data_type::f32, memory::format_tag::nChw8c);
  dnnl::eltwise_forward::primitive_desc pd(
      dnnl::eltwise_forward::desc(dnnl::prop_kind::forward_inference,
                                  dnnl::algorithm::eltwise_linear, padded, 2.f, 1.f),
      onednn::engine());
  ASSERT_EQ(std::string(pd.impl_info_str()).substr(0, 3), "ref");
  EXPECT_TRUE(throws_error([&] { onednn::check_implementation("affine", pd); },
                           {"affine", "ref", "BITGRAD_ONEDNN_CHECK_IMPL"}));
  onednn::set_check_implementation(false);
  onednn::check_implementation("affine", pd);  // allowed now
  onednn::set_check_implementation(true);
}

}  // namespace
}  // namespace bitgrad
