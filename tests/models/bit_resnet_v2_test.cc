#include "models/bit_resnet_v2.h"

#include <cmath>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "autograd/grad_mode.h"
#include "gtest/gtest.h"
#include "ops/elementwise.h"
#include "ops/reduce.h"
#include "tests/testing/assertions.h"

namespace bitgrad {
namespace {

using testing::all_close;
using testing::fails_naming;
using testing::throws_error;

// The narrow model of the tests (and of tools/golden): base_width 4, num_groups 2 keep every
// conv's fan-in >= 4 and the narrowest GroupNorm at 2 channels per group, like the real R50x1.
BitConfig narrow(int depth = 50, int64_t head_size = 5) {
  BitConfig config;
  config.depth = depth;
  config.head_size = head_size;
  config.base_width = 4;
  config.num_groups = 2;
  return config;
}

TEST(BitConfigTest, ParsesModelNames) {
  auto s = bit_config_from_name("BiT-S-R50x1");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->depth, 50);
  EXPECT_EQ(s->width_factor, 1);
  EXPECT_EQ(s->head_size, 1000);
  auto m = bit_config_from_name("BiT-M-R152x4");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->depth, 152);
  EXPECT_EQ(m->width_factor, 4);
  EXPECT_EQ(m->head_size, 21843);
  auto bare = bit_config_from_name("R101x3");
  ASSERT_TRUE(bare.ok()) << bare.status();
  EXPECT_EQ(bare->depth, 101);
  EXPECT_EQ(bare->width_factor, 3);
  EXPECT_EQ(bare->base_width, 64);
  EXPECT_EQ(bare->num_groups, 32);
  EXPECT_EQ(bit_arch_name(*bare), "R101x3");
}

TEST(BitConfigTest, UnknownNamesAreClearErrors) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"BiT-L-R50x1", "upstream must be S"}, {"R34x1", "depth '34'"},
      {"R50x5", "width '5' is not 1..4"},    {"R50x0", "width '0' is not 1..4"},
      {"R50x", "width ''"},
      {"ResNet50", "no 'x<width>'"},        {"R50", "no 'x<width>'"},
      {"", "no 'R<depth>'"},                  {"BiT-M-r50x1", "no 'R<depth>'"},
  };
  for (const auto& [name, why] : cases) {
    auto config = bit_config_from_name(name);
    ASSERT_FALSE(config.ok()) << name;
    const std::string message(config.status().message());
    EXPECT_NE(message.find("unknown BiT model name '" + name + "'"), std::string::npos) << message;
    EXPECT_NE(message.find(why), std::string::npos) << message;
    EXPECT_NE(message.find("e.g. BiT-M-R50x1"), std::string::npos) << message;
  }
}

TEST(BitConfigTest, InvalidConfigsThrowNamingTheField) {
  BitConfig config;
  config.depth = 34;
  EXPECT_TRUE(throws_error([&] { BitResNetV2 model(config); }, {"depth", "50, 101 or 152", "34"}));
  config = narrow();
  config.num_groups = 3;
  EXPECT_TRUE(throws_error([&] { BitResNetV2 model(config); },
                           {"num_groups 3", "root width 4"}));
  config = narrow();
  config.head_size = 0;
  EXPECT_TRUE(throws_error([&] { BitResNetV2 model(config); }, {"head_size", "0"}));
}

// Each bound is inclusive, and a field one past it is named; check_bit_config builds nothing, so
// the largest configs are cheap to check.
TEST(BitConfigTest, FieldsAreCheckedAgainstInclusiveBounds) {
  struct Field {
    const char* name;
    int64_t BitConfig::*value;
    int64_t max;
  };
  for (const Field& field : {Field{"width_factor", &BitConfig::width_factor,
                                   BitConfig::kMaxWidthFactor},
                             Field{"base_width", &BitConfig::base_width, BitConfig::kMaxBaseWidth},
                             Field{"head_size", &BitConfig::head_size, BitConfig::kMaxHeadSize}}) {
    SCOPED_TRACE(field.name);
    BitConfig config;
    config.*field.value = field.max;
    EXPECT_NO_THROW(check_bit_config(config));
    for (int64_t bad : {field.max + 1, int64_t{0}, int64_t{-1}}) {
      config.*field.value = bad;
      EXPECT_TRUE(throws_error([&] { check_bit_config(config); },
                               {field.name, absl::StrCat("1..", field.max, ", got ", bad)}));
    }
  }
  // No group count divides the root width unless it is positive (0 would divide by zero).
  for (int64_t groups : {0, -1, -2}) {
    BitConfig config;
    config.num_groups = groups;
    EXPECT_TRUE(throws_error([&] { check_bit_config(config); },
                             {absl::StrCat("num_groups ", groups), "root width 64"}));
  }
}

// The program's form of the same rules names the flags, and suggests a group count that fits.
TEST(BitConfigTest, WidthFlagErrorsNameTheFlags) {
  EXPECT_TRUE(check_width_flags(narrow()).ok());
  BitConfig config = narrow();
  for (int64_t bad : {int64_t{0}, BitConfig::kMaxBaseWidth + 1}) {
    config.base_width = bad;
    EXPECT_TRUE(fails_naming(check_width_flags(config),
                             {absl::StrCat("--base_width=", bad, ": must be 1..4096")}));
  }
  config.base_width = BitConfig::kMaxBaseWidth;
  EXPECT_TRUE(check_width_flags(config).ok());
  config = narrow();
  config.base_width = 12;
  config.num_groups = 8;
  EXPECT_TRUE(fails_naming(check_width_flags(config),
                           {"--num_groups: 8 GroupNorm groups", "root width 12",
                            "--base_width=12", "e.g. --num_groups=6"}));
  config.num_groups = 0;  // as a program passes "not given" on
  EXPECT_TRUE(fails_naming(check_width_flags(config), {"--num_groups: 0 GroupNorm groups"}));
  config.base_width = 5;  // an odd root width: only one group fits for sure
  config.num_groups = 2;
  EXPECT_TRUE(fails_naming(check_width_flags(config), {"e.g. --num_groups=1"}));
}

TEST(BitConfigTest, NamesOfTheArchitecture) {
  BitConfig config = narrow(101);
  config.width_factor = 3;
  EXPECT_EQ(bit_arch_name(config), "R101x3");
  EXPECT_EQ(bit_arch_description(config), "R101x3 (base width 4, 2 groups)");
  EXPECT_EQ(requested_arch("R101x3", config), "R101x3");
  EXPECT_EQ(requested_arch("BiT-M-R101x3", config), "BiT-M-R101x3 (R101x3)");
  EXPECT_EQ(class_names_mismatch({}, 5), "");
  EXPECT_EQ(class_names_mismatch({"a", "b"}, 2), "");
  EXPECT_EQ(class_names_mismatch({"a", "b"}, 5), "2 class names for a head of 5");
}

// bit.md §1.1: parameter counts in millions, body (all but the head conv), + 21843 and + 1000.
TEST(BitParamCountTest, MatchesTheFactSheet) {
  struct Row {
    int depth;
    int64_t width;
    double body, with_21843, with_1000;
  };
  const Row rows[] = {
      {50, 1, 23.50, 68.26, 25.55},      {50, 3, 211.17, 345.40, 217.32},
      {101, 1, 42.49, 87.25, 44.54},     {101, 3, 381.79, 516.02, 387.93},
      {152, 2, 232.24, 321.73, 236.34},  {152, 4, 928.34, 1107.30, 936.53},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.depth * 10 + row.width);
    BitConfig config;
    config.depth = row.depth;
    config.width_factor = row.width;
    config.head_size = 21843;
    EXPECT_NEAR(bit_param_count(config, /*include_head=*/false) / 1e6, row.body, 0.005);
    EXPECT_NEAR(bit_param_count(config) / 1e6, row.with_21843, 0.005);
    config.head_size = 1000;
    EXPECT_NEAR(bit_param_count(config) / 1e6, row.with_1000, 0.005);
  }
}

// bit.md §2.4: 153 / 306 / 459 arrays, whatever the width.
// ResNet-50 v1.5 (stride on the 3x3, like BiT) is 4.09 G multiply-adds at 224 with a 1000-way
// head (torchvision's published figure); the count scales with resolution squared.
TEST(BitFlopsTest, MatchesThePublishedResNet50Count) {
  BitConfig r50;
  r50.head_size = 1000;
  EXPECT_NEAR(bit_forward_flops(r50, 224) / 2e9, 4.09, 0.03);
  EXPECT_NEAR(static_cast<double>(bit_forward_flops(r50, 448)) / bit_forward_flops(r50, 224), 4.0,
              0.02);
  // Body convs grow with width squared; the root conv (3 input channels) and the head linearly.
  BitConfig r50x3 = r50;
  r50x3.width_factor = 3;
  double ratio = static_cast<double>(bit_forward_flops(r50x3, 224)) / bit_forward_flops(r50, 224);
  EXPECT_GT(ratio, 8.7);
  EXPECT_LT(ratio, 9.0);
  // The head's 1x1 conv on the pooled 2048 features: 2 flops per weight, whatever the size.
  BitConfig r50_21k = r50;
  r50_21k.head_size = 21843;
  EXPECT_EQ(bit_forward_flops(r50_21k, 224) - bit_forward_flops(r50, 224), 2 * 2048 * 20843);
  EXPECT_EQ(bit_forward_flops(r50_21k, 448) - bit_forward_flops(r50, 448), 2 * 2048 * 20843);
}

TEST(BitParamCountTest, ArrayCounts) {
  for (int64_t width : {1, 2, 3, 4}) {
    BitConfig config;
    config.width_factor = width;
    config.depth = 50;
    EXPECT_EQ(bit_param_specs(config).size(), 153u);
    config.depth = 101;
    EXPECT_EQ(bit_param_specs(config).size(), 306u);
    config.depth = 152;
    EXPECT_EQ(bit_param_specs(config).size(), 459u);
  }
}

TEST(BitParamSpecTest, NamesKeysAndShapesFollowTheFactSheet) {
  BitConfig config;  // R50x1, 21843 head
  const std::vector<BitParamSpec> specs = bit_param_specs(config);
  auto find = [&](const std::string& name) {
    for (const BitParamSpec& spec : specs) {
      if (spec.name == name) return spec;
    }
    ADD_FAILURE() << "no spec " << name;
    return BitParamSpec{};
  };
  const BitParamSpec root = find("root.conv.weight");
  EXPECT_EQ(root.npz_key, "resnet/root_block/standardized_conv2d/kernel");
  EXPECT_EQ(root.shape, Shape({64, 3, 7, 7}));
  const BitParamSpec proj = find("body.block2.unit01.downsample.weight");
  EXPECT_EQ(proj.npz_key, "resnet/block2/unit01/a/proj/standardized_conv2d/kernel");
  EXPECT_EQ(proj.shape, Shape({512, 256, 1, 1}));
  const BitParamSpec conv2 = find("body.block3.unit06.conv2.weight");
  EXPECT_EQ(conv2.npz_key, "resnet/block3/unit06/b/standardized_conv2d/kernel");
  EXPECT_EQ(conv2.shape, Shape({256, 256, 3, 3}));
  const BitParamSpec gn1 = find("body.block1.unit01.gn1.weight");
  EXPECT_EQ(gn1.npz_key, "resnet/block1/unit01/a/group_norm/gamma");
  EXPECT_EQ(gn1.shape, Shape({64}));
  EXPECT_EQ(find("body.block4.unit03.gn3.bias").npz_key, "resnet/block4/unit03/c/group_norm/beta");
  EXPECT_EQ(find("body.block4.unit03.conv3.weight").shape, Shape({2048, 512, 1, 1}));
  EXPECT_EQ(find("head.gn.weight").npz_key, "resnet/group_norm/gamma");
  EXPECT_EQ(find("head.gn.bias").npz_key, "resnet/group_norm/beta");
  const BitParamSpec head = find("head.conv.weight");
  EXPECT_EQ(head.npz_key, "resnet/head/conv2d/kernel");
  EXPECT_EQ(head.shape, Shape({21843, 2048, 1, 1}));
  EXPECT_TRUE(head.head);
  EXPECT_EQ(find("head.conv.bias").npz_key, "resnet/head/conv2d/bias");
  // Projections exist exactly in unit01 of each block.
  int projections = 0;
  for (const BitParamSpec& spec : specs) {
    if (spec.name.find("downsample") == std::string::npos) continue;
    ++projections;
    EXPECT_NE(spec.name.find(".unit01."), std::string::npos) << spec.name;
  }
  EXPECT_EQ(projections, 4);
}

void expect_model_matches_specs(const BitResNetV2& model) {
  const auto params = model.named_parameters();
  const auto specs = bit_param_specs(model.config());
  ASSERT_EQ(params.size(), specs.size());
  for (size_t i = 0; i < specs.size(); ++i) {
    EXPECT_EQ(params[i].first, specs[i].name) << i;
    EXPECT_EQ(params[i].second.shape(), specs[i].shape) << specs[i].name;
  }
  EXPECT_EQ(count_elements(model.parameters()), bit_param_count(model.config()));
}

TEST(BitResNetV2Test, BuiltModelsMatchTheSpecTable) {
  for (int depth : {50, 101, 152}) {
    SCOPED_TRACE(depth);
    expect_model_matches_specs(BitResNetV2(narrow(depth)));
  }
  BitConfig wide = narrow();
  wide.width_factor = 3;
  wide.num_groups = 4;
  expect_model_matches_specs(BitResNetV2(wide));
}

TEST(BitResNetV2Test, FullSizeR50x1HasTheOfficialParameterCount) {
  BitConfig config;
  config.head_size = 1000;
  config.zero_head = true;
  BitResNetV2 model(config);
  expect_model_matches_specs(model);
  EXPECT_NEAR(count_elements(model.parameters()) / 1e6, 25.55, 0.005);
}

TEST(BitResNetV2Test, WiringMatchesTheFactSheet) {
  BitResNetV2 model(narrow());
  const Conv2dAttrs& root = model.root->conv->options().attrs();
  EXPECT_EQ(model.root->conv->options().kernel_size(), 7);
  EXPECT_EQ(root.stride[0], 2);
  EXPECT_EQ(root.padding[0], 3);
  EXPECT_FALSE(model.root->conv->bias.defined());
  ASSERT_EQ(model.units.size(), 16u);
  for (const auto& unit : model.units) {
    const bool first = unit.get() == model.units[0].get() || unit.get() == model.units[3].get() ||
                       unit.get() == model.units[7].get() || unit.get() == model.units[13].get();
    EXPECT_EQ(unit->downsample != nullptr, first);
    // The stride sits on the 3x3 conv2 and the projection, never on conv1.
    EXPECT_EQ(unit->conv1->options().attrs().stride[0], 1);
    EXPECT_EQ(unit->conv2->options().kernel_size(), 3);
    EXPECT_EQ(unit->conv2->options().attrs().padding[0], 1);
    const int64_t stride = unit->conv2->options().attrs().stride[0];
    EXPECT_EQ(stride, first && unit.get() != model.units[0].get() ? 2 : 1);
    if (unit->downsample) {
      EXPECT_EQ(unit->downsample->options().attrs().stride[0], stride);
    }
    EXPECT_EQ(unit->conv2->eps(), 1e-10);
    for (const auto& gn : {unit->gn1, unit->gn2, unit->gn3}) {
      EXPECT_EQ(gn->options().groups, 2);
      EXPECT_EQ(gn->options().eps, 1e-5);
      EXPECT_TRUE(gn->options().relu);
    }
  }
  EXPECT_TRUE(model.head->gn->options().relu);
  // The head is a plain conv with a bias, not weight-standardized.
  EXPECT_EQ(model.head->conv->type_name(), "Conv2d");
  EXPECT_TRUE(model.head->conv->bias.defined());
}

TEST(BitResNetV2Test, SeedsAndZeroHead) {
  BitConfig config = narrow();
  config.seed = 11;
  BitResNetV2 a(config), b(config);
  config.seed = 12;
  BitResNetV2 c(config);
  const std::string name = "body.block3.unit02.conv2.weight";
  EXPECT_EQ(a.parameter(name).to_vector<float>(), b.parameter(name).to_vector<float>());
  EXPECT_NE(a.parameter(name).to_vector<float>(), c.parameter(name).to_vector<float>());
  EXPECT_NE(a.parameter("head.conv.weight").to_vector<float>()[0], 0.0f);
  config.zero_head = true;
  BitResNetV2 zero(config);
  for (float v : zero.parameter("head.conv.weight").to_vector<float>()) ASSERT_EQ(v, 0.0f);
  for (float v : zero.parameter("head.conv.bias").to_vector<float>()) ASSERT_EQ(v, 0.0f);
  EXPECT_EQ(zero.parameter("head.gn.weight").to_vector<float>()[0], 1.0f);
}

TEST(BitResNetV2Test, ResetHeadReplacesOnlyTheHeadConv) {
  BitResNetV2 model(narrow());
  model.to(DType::kFloat64);
  model.eval();
  const Tensor body_weight = model.parameter("body.block1.unit01.conv1.weight");
  for (const int64_t bad : {int64_t{0}, BitConfig::kMaxHeadSize + 1}) {
    EXPECT_TRUE(throws_error([&] { model.reset_head(bad, /*zero=*/true); },
                             {"reset_head", "must be 1 to 2147483648", std::to_string(bad)}))
        << bad;
  }
  model.reset_head(9, /*zero=*/true);
  EXPECT_EQ(model.config().head_size, 9);
  EXPECT_TRUE(model.config().zero_head);
  const Tensor head = model.parameter("head.conv.weight");
  EXPECT_EQ(head.shape(), Shape({9, 128, 1, 1}));
  EXPECT_EQ(head.dtype(), DType::kFloat64);
  EXPECT_FALSE(model.head->conv->is_training());
  EXPECT_TRUE(model.parameter("head.conv.bias").is_same(model.head->conv->bias));
  EXPECT_TRUE(body_weight.is_same(model.parameter("body.block1.unit01.conv1.weight")));
  expect_model_matches_specs(model);
}

// ------------------------------------------------------------------------------------------------
// Forward passes (reference kernels).

// bit.md §1.7: the spatial sizes after each stage, for every width and depth.
TEST(BitResNetV2ForwardTest, SpatialSizesFollowTheFactSheet) {
  BitResNetV2 model(narrow());
  NoGradGuard no_grad;
  model.eval();
  const int64_t c0 = 4;
  for (const auto& [input, root, pooled, b2, b3, b4] :
       std::vector<std::array<int64_t, 6>>{{128, 64, 32, 16, 8, 4}, {160, 80, 40, 20, 10, 5},
                                           {224, 112, 56, 28, 14, 7}}) {
    SCOPED_TRACE(input);
    const Tensor x = rand({1, 3, input, input}, -1.0, 1.0);
    Tensor h = model.root->conv->forward(x);
    EXPECT_EQ(h.shape(), Shape({1, c0, root, root}));
    h = model.root->pool->forward(h);
    EXPECT_EQ(h.shape(), Shape({1, c0, pooled, pooled}));
    const int64_t sizes[] = {pooled, b2, b3, b4};
    size_t u = 0;
    for (int block = 0; block < 4; ++block) {
      const int units = narrow().units_per_block()[block];
      for (int k = 0; k < units; ++k) h = model.units[u++]->forward(h);
      EXPECT_EQ(h.shape(), Shape({1, 4 * (c0 << block), sizes[block], sizes[block]}));
    }
  }
  const Tensor logits = model(rand({2, 3, 128, 128}, -1.0, 1.0));
  EXPECT_EQ(logits.shape(), Shape({2, 5}));
  EXPECT_EQ(model.features(rand({2, 3, 128, 128}, -1.0, 1.0)).shape(), Shape({2, 128}));
}

TEST(BitResNetV2ForwardTest, LogitsAreTheHeadConvOfThePooledFeatures) {
  BitResNetV2 model(narrow());
  model.eval();
  NoGradGuard no_grad;
  const Tensor x = rand({2, 3, 64, 64}, -1.0, 1.0);
  const Tensor features = model.features(x);  // (2, 128)
  const Tensor w = model.head->conv->weight.view({5, 128});
  const Tensor b = model.head->conv->bias;
  std::vector<float> expected(2 * 5);
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t k = 0; k < 5; ++k) {
      double total = b.at<float>({k});
      for (int64_t c = 0; c < 128; ++c) total += features.at<float>({n, c}) * w.at<float>({k, c});
      expected[n * 5 + k] = static_cast<float>(total);
    }
  EXPECT_TRUE(all_close(model(x), from_vector(expected, {2, 5}), 1e-4, 1e-5));
  // Pre-logits features are post-ReLU means: non-negative.
  for (float v : features.to_vector<float>()) EXPECT_GE(v, 0.0f);
  // zero_head gives zero logits.
  model.reset_head(5, /*zero=*/true);
  EXPECT_TRUE(all_close(model(x), zeros({2, 5})));
}

TEST(BitResNetV2ForwardTest, EvalCacheGivesTheTrainingModeOutput) {
  BitResNetV2 model(narrow());
  const Tensor x = rand({1, 3, 64, 64}, -1.0, 1.0);
  const Tensor train_out = model(x).detach();
  model.eval();
  NoGradGuard no_grad;
  EXPECT_TRUE(all_close(model(x), train_out, 1e-5, 1e-6));
  EXPECT_TRUE(model.units[5]->conv2->has_cached_weight());
  EXPECT_TRUE(all_close(model(x), train_out, 1e-5, 1e-6));
}

TEST(BitResNetV2ForwardTest, BackwardReachesEveryParameter) {
  BitResNetV2 model(narrow(50, 3));
  const Tensor x = rand({2, 3, 32, 32}, -1.0, 1.0);
  sum(model(x) * model(x)).backward();
  for (const auto& [name, param] : model.named_parameters()) {
    ASSERT_TRUE(param.grad().defined()) << name;
    for (float g : param.grad().to_vector<float>()) ASSERT_TRUE(std::isfinite(g)) << name;
  }
  model.zero_grad();
  for (const Tensor& param : model.parameters()) EXPECT_FALSE(param.grad().defined());
}

TEST(BitResNetV2ForwardTest, RejectsNonRgbInput) {
  BitResNetV2 model(narrow());
  EXPECT_TRUE(throws_error([&] { model(zeros({1, 1, 32, 32})); },
                           {"BiT-R50x1", "(N, 3, H, W)", "(1, 1, 32, 32)"}));
}

}  // namespace
}  // namespace bitgrad
