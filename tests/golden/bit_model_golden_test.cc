// The tiny BiT models of tools/golden against PyTorch: logits, loss, every stage's activations,
// the input gradient and (R50) every parameter gradient.
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "models/bit_weights.h"
#include "ops/loss.h"
#include "ops/reshape.h"
#include "tests/golden/golden.h"

namespace bitgrad::golden {
namespace {

// Scaled errors (golden.h close()). The reference kernels accumulate in double: measured at most
// 2.5e-6 forward and 2.7e-5 for gradients. Fast kernels accumulate in float32, which the
// narrowest model (R101 with base_width 2: one channel per GroupNorm group, 33 units) amplifies:
// with the oneDNN CPU kernels, measured at most 1.1e-4 forward and 3.2e-4 for gradients. The
// README's promise for a float32 implementation is about 1e-4.
struct Tolerances {
  double forward, grad;
};
constexpr Tolerances kRefTol{3e-5, 3e-4};
constexpr Tolerances kFastTol{3e-4, 1e-3};

struct ModelCase {
  std::string name;  // the weights file
  std::string io;    // the fixture of its forward and backward
  int64_t base_width;
  int64_t num_groups;
  bool has_param_grads;
};

const ModelCase kR50{"bit_tiny_r50", "bit_tiny_r50_io", 4, 2, true};
// At 64x64 the last two stages see 4x4 and 2x2 maps, not 2x2 and 1x1.
const ModelCase kR50At64{"bit_tiny_r50", "bit_tiny_r50_io64", 4, 2, true};
const ModelCase kR101{"bit_tiny_r101", "bit_tiny_r101_io", 2, 2, false};

std::string fixture_path(const std::string& name) { return "tests/golden/" + name + ".npz"; }

std::shared_ptr<BitResNetV2> load_model(const ModelCase& c) {
  BitModelOptions options;
  options.base_width = c.base_width;
  options.num_groups = c.num_groups;
  absl::StatusOr<LoadedBitModel> loaded = load_bit_model(fixture_path(c.name), options);
  EXPECT_TRUE(loaded.ok()) << loaded.status();
  return loaded.ok() ? loaded->model : nullptr;
}

// The forward pass in the pieces the fixture records: act/root ... act/prelogits, and logits.
std::map<std::string, Tensor> staged_forward(BitResNetV2& model, const Tensor& x) {
  std::map<std::string, Tensor> out;
  out["act/root"] = model.root->conv->forward(x);
  Tensor h = model.root->pool->forward(out["act/root"]);
  out["act/pool"] = h;
  const std::vector<BitUnitSpec> specs = bit_units(model.config());
  for (size_t i = 0; i < specs.size(); ++i) {
    h = model.units[i]->forward(h);
    if (i + 1 == specs.size() || specs[i + 1].block != specs[i].block) {
      out["act/block" + std::to_string(specs[i].block)] = h;
    }
  }
  const Tensor pooled = model.head->pre_logits(h);
  out["act/prelogits"] = flatten(pooled, 1);
  out["logits"] = model.head->logits(pooled);
  return out;
}

class BitModelGoldenTest : public GoldenTest {
 protected:
  const Tolerances& tol() const { return GetParam() == Kernels::kRef ? kRefTol : kFastTol; }

  void check_forward(const ModelCase& c) {
    SCOPED_TRACE(c.io);
    auto model = load_model(c);
    ASSERT_NE(model, nullptr);
    Fixture io(fixture_path(c.io));
    const Tensor x = io["x"];
    std::map<std::string, Tensor> staged = staged_forward(*model, x);
    for (const auto& [key, actual] : staged) {
      EXPECT_TRUE(close(actual, io[key], tol().forward)) << key;
    }
    const Tensor loss = cross_entropy(staged["logits"], io.integers("labels"));
    EXPECT_NEAR(loss.item<double>(), io.scalar("loss"), tol().forward * io.scalar("loss"));
    // forward() is the same computation; eval mode (cached standardized kernels) too.
    EXPECT_TRUE(close(model->forward(x), io["logits"], tol().forward));
    model->eval();
    EXPECT_TRUE(close(model->forward(x), io["logits"], tol().forward)) << "eval mode";
    EXPECT_TRUE(close(model->forward(x), io["logits"], tol().forward)) << "eval mode, cached";
  }

  void check_backward(const ModelCase& c) {
    SCOPED_TRACE(c.io);
    auto model = load_model(c);
    ASSERT_NE(model, nullptr);
    Fixture io(fixture_path(c.io));
    Tensor x = io["x"].clone();
    x.set_requires_grad(true);
    cross_entropy(model->forward(x), io.integers("labels")).backward();
    EXPECT_TRUE(close(x.grad(), io["grad/x"], tol().grad)) << "grad/x";
    if (!c.has_param_grads) return;
    int checked = 0;
    for (const BitParamSpec& spec : bit_param_specs(model->config())) {
      const Tensor grad = model->parameter(spec.name).grad();
      ASSERT_TRUE(grad.defined()) << spec.name;
      EXPECT_TRUE(close(grad, hwio_to_oihw(io["grad/" + spec.npz_key]), tol().grad)) << spec.name;
      ++checked;
    }
    EXPECT_EQ(checked, 153);
  }
};

TEST_P(BitModelGoldenTest, R50Forward) { check_forward(kR50); }
TEST_P(BitModelGoldenTest, R50Backward) { check_backward(kR50); }
TEST_P(BitModelGoldenTest, R50At64Forward) { check_forward(kR50At64); }
TEST_P(BitModelGoldenTest, R50At64Backward) { check_backward(kR50At64); }
TEST_P(BitModelGoldenTest, R101Forward) { check_forward(kR101); }
TEST_P(BitModelGoldenTest, R101InputGradient) { check_backward(kR101); }

BG_GOLDEN_INSTANTIATE(BitModelGoldenTest);

}  // namespace
}  // namespace bitgrad::golden
