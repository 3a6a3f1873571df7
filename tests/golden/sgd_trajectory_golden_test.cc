// Five SGD-momentum steps of the tiny BiT-R50 with a fixed mixup lambda and permutation
// (tests/golden/bit_tiny_r50_sgd.npz): the loss of every step, the loss after the last update,
// and what the updates did to every element of every parameter, against PyTorch.
#include <string>
#include <vector>

#include "autograd/grad_mode.h"
#include "models/bit_weights.h"
#include "ops/loss.h"
#include "optim/sgd.h"
#include "tests/golden/golden.h"

namespace bitgrad::golden {
namespace {

// README: a float32 torch run of the same trajectory differs from the stored (float64) losses
// by at most 5.4e-5. Measured with the reference kernels: at most 2.1e-5 (step 4).
constexpr double kLossAtol = 1e-4;
// Each parameter's change over the five updates, scaled as in golden.h close(); measured: at
// most 9.2e-5 of its scale, with either kernels.
constexpr double kChangeTol = 5e-4;

const std::string kWeights = "tests/golden/bit_tiny_r50.npz";

using SgdTrajectoryGoldenTest = GoldenTest;

TEST_P(SgdTrajectoryGoldenTest, FiveStepsMatchPyTorch) {
  BitModelOptions options;
  options.base_width = 4;
  options.num_groups = 2;
  absl::StatusOr<LoadedBitModel> loaded = load_bit_model(kWeights, options);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  BitResNetV2& model = *loaded->model;

  Fixture f("tests/golden/bit_tiny_r50_sgd.npz");
  const std::vector<int64_t> labels = f.ints("labels"), perm = f.ints("perm");
  const double lam = f.scalar("lam");
  const Tensor x_mixed = mixup_inputs(f["x"], perm, lam);
  const Tensor target = mixup_targets(labels, perm, lam, model.config().head_size);
  const std::vector<double> lrs = f["lr"].to_vector<double>();
  const std::vector<double> expected_losses = f["loss"].to_vector<double>();
  ASSERT_EQ(lrs.size(), 5u);

  SgdOptions sgd;
  sgd.lr = lrs[0];
  sgd.momentum = f.scalar("momentum");
  Sgd optimizer(model.named_parameters(), sgd);
  for (size_t step = 0; step < lrs.size(); ++step) {
    optimizer.set_lr(lrs[step]);
    optimizer.zero_grad();
    Tensor loss = cross_entropy(model.forward(x_mixed), target);
    EXPECT_NEAR(loss.item<double>(), expected_losses[step], kLossAtol) << "step " << step;
    loss.backward();
    optimizer.step();
  }
  {
    NoGradGuard no_grad;
    EXPECT_NEAR(cross_entropy(model.forward(x_mixed), target).item<double>(),
                f.scalar("final_loss"), kLossAtol)
        << "after the last update";
  }

  // Every element of every parameter's change, each on its own scale (golden.h close()).
  absl::StatusOr<LoadedBitModel> initial = load_bit_model(kWeights, options);
  ASSERT_TRUE(initial.ok()) << initial.status();
  int compared = 0;
  for (const BitParamSpec& spec : bit_param_specs(model.config())) {
    const Tensor& final_value = model.parameter(spec.name);
    std::vector<double> change = final_value.to_vector<double>();
    const std::vector<double> start = initial->model->parameter(spec.name).to_vector<double>();
    for (size_t i = 0; i < change.size(); ++i) change[i] -= start[i];
    EXPECT_TRUE(close(from_vector(change, final_value.shape()).to(DType::kFloat32),
                      f["change/" + spec.npz_key], kChangeTol))
        << spec.npz_key;
    ++compared;
  }
  EXPECT_EQ(compared, 153);
}

BG_GOLDEN_INSTANTIATE(SgdTrajectoryGoldenTest);

}  // namespace
}  // namespace bitgrad::golden
