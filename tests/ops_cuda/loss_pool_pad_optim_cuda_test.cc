// The CUDA softmax and sigmoid cross-entropy, max-pool, pad and SGD-update kernels against the
// reference kernels.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "core/random.h"
#include "ops/elementwise.h"
#include "ops/loss.h"
#include "ops/pad.h"
#include "ops/pool.h"
#include "ops/non_finite.h"
#include "ops/sgd_update.h"
#include "tests/ops_cuda/gpu_parity.h"
#include "tests/testing/assertions.h"
#include "tests/testing/gpu.h"

namespace bitgrad {
namespace {

using testing::all_close;
using testing::matches_reference;
using testing::on_gpu;
using testing::random_input;
using testing::throws_error;

// The targets of a (N, K) batch: class indices, soft rows like mixup's (two classes blended,
// the rest exactly 0) and multi-label rows (any values in [0, 1]).
std::vector<Tensor> targets_of(const Shape& shape, DType dtype) {
  std::vector<int64_t> labels;
  for (int64_t n = 0; n < shape[0]; ++n) labels.push_back((n * 7 + 3) % shape[1]);
  Tensor mixed = zeros(shape);
  for (int64_t n = 0; n < shape[0]; ++n) {
    mixed.at<float>({n, labels[n]}) += 0.7f;
    mixed.at<float>({n, (labels[n] + 1) % shape[1]}) += 0.3f;
  }
  return {from_vector(labels, {shape[0]}), mixed.to(dtype), rand(shape, 0.0, 1.0).to(dtype)};
}

// Rows of fewer than 32 classes (kBlockRowMinSize) take a thread each on the GPU, longer ones a
// block: 10 classes (CIFAR-10), 31 and 32 either side of the switch, and rows of 1000, longer
// than a block.
const std::vector<Shape> kLossShapes = {Shape{1, 1},   Shape{7, 5},   Shape{67, 10},
                                        Shape{67, 31}, Shape{67, 32}, Shape{33, 1000}};

// Both losses, every kind of target, every shape of kLossShapes, both dtypes; the logits are
// random values times `scale`.
void expect_losses_match_the_reference(double scale) {
  for (DType dtype : {DType::kFloat32, DType::kFloat64}) {
    for (const Shape& shape : kLossShapes) {
      SCOPED_TRACE(shape.str() + " " + dtype_name(dtype));
      for (LossFunction loss : {cross_entropy, sigmoid_cross_entropy}) {
        for (const Tensor& target : targets_of(shape, dtype)) {
          EXPECT_TRUE(matches_reference(
              [&](const std::vector<Tensor>& in) {
                return loss(in[0], target.to(in[0].device()));
              },
              {random_input(shape, dtype) * scale}, on_gpu(dtype)));
        }
      }
    }
  }
}

TEST(LossCudaTest, HardSoftAndMultiLabelTargetsMatchTheReference) {
  BG_REQUIRE_GPU();
  expect_losses_match_the_reference(4.0);
}

// Logits in the hundreds: most probabilities are exactly 0 and the losses large, yet finite, as
// the log-sum-exp (softplus for the sigmoid) keeps them, on either side of the switch.
TEST(LossCudaTest, ExtremeLogitsMatchTheReference) {
  BG_REQUIRE_GPU();
  expect_losses_match_the_reference(300.0);
}

TEST(CrossEntropyCudaTest, ALabelOutOfRangeNamesItsRow) {
  BG_REQUIRE_GPU();
  // 3 classes take a thread per row, 40 a block.
  for (int64_t classes : {3, 40}) {
    Tensor logits = randn({4, classes}).to(Device::cuda());
    Tensor labels = from_vector<int64_t>({0, 2, classes, 1}, {4}).to(Device::cuda());
    const std::string label = "label " + std::to_string(classes) + " in row 2";
    const std::string k = "K = " + std::to_string(classes);
    EXPECT_TRUE(throws_error([&] { cross_entropy(logits, labels); },
                             {"cross_entropy", label, k}));
    EXPECT_TRUE(throws_error([&] { sigmoid_cross_entropy(logits, labels); },
                             {"sigmoid_cross_entropy", label, k}));
  }
}

TEST(MaxPoolCudaTest, ForwardBackwardAndInferenceMatchTheReference) {
  BG_REQUIRE_GPU();
  struct Case {
    Shape x;
    Pool2dAttrs attrs;
  };
  for (const Case& c : std::vector<Case>{{{2, 3, 9, 9}, {{3, 3}, {2, 2}, {1, 1}}},  // BiT's stem
                                         {{2, 5, 8, 8}, {{2, 2}, {2, 2}, {0, 0}}},
                                         {{1, 4, 7, 10}, {{3, 2}, {1, 2}, {1, 0}}}}) {
    for (DType dtype : {DType::kFloat32, DType::kFloat64}) {
      SCOPED_TRACE(c.x.str() + " " + dtype_name(dtype));
      EXPECT_TRUE(matches_reference(
          [&](const std::vector<Tensor>& in) { return max_pool2d(in[0], c.attrs); },
          {random_input(c.x, dtype)}, on_gpu(dtype)));
      Tensor x = randn(c.x, dtype), expected;
      {
        BackendOverride reference(Backend::kRef);
        expected = call<MaxPool2dInference>(x, c.attrs);
      }
      EXPECT_TRUE(
          all_close(call<MaxPool2dInference>(x.to(Device::cuda()), c.attrs), expected, 0, 0));
    }
  }
}

// Ties go to the first element of the window and NaN wins, as in the reference: inputs rounded
// to a few values make ties common.
TEST(MaxPoolCudaTest, TiesAndNaNFollowTheReference) {
  BG_REQUIRE_GPU();
  Tensor x = randn({2, 3, 11, 11});
  std::vector<float> values = x.to_vector<float>();
  for (float& v : values) v = std::round(v);
  values[17] = std::numeric_limits<float>::quiet_NaN();
  x = from_vector(values, x.shape());
  const Pool2dAttrs attrs{{3, 3}, {2, 2}, {1, 1}};
  MaxPool2dResult expected;
  Tensor dy = randn(max_pool2d_output_shape(x.shape(), attrs));
  Tensor expected_dx;
  {
    BackendOverride reference(Backend::kRef);
    expected = call<MaxPool2dFwd>(x, attrs);
    expected_dx = call<MaxPool2dBwd>(dy, x, expected.workspace, attrs);
  }
  MaxPool2dResult gpu = call<MaxPool2dFwd>(x.to(Device::cuda()), attrs);
  EXPECT_EQ(gpu.workspace.to_vector<int64_t>(), expected.workspace.to_vector<int64_t>());
  Tensor dx = call<MaxPool2dBwd>(dy.to(Device::cuda()), x.to(Device::cuda()), gpu.workspace, attrs);
  EXPECT_TRUE(all_close(dx, expected_dx, 1e-6, 1e-6));
  std::vector<float> y = gpu.y.to_vector<float>(), y_ref = expected.y.to_vector<float>();
  for (size_t i = 0; i < y.size(); ++i) {
    EXPECT_TRUE(y[i] == y_ref[i] || (std::isnan(y[i]) && std::isnan(y_ref[i]))) << "output " << i;
  }
}

TEST(PadCudaTest, PaddingAndCroppingMatchTheReference) {
  BG_REQUIRE_GPU();
  // BiT's stem pad, an asymmetric pad of every dim, and a crop (negative amounts).
  for (const std::vector<int64_t>& pads :
       {std::vector<int64_t>{1, 1, 1, 1}, {0, 2, 3, 1, 1, 0, 2, 2}, {-1, 2, 0, -2}}) {
    for (DType dtype : {DType::kFloat32, DType::kFloat64}) {
      SCOPED_TRACE(::testing::Message() << "pads of size " << pads.size() << " first " << pads[0]
                                        << " " << dtype_name(dtype));
      EXPECT_TRUE(matches_reference(
          [&](const std::vector<Tensor>& in) { return pad(in[0], pads, 0.5); },
          {random_input({2, 3, 5, 7}, dtype)}, on_gpu(dtype)));
    }
  }
}

// Every parameter in one launch: tensors of odd sizes, one larger than a block's chunk.
TEST(SgdUpdateCudaTest, EveryOptionMatchesTheReference) {
  BG_REQUIRE_GPU();
  for (const SgdUpdateAttrs& attrs : std::vector<SgdUpdateAttrs>{
           {{0.1, 0.0, 0.0, 0.0, false}, false},
           {{0.03, 0.9, 0.0, 1e-4, false}, true},
           {{0.03, 0.9, 0.0, 1e-4, false}, false},
           {{0.01, 0.9, 0.1, 0.0, false}, false},
           {{0.01, 0.9, 0.0, 5e-4, true}, false}}) {
    for (DType dtype : {DType::kFloat32, DType::kFloat64}) {
      const SgdOptions& o = attrs.options;
      SCOPED_TRACE(::testing::Message() << "momentum " << o.momentum << " nesterov " << o.nesterov
                                        << " first " << attrs.first_step << " "
                                        << dtype_name(dtype));
      std::vector<Tensor> params, grads, buffers, params_gpu, grads_gpu, buffers_gpu;
      for (const Shape& shape : {Shape{1031, 3}, Shape{1}, Shape{200003}, Shape{64, 3, 7, 7}}) {
        params.push_back(randn(shape).to(dtype));
        grads.push_back(randn(shape).to(dtype));
        params_gpu.push_back(params.back().to(Device::cuda()));
        grads_gpu.push_back(grads.back().to(Device::cuda()));
        if (o.momentum != 0) {
          buffers.push_back(randn(shape).to(dtype));
          buffers_gpu.push_back(buffers.back().to(Device::cuda()));
        }
      }
      EXPECT_EQ(call<SgdUpdate>(params_gpu, grads_gpu, buffers_gpu, attrs), -1);
      {
        BackendOverride reference(Backend::kRef);
        EXPECT_EQ(call<SgdUpdate>(params, grads, buffers, attrs), -1);
      }
      // float64 as exactly as its rounding allows (a float32 computation would be 1e-7 off).
      const double tol = dtype == DType::kFloat64 ? 1e-14 : 1e-6;
      for (size_t i = 0; i < params.size(); ++i) {
        EXPECT_TRUE(all_close(params_gpu[i], params[i], tol, tol / 10)) << "parameter " << i;
        if (o.momentum != 0) {
          EXPECT_TRUE(all_close(buffers_gpu[i], buffers[i], tol, tol / 10)) << "buffer " << i;
        }
      }
    }
  }
}

// The update reports the first parameter it left non-finite, as the reference kernel does: an
// overflow from a finite gradient (float32) or a NaN gradient, in the last element of a tensor
// longer than a chunk, in a block other than the first.
TEST(SgdUpdateCudaTest, ReportsTheFirstParameterLeftNonFinite) {
  BG_REQUIRE_GPU();
  const std::vector<Shape> shapes = {Shape{1031, 3}, Shape{1}, Shape{200003}, Shape{5}};
  const SgdUpdateAttrs attrs{{1e10, 0.9, 0.0, 0.0, false}, true};
  for (const std::vector<size_t>& planted :
       std::vector<std::vector<size_t>>{{}, {2}, {3, 2}, {2, 0}, {1}}) {
    std::vector<Tensor> params, grads, buffers, params_gpu, grads_gpu, buffers_gpu;
    for (size_t i = 0; i < shapes.size(); ++i) {
      params.push_back(randn(shapes[i]));
      Tensor grad = randn(shapes[i]);
      const bool nan = i == 3;
      if (std::count(planted.begin(), planted.end(), i) > 0) {
        grad.mutable_data<float>()[grad.numel() - 1] = nan ? NAN : 1e30f;  // 1e40: -inf
      }
      grads.push_back(grad);
      buffers.push_back(zeros(shapes[i]));
      params_gpu.push_back(params.back().to(Device::cuda()));
      grads_gpu.push_back(grad.to(Device::cuda()));
      buffers_gpu.push_back(buffers.back().to(Device::cuda()));
    }
    const int64_t expected =
        planted.empty() ? -1 : *std::min_element(planted.begin(), planted.end());
    EXPECT_EQ(call<SgdUpdate>(params_gpu, grads_gpu, buffers_gpu, attrs), expected);
    BackendOverride reference(Backend::kRef);
    EXPECT_EQ(call<SgdUpdate>(params, grads, buffers, attrs), expected);
  }
}

// The GPU's answer is the reference kernel's for every set of tensors holding a NaN or an
// infinity (several at once: the first must win), at the first, middle or last element, on
// tensors of both dtypes, one of them longer than a chunk.
TEST(FirstNonFiniteCudaTest, MatchesTheReferenceKernel) {
  BG_REQUIRE_GPU();
  const std::vector<std::pair<Shape, DType>> specs = {{Shape{1031, 3}, DType::kFloat32},
                                                      {Shape{1}, DType::kFloat64},
                                                      {Shape{200003}, DType::kFloat32},
                                                      {Shape{0}, DType::kFloat32},
                                                      {Shape{64, 3, 7, 7}, DType::kFloat64}};
  const int count = static_cast<int>(specs.size());
  for (int bad_set = 0; bad_set < (1 << count); ++bad_set) {
    for (const char* where : {"first", "middle", "last"}) {
      const double value = bad_set % 2 ? std::nan("") : -static_cast<double>(INFINITY);
      std::vector<Tensor> host, device;
      for (int i = 0; i < count; ++i) {
        std::vector<double> values = randn(specs[i].first).to_vector<double>();
        if ((bad_set >> i & 1) && !values.empty()) {
          const size_t last = values.size() - 1;
          values[where[0] == 'f' ? 0 : where[0] == 'm' ? last / 2 : last] = value;
        }
        host.push_back(from_vector(values, specs[i].first).to(specs[i].second));
        device.push_back(host.back().to(Device::cuda()));
      }
      const int64_t on_gpu = first_non_finite(device);
      BackendOverride reference(Backend::kRef);
      EXPECT_EQ(on_gpu, first_non_finite(host)) << "bad tensors " << bad_set << ", " << where;
    }
  }
}

}  // namespace
}  // namespace bitgrad
