// Five SGD-momentum steps of the tiny BiT-R50 with a fixed mixup lambda and permutation
// (tests/golden/bit_tiny_r50_sgd.npz): the loss of every step, the loss after the last update,
// and per-parameter sums and sums of squares of the final weights, against PyTorch.
#include <cmath>
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
// Final parameter sums and sums of squares, scaled as in golden.h close(); measured: 4.5e-8.
constexpr double kFinalTol = 1e-5;

const std::string kWeights = "tests/golden/bit_tiny_r50.npz";

// The model's parameter names in the order of the arrays in the weights file.
std::vector<std::string> parameter_names_in_file_order(const BitResNetV2& model) {
  std::vector<std::string> names;
  absl::StatusOr<std::unique_ptr<NpzReader>> reader = NpzReader::open(kWeights);
  EXPECT_TRUE(reader.ok()) << reader.status();
  if (!reader.ok()) return names;
  const std::vector<BitParamSpec> specs = bit_param_specs(model.config());
  for (const NpzArrayInfo& info : (*reader)->arrays()) {
    for (const BitParamSpec& spec : specs) {
      if (spec.npz_key == info.key) names.push_back(spec.name);
    }
  }
  return names;
}

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

  // Sums in the order of the arrays in bit_tiny_r50.npz (the official order, which puts a unit's
  // projection right after its conv1, unlike the module order).
  const std::vector<std::string> names = parameter_names_in_file_order(model);
  ASSERT_EQ(names.size(), 153u);
  std::vector<double> sums, sums_of_squares;
  for (const std::string& name : names) {
    double sum = 0, sum_sq = 0;
    for (double v : model.parameter(name).to_vector<double>()) {
      sum += v;
      sum_sq += v * v;
    }
    sums.push_back(sum);
    sums_of_squares.push_back(sum_sq);
  }
  const Shape shape{static_cast<int64_t>(sums.size())};
  EXPECT_TRUE(close(from_vector(sums, shape).to(DType::kFloat32), f["final_sum"], kFinalTol));
  EXPECT_TRUE(close(from_vector(sums_of_squares, shape).to(DType::kFloat32), f["final_sumsq"],
                    kFinalTol));
  // And the trajectory really moved the weights: the initial ones do not match.
  absl::StatusOr<LoadedBitModel> initial =
      load_bit_model(kWeights, options);
  ASSERT_TRUE(initial.ok());
  std::vector<double> initial_sums;
  for (const std::string& name : names) {
    double sum = 0;
    for (double v : initial->model->parameter(name).to_vector<double>()) sum += v;
    initial_sums.push_back(sum);
  }
  EXPECT_FALSE(close(from_vector(initial_sums, shape).to(DType::kFloat32), f["final_sum"],
                     kFinalTol));
}

BG_GOLDEN_INSTANTIATE(SgdTrajectoryGoldenTest);

}  // namespace
}  // namespace bitgrad::golden
