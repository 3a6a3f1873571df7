#include "models/train_state.h"

#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "ops/loss.h"
#include "tests/testing/assertions.h"

namespace bitgrad {
namespace {

using testing::fails_naming;
using testing::same_bits;

constexpr int64_t kHeadSize = 5;
const std::vector<std::string> kClassNames = {"cat", "dog", "", "sea lion", "ünïcode"};
const std::map<std::string, std::string> kRunFacts = {{"dataset", "npz:tiny.npz"}};
constexpr int64_t kBatch = 2;
constexpr int64_t kSize = 32;

// The tiny BiT of the golden fixtures: R50 wiring, base_width 4, GroupNorm with 2 groups.
BitConfig tiny_config(uint64_t seed, int depth = 50, int64_t head_size = kHeadSize) {
  BitConfig config;
  config.depth = depth;
  config.base_width = 4;
  config.num_groups = 2;
  config.head_size = head_size;
  config.seed = seed;
  return config;
}

SgdOptions sgd_options() {
  SgdOptions options;
  options.lr = 0.05;
  options.momentum = 0.9;
  options.weight_decay = 1e-4;
  return options;
}

double lr_at(int64_t step) { return step == 0 ? 0.0 : 0.05 / static_cast<double>(step); }

// A model, its optimizer and the generator that draws the data: what a training loop owns.
struct TrainingRun {
  explicit TrainingRun(const BitConfig& config, uint64_t data_seed,
                       SgdOptions options = sgd_options())
      : model(std::make_shared<BitResNetV2>(config)),
        optimizer(model->named_parameters(), options),
        generator(data_seed) {}

  TrainState state() { return {model.get(), &optimizer, &generator, step, "", ""}; }

  // Each step draws a fresh random batch from the generator, so resuming needs its state.
  void train(int64_t steps) {
    for (int64_t i = 0; i < steps; ++i, ++step) {
      Tensor x = randn({kBatch, 3, kSize, kSize}, DType::kFloat32, Device::cpu(), generator);
      std::vector<int64_t> labels;
      for (int64_t n = 0; n < kBatch; ++n) labels.push_back(generator.randint(kHeadSize));
      optimizer.set_lr(lr_at(step));
      optimizer.zero_grad();
      cross_entropy(model->forward(x), from_vector(labels, {kBatch})).backward();
      optimizer.step();
    }
  }

  std::shared_ptr<BitResNetV2> model;
  Sgd optimizer;
  Generator generator;
  int64_t step = 0;
};

std::string temp_path(const std::string& name) { return ::testing::TempDir() + "/" + name; }

// Every tensor equal bit for bit; reports the first that differs.
::testing::AssertionResult same_named_bits(const NamedTensors& a, const NamedTensors& b) {
  if (a.size() != b.size()) {
    return ::testing::AssertionFailure() << a.size() << " tensors vs " << b.size();
  }
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].first != b[i].first || !same_bits(a[i].second, b[i].second)) {
      return ::testing::AssertionFailure() << "'" << a[i].first << "' differs";
    }
  }
  return ::testing::AssertionSuccess();
}

NamedTensors snapshot(const NamedTensors& tensors) {
  NamedTensors copies;
  for (const auto& [name, tensor] : tensors) copies.emplace_back(name, tensor.clone());
  return copies;
}

// A run trained for 3 steps and saved; the checkpoint as read back, for tampering.
class SavedRunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    run_ = std::make_unique<TrainingRun>(tiny_config(1), 7);
    run_->train(3);
    path_ = temp_path("saved_run.ckpt");
    TrainState state = run_->state();
    state.config = "batch: 2\nlr: 0.05\n";
    state.class_names = kClassNames;
    state.input_resolution = kSize;
    state.run_facts = kRunFacts;
    ASSERT_TRUE(save_train_state(path_, state).ok());
    auto loaded = load_checkpoint(path_);
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    checkpoint_ = *std::move(loaded);
  }

  // The checkpoint after `change`, saved under `name`.
  template <typename Change>
  std::string tampered(const std::string& name, Change change) {
    Checkpoint copy = checkpoint_;
    change(copy);
    const std::string path = temp_path(name);
    EXPECT_TRUE(save_checkpoint(path, copy).ok());
    return path;
  }

  std::unique_ptr<TrainingRun> run_;
  std::string path_;
  Checkpoint checkpoint_;
};

TEST_F(SavedRunTest, ResumingIsBitIdenticalToAnUninterruptedRun) {
  TrainingRun uninterrupted(tiny_config(1), 7);
  uninterrupted.train(6);

  // A fresh run with other weights and another data seed: everything must come from the file.
  auto saved_options = saved_sgd_options(checkpoint_, path_);
  ASSERT_TRUE(saved_options.ok()) << saved_options.status();
  TrainingRun resumed(tiny_config(99), 12345, *saved_options);
  ASSERT_FALSE(same_named_bits(resumed.model->named_parameters(), checkpoint_.parameters));
  TrainState state = resumed.state();
  ASSERT_TRUE(restore_train_state(path_, state).ok());
  EXPECT_EQ(state.step, 3);
  EXPECT_EQ(state.config, "batch: 2\nlr: 0.05\n");
  EXPECT_EQ(state.model_name, "R50x1");
  EXPECT_EQ(state.class_names, kClassNames);
  EXPECT_EQ(state.input_resolution, kSize);
  EXPECT_EQ(state.run_facts, kRunFacts);
  EXPECT_EQ(resumed.optimizer.steps_taken(), 3);
  EXPECT_EQ(resumed.optimizer.lr(), lr_at(2));
  EXPECT_EQ(resumed.generator.state(), run_->generator.state());
  EXPECT_TRUE(same_named_bits(resumed.model->named_parameters(), run_->model->named_parameters()));
  EXPECT_TRUE(same_named_bits(resumed.optimizer.state(), run_->optimizer.state()));

  resumed.step = state.step;
  resumed.train(3);
  EXPECT_TRUE(same_named_bits(resumed.model->named_parameters(),
                              uninterrupted.model->named_parameters()));
  EXPECT_TRUE(same_named_bits(resumed.optimizer.state(), uninterrupted.optimizer.state()));
  EXPECT_EQ(resumed.optimizer.steps_taken(), 6);
  EXPECT_EQ(resumed.generator.state(), uninterrupted.generator.state());
}

TEST_F(SavedRunTest, StoresEverythingNeededToRebuildTheRun) {
  EXPECT_EQ(checkpoint_.model_name, "R50x1");
  EXPECT_EQ(checkpoint_.step, 3);
  EXPECT_EQ(checkpoint_.class_names, kClassNames);
  EXPECT_EQ(checkpoint_.input_resolution, kSize);
  EXPECT_EQ(checkpoint_.optimizer.kind, "sgd");
  EXPECT_EQ(checkpoint_.optimizer.steps_taken, 3);
  ASSERT_TRUE(checkpoint_.optimizer.sgd.has_value());
  EXPECT_EQ(checkpoint_.optimizer.sgd->momentum(), 0.9);
  EXPECT_EQ(checkpoint_.optimizer.sgd->weight_decay(), 1e-4);
  EXPECT_FALSE(checkpoint_.optimizer.sgd->nesterov());
  EXPECT_EQ(checkpoint_.optimizer.tensors.size(), run_->model->named_parameters().size());
  EXPECT_EQ(checkpoint_.parameters.size(), 153u);  // as many as the official .npz arrays
  auto config = bit_config_from_checkpoint(checkpoint_, path_);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->depth, 50);
  EXPECT_EQ(config->width_factor, 1);
  EXPECT_EQ(config->head_size, kHeadSize);
  EXPECT_EQ(config->base_width, 4);
  EXPECT_EQ(config->num_groups, 2);
  EXPECT_EQ(config->seed, 1u);
  EXPECT_FALSE(config->zero_head);
}

TEST_F(SavedRunTest, RebuildsTheModelFromTheCheckpointAlone) {
  auto loaded = load_bit_model_from_checkpoint(path_);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_NE(loaded->message.find(path_), std::string::npos) << loaded->message;
  EXPECT_NE(loaded->message.find("into BiT-R50x1 (base width 4, 2 groups) (head "),
            std::string::npos)
      << loaded->message;
  EXPECT_EQ(loaded->class_names, kClassNames);
  EXPECT_EQ(loaded->input_resolution, kSize);
  EXPECT_TRUE(same_named_bits(loaded->model->named_parameters(), run_->model->named_parameters()));
  Generator g(3);
  Tensor x = randn({1, 3, kSize, kSize}, DType::kFloat32, Device::cpu(), g);
  loaded->model->eval();
  run_->model->eval();
  EXPECT_TRUE(same_bits(loaded->model->forward(x), run_->model->forward(x)));

  EXPECT_TRUE(load_bit_model_from_checkpoint(path_, "BiT-M-R50x1").ok());
  EXPECT_TRUE(fails_naming(load_bit_model_from_checkpoint(path_, "R101x1").status(),
                           {path_, "R50x1", "R101x1"}));
}

TEST_F(SavedRunTest, RebuildsAFloat64Model) {
  TrainingRun run(tiny_config(2), 1);
  run.model->to(DType::kFloat64);
  TrainState state{run.model.get(), nullptr, nullptr, 0, "", "BiT-M-R50x1"};
  const std::string path = temp_path("float64.ckpt");
  ASSERT_TRUE(save_train_state(path, state).ok());
  auto loaded = load_bit_model_from_checkpoint(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->model->parameters().front().dtype(), DType::kFloat64);
  EXPECT_TRUE(same_named_bits(loaded->model->named_parameters(), run.model->named_parameters()));
  EXPECT_NE(loaded->message.find("BiT-M-R50x1"), std::string::npos) << loaded->message;

  // Float64 weights are checked for NaN like float32 ones.
  absl::StatusOr<Checkpoint> checkpoint = load_checkpoint(path);
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();
  Tensor& weight = checkpoint->parameters.front().second;
  weight.mutable_data<double>()[2] = std::nan("");
  ASSERT_TRUE(save_checkpoint(path, *checkpoint).ok());
  EXPECT_TRUE(fails_naming(load_bit_model_from_checkpoint(path).status(),
                           {path, "parameter 'root.conv.weight' holds nan (element 2 of ("}));
}

TEST_F(SavedRunTest, AFailedRestoreChangesNothing) {
  TrainingRun other(tiny_config(5), 5);
  other.train(1);
  const NamedTensors parameters = snapshot(other.model->named_parameters());
  const NamedTensors momentum = snapshot(other.optimizer.state());
  const std::string rng = other.generator.state();
  const std::string path = tampered("late_failure.ckpt", [](Checkpoint& c) {
    c.rng_state = "not a generator state";
  });
  TrainState state = other.state();
  EXPECT_FALSE(restore_train_state(path, state).ok());
  EXPECT_TRUE(same_named_bits(other.model->named_parameters(), parameters));
  EXPECT_TRUE(same_named_bits(other.optimizer.state(), momentum));
  EXPECT_EQ(other.optimizer.steps_taken(), 1);
  EXPECT_EQ(other.generator.state(), rng);
  EXPECT_EQ(state.step, 1);
}

TEST_F(SavedRunTest, AnOptimizerOverSomeParametersRefusesOthersBuffersAndKeepsItsState) {
  auto model = std::make_shared<BitResNetV2>(tiny_config(5));
  Sgd head_only({{"head.conv.weight", model->head->conv->weight},
                 {"head.conv.bias", model->head->conv->bias}},
                sgd_options());
  const NamedTensors parameters = snapshot(model->named_parameters());
  TrainState state{model.get(), &head_only, nullptr, 0, "", ""};
  EXPECT_TRUE(fails_naming(restore_train_state(path_, state),
                           {path_, "root.conv.weight", "not a parameter of this optimizer"}));
  EXPECT_TRUE(head_only.state().empty());
  EXPECT_TRUE(same_named_bits(model->named_parameters(), parameters));
}

TEST_F(SavedRunTest, OptimizerAndGeneratorAreOptional) {
  auto model = std::make_shared<BitResNetV2>(tiny_config(5));
  TrainState state{model.get(), nullptr, nullptr, 0, "", ""};
  ASSERT_TRUE(restore_train_state(path_, state).ok());
  EXPECT_TRUE(same_named_bits(model->named_parameters(), run_->model->named_parameters()));

  // Saved without them, a restore that wants them says what is missing.
  const std::string bare = temp_path("bare.ckpt");
  ASSERT_TRUE(save_train_state(bare, state).ok());
  TrainingRun run(tiny_config(1), 7);
  TrainState want_optimizer{run.model.get(), &run.optimizer, nullptr, 0, "", ""};
  EXPECT_TRUE(fails_naming(restore_train_state(bare, want_optimizer),
                           {bare, "holds no optimizer state"}));
  TrainState want_generator{run.model.get(), nullptr, &run.generator, 0, "", ""};
  EXPECT_TRUE(fails_naming(restore_train_state(bare, want_generator), {bare, "no RNG state"}));
}

// ------------------------------------------------------------------------------------------------
// Bad checkpoints: each message names the file and what is wrong.

TEST_F(SavedRunTest, MissingFile) {
  TrainingRun run(tiny_config(1), 7);
  TrainState state = run.state();
  const std::string path = temp_path("no_such.ckpt");
  absl::Status status = restore_train_state(path, state);
  EXPECT_TRUE(absl::IsNotFound(status)) << status;
  EXPECT_TRUE(fails_naming(status, {path}));
}

TEST_F(SavedRunTest, NotACheckpoint) {
  TrainingRun run(tiny_config(1), 7);
  const std::string npz = temp_path("weights.npz");
  ASSERT_TRUE(save_bit_weights(*run.model, npz).ok());
  TrainState state = run.state();
  EXPECT_TRUE(fails_naming(restore_train_state(npz, state), {npz, "magic"}));
  EXPECT_TRUE(fails_naming(load_bit_model_from_checkpoint(npz).status(), {npz, "magic"}));
}

TEST_F(SavedRunTest, MissingParameter) {
  const std::string path = tampered("missing.ckpt", [](Checkpoint& c) {
    c.parameters.erase(c.parameters.begin() + 1);  // body.block1.unit01.gn1.weight
  });
  TrainingRun run(tiny_config(1), 7);
  TrainState state = run.state();
  EXPECT_TRUE(fails_naming(restore_train_state(path, state),
                           {path, "1 missing parameter(s)", "body.block1.unit01.gn1.weight",
                            "float32 (4)"}));
}

TEST_F(SavedRunTest, UnexpectedParameter) {
  const std::string path = tampered("unexpected.ckpt", [](Checkpoint& c) {
    c.parameters.emplace_back("head.extra.weight", zeros({3}));
  });
  TrainingRun run(tiny_config(1), 7);
  TrainState state = run.state();
  EXPECT_TRUE(fails_naming(restore_train_state(path, state),
                           {path, "1 unexpected parameter(s)", "head.extra.weight"}));
}

// A bit_config is checked against the file before the model it describes is allocated.
TEST_F(SavedRunTest, ABitConfigBeyondTheFileIsRefusedBeforeBuilding) {
  const std::string wide = tampered("wide.ckpt", [](Checkpoint& c) {
    c.bit_config->set_base_width(4096);  // about 10^11 parameters
  });
  EXPECT_TRUE(fails_naming(load_bit_model_from_checkpoint(wide).status(),
                           {wide, "base width 4096", "parameter elements", "the file holds"}));
  const std::string huge = tampered("huge.ckpt", [](Checkpoint& c) {
    c.bit_config->set_base_width(int64_t{1} << 40);
  });
  EXPECT_TRUE(fails_naming(load_bit_model_from_checkpoint(huge).status(),
                           {huge, "base_width must be in 1..4096, got 1099511627776"}));
}

TEST_F(SavedRunTest, WrongShape) {
  TrainingRun run(tiny_config(1, 50, 7), 7);  // a 7-way head
  TrainState state = run.state();
  EXPECT_TRUE(fails_naming(restore_train_state(path_, state),
                           {path_, "head.conv.weight", "float32 (5, 128, 1, 1) in the checkpoint",
                            "the model has float32 (7, 128, 1, 1)", "head.conv.bias"}));
}

TEST_F(SavedRunTest, WrongDtype) {
  TrainingRun run(tiny_config(1), 7);
  run.model->to(DType::kFloat64);
  TrainState state{run.model.get(), nullptr, nullptr, 0, "", ""};
  EXPECT_TRUE(fails_naming(restore_train_state(path_, state),
                           {path_, "root.conv.weight", "float32 (4, 3, 7, 7) in the checkpoint",
                            "the model has float64 (4, 3, 7, 7)"}));
}

TEST_F(SavedRunTest, ANonFiniteParameterIsRefusedAndChangesNothing) {
  const std::string path = tampered("inf.ckpt", [](Checkpoint& c) {
    for (auto& [name, tensor] : c.parameters) {
      if (name != "body.block2.unit01.conv1.weight") continue;
      tensor = tensor.clone();
      tensor.mutable_data<float>()[5] = -std::numeric_limits<float>::infinity();
    }
  });
  const std::vector<std::string> fragments = {
      path, "parameter 'body.block2.unit01.conv1.weight' holds -inf (element 5 of (",
      "expected finite weights"};
  TrainingRun run(tiny_config(1), 7);
  const NamedTensors before = snapshot(run.model->named_parameters());
  TrainState state = run.state();
  EXPECT_TRUE(fails_naming(restore_train_state(path, state), fragments));
  EXPECT_TRUE(same_named_bits(run.model->named_parameters(), before));
  EXPECT_TRUE(fails_naming(load_bit_model_from_checkpoint(path).status(), fragments));
}

TEST_F(SavedRunTest, WrongArchitecture) {
  TrainingRun run(tiny_config(1, 101), 7);
  TrainState state = run.state();
  EXPECT_TRUE(fails_naming(restore_train_state(path_, state), {path_, "R50x1", "R101x1"}));
}

// Each setting but lr (which a schedule sets at every step) must be the saved one.
TEST_F(SavedRunTest, OptimizerHyperparameterDiffers) {
  for (const auto& [change, fragments] :
       std::vector<std::pair<void (*)(SgdOptions&), std::vector<std::string>>>{
           {[](SgdOptions& o) { o.momentum = 0.5; }, {"momentum = 0.9", "momentum = 0.5"}},
           {[](SgdOptions& o) { o.dampening = 0.5; }, {"dampening = 0,", "dampening = 0.5"}},
           {[](SgdOptions& o) { o.weight_decay = 0; }, {"weight_decay = 0.0001", "= 0 "}},
           {[](SgdOptions& o) { o.nesterov = true; }, {"nesterov = 0,", "nesterov = 1"}}}) {
    SgdOptions options = sgd_options();
    change(options);
    TrainingRun run(tiny_config(1), 7, options);
    TrainState state = run.state();
    std::vector<std::string> expected = fragments;
    expected.push_back(path_);
    EXPECT_TRUE(fails_naming(restore_train_state(path_, state), expected));
  }
}

TEST_F(SavedRunTest, OtherOptimizerKind) {
  const std::string path = tampered("adam.ckpt", [](Checkpoint& c) { c.optimizer.kind = "adam"; });
  TrainingRun run(tiny_config(1), 7);
  TrainState state = run.state();
  EXPECT_TRUE(fails_naming(restore_train_state(path, state), {path, "'adam'", "'sgd'"}));
}

TEST_F(SavedRunTest, MissingSgdSettings) {
  const std::string path = tampered("no_sgd.ckpt", [](Checkpoint& c) { c.optimizer.sgd.reset(); });
  TrainingRun run(tiny_config(1), 7);
  TrainState state = run.state();
  EXPECT_TRUE(fails_naming(restore_train_state(path, state), {path, "no settings"}));
}

TEST_F(SavedRunTest, MomentumBufferDoesNotFit) {
  const std::string path = tampered("momentum.ckpt", [](Checkpoint& c) {
    c.optimizer.tensors[0].second = zeros({2, 2});
    c.optimizer.tensors.emplace_back("no.such.parameter", zeros({3}));
  });
  TrainingRun run(tiny_config(1), 7);
  TrainState state = run.state();
  EXPECT_TRUE(fails_naming(restore_train_state(path, state),
                           {path, "1 mismatched momentum buffer(s)",
                            "root.conv.weight: float32 (2, 2)",
                            "the parameter is float32 (4, 3, 7, 7)",
                            "1 unexpected momentum buffer(s)", "no.such.parameter",
                            "no parameter of the model has"}));
}

TEST_F(SavedRunTest, UnreadableRngState) {
  const std::string path = tampered("rng.ckpt", [](Checkpoint& c) { c.rng_state = "12 x"; });
  TrainingRun run(tiny_config(1), 7);
  TrainState state = run.state();
  EXPECT_TRUE(fails_naming(restore_train_state(path, state), {path, "RNG state is unreadable"}));
}

TEST_F(SavedRunTest, MissingOrBadBitConfig) {
  const std::string no_config = tampered("no_config.ckpt", [](Checkpoint& c) {
    c.bit_config.reset();
  });
  EXPECT_TRUE(fails_naming(load_bit_model_from_checkpoint(no_config).status(),
                           {no_config, "bit_config", "does not describe a BiT model"}));
  const std::string bad_depth = tampered("bad_depth.ckpt", [](Checkpoint& c) {
    c.bit_config->set_depth(34);
  });
  EXPECT_TRUE(fails_naming(load_bit_model_from_checkpoint(bad_depth).status(),
                           {bad_depth, "depth must be 50, 101 or 152, got 34"}));
}

TEST_F(SavedRunTest, ClassNamesMustFitTheHead) {
  TrainState state = run_->state();
  state.class_names = {"cat", "dog"};
  const std::string path = temp_path("two_names.ckpt");
  EXPECT_TRUE(fails_naming(save_train_state(path, state),
                           {path, "2 class names for a head of 5"}));
  const std::string tampered_path = tampered("six_names.ckpt", [](Checkpoint& c) {
    c.class_names.push_back("extra");
  });
  EXPECT_TRUE(fails_naming(load_bit_model_from_checkpoint(tampered_path).status(),
                           {tampered_path, "6 class names for a head of 5"}));
  // None is fine: a checkpoint written before class names were recorded, or by a tool.
  const std::string unnamed = tampered("unnamed.ckpt", [](Checkpoint& c) {
    c.class_names.clear();
  });
  auto loaded = load_bit_model_from_checkpoint(unnamed);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_TRUE(loaded->class_names.empty());
}

TEST_F(SavedRunTest, CorruptData) {
  // Flip a byte inside the last tensor's data: the checksum catches it.
  std::string bytes;
  {
    FILE* f = std::fopen(path_.c_str(), "rb");
    ASSERT_NE(f, nullptr);
    char buffer[1 << 16];
    size_t got;
    while ((got = std::fread(buffer, 1, sizeof buffer, f)) > 0) bytes.append(buffer, got);
    std::fclose(f);
  }
  bytes[bytes.size() - 3] ^= 0x40;
  const std::string path = temp_path("corrupt.ckpt");
  FILE* f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  std::fwrite(bytes.data(), 1, bytes.size(), f);
  std::fclose(f);
  TrainingRun run(tiny_config(1), 7);
  TrainState state = run.state();
  EXPECT_TRUE(fails_naming(restore_train_state(path, state), {path, "fails its checksum"}));
}

}  // namespace
}  // namespace bitgrad
