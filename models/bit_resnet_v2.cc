#include "models/bit_resnet_v2.h"

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "ops/elementwise.h"
#include "ops/linear.h"
#include "ops/reduce.h"
#include "ops/reshape.h"

namespace bitgrad {
namespace {

constexpr int64_t kHeadSizeBitS = 1000;
constexpr int64_t kHeadSizeBitM = 21843;

}  // namespace

std::array<int, 4> BitConfig::units_per_block() const {
  switch (depth) {
    case 50: return {3, 4, 6, 3};
    case 101: return {3, 4, 23, 3};
    case 152: return {3, 8, 36, 3};
  }
  BG_CHECK(false, "BitConfig: depth must be 50, 101 or 152, got ", depth);
  return {};
}

namespace {

// The upper bounds, far above any real model, keep every size product within int64.
void check_in_range(const char* field, int64_t value, int64_t max) {
  BG_CHECK(value >= 1 && value <= max, "BitConfig: ", field, " must be in 1..", max, ", got ",
           value);
}

// Every width is a multiple of the root width, so this covers every GroupNorm.
bool groups_divide_root(const BitConfig& c) {
  return c.num_groups >= 1 && c.root_channels() % c.num_groups == 0;
}

}  // namespace

void check_bit_config(const BitConfig& c) {
  c.units_per_block();  // checks the depth
  check_in_range("width_factor", c.width_factor, BitConfig::kMaxWidthFactor);
  check_in_range("head_size", c.head_size, BitConfig::kMaxHeadSize);
  check_in_range("base_width", c.base_width, BitConfig::kMaxBaseWidth);
  BG_CHECK(groups_divide_root(c), "BitConfig: num_groups ", c.num_groups,
           " must divide the root width ", c.root_channels(), " (base_width ", c.base_width,
           " x width_factor ", c.width_factor, ")");
}

absl::Status check_width_flags(const BitConfig& c) {
  if (c.base_width < 1 || c.base_width > BitConfig::kMaxBaseWidth) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--base_width=", c.base_width, ": must be 1..", BitConfig::kMaxBaseWidth));
  }
  if (groups_divide_root(c)) return absl::OkStatus();
  // The official 2 channels per group, where the root width allows it.
  const int64_t example = c.root_channels() % 2 == 0 ? c.root_channels() / 2 : 1;
  return absl::InvalidArgumentError(absl::StrCat(
      "--num_groups: ", c.num_groups, " GroupNorm groups (0: the official ",
      BitConfig::kOfficialNumGroups, ") do not divide the root width ", c.root_channels(),
      " (--base_width=", c.base_width, " x width factor ", c.width_factor,
      "); give --num_groups that divides it, e.g. --num_groups=", example));
}

std::string bit_arch_name(const BitConfig& config) {
  return absl::StrCat("R", config.depth, "x", config.width_factor);
}

std::string requested_arch(const std::string& name, const BitConfig& parsed) {
  const std::string arch = bit_arch_name(parsed);
  return name == arch ? name : absl::StrCat(name, " (", arch, ")");
}

std::string class_names_mismatch(const std::vector<std::string>& class_names, int64_t head_size) {
  if (class_names.empty() || static_cast<int64_t>(class_names.size()) == head_size) return "";
  return absl::StrCat(class_names.size(), " class names for a head of ", head_size);
}

absl::StatusOr<BitConfig> bit_config_from_name(const std::string& name) {
  auto invalid = [&](const std::string& why) {
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown BiT model name '", name, "': ", why, "; expected [BiT-S-|BiT-M-]R<depth>x<width> ",
        "with depth 50, 101 or 152 and width 1..4, e.g. BiT-M-R50x1 or R101x3"));
  };
  BitConfig config;
  std::string rest = name;
  if (absl::StartsWith(rest, "BiT-S-")) {
    config.head_size = kHeadSizeBitS;
    rest = rest.substr(6);
  } else if (absl::StartsWith(rest, "BiT-M-")) {
    config.head_size = kHeadSizeBitM;
    rest = rest.substr(6);
  } else if (absl::StartsWith(rest, "BiT-")) {
    return invalid("the upstream must be S (ILSVRC-2012) or M (ImageNet-21k)");
  }
  if (rest.empty() || rest[0] != 'R') return invalid("no 'R<depth>'");
  const size_t x = rest.find('x');
  if (x == std::string::npos) return invalid("no 'x<width>'");
  const std::string depth_text = rest.substr(1, x - 1), width_text = rest.substr(x + 1);
  int depth = 0;
  int64_t width = 0;
  if (!absl::SimpleAtoi(depth_text, &depth) || (depth != 50 && depth != 101 && depth != 152)) {
    return invalid(absl::StrCat("depth '", depth_text, "' is not 50, 101 or 152"));
  }
  if (!absl::SimpleAtoi(width_text, &width) || width < 1 || width > 4) {
    return invalid(absl::StrCat("width '", width_text, "' is not 1..4"));
  }
  config.depth = depth;
  config.width_factor = width;
  return config;
}

std::string BitUnitSpec::path() const { return absl::StrFormat("block%d.unit%02d", block, unit); }

std::vector<BitUnitSpec> bit_units(const BitConfig& config) {
  check_bit_config(config);
  std::vector<BitUnitSpec> units;
  const std::array<int, 4> counts = config.units_per_block();
  int64_t in_channels = config.root_channels();
  for (int b = 0; b < 4; ++b) {
    const int64_t mid = config.root_channels() << b;
    const int64_t out = 4 * mid;
    for (int u = 1; u <= counts[b]; ++u) {
      BitUnitSpec spec;
      spec.block = b + 1;
      spec.unit = u;
      spec.in_channels = u == 1 ? in_channels : out;
      spec.mid_channels = mid;
      spec.out_channels = out;
      spec.stride = (u == 1 && b > 0) ? 2 : 1;
      spec.projection = u == 1;  // stride 2, or (block1) 64*wf != 256*wf channels
      units.push_back(spec);
    }
    in_channels = out;
  }
  return units;
}

// The mapping between module names and official .npz keys (bit.md §2.2), in module order.
std::vector<BitParamSpec> bit_param_specs(const BitConfig& config) {
  std::vector<BitParamSpec> specs;
  auto add = [&](std::string name, std::string npz_key, Shape shape, bool head = false) {
    specs.push_back({std::move(name), "resnet/" + npz_key, std::move(shape), head});
  };
  const int64_t c0 = config.root_channels();
  add("root.conv.weight", "root_block/standardized_conv2d/kernel", {c0, 3, 7, 7});
  for (const BitUnitSpec& u : bit_units(config)) {
    const std::string m = "body." + u.path() + ".";
    const std::string k = absl::StrFormat("block%d/unit%02d/", u.block, u.unit);
    const int64_t cin = u.in_channels, cmid = u.mid_channels, cout = u.out_channels;
    add(m + "gn1.weight", k + "a/group_norm/gamma", {cin});
    add(m + "gn1.bias", k + "a/group_norm/beta", {cin});
    add(m + "conv1.weight", k + "a/standardized_conv2d/kernel", {cmid, cin, 1, 1});
    add(m + "gn2.weight", k + "b/group_norm/gamma", {cmid});
    add(m + "gn2.bias", k + "b/group_norm/beta", {cmid});
    add(m + "conv2.weight", k + "b/standardized_conv2d/kernel", {cmid, cmid, 3, 3});
    add(m + "gn3.weight", k + "c/group_norm/gamma", {cmid});
    add(m + "gn3.bias", k + "c/group_norm/beta", {cmid});
    add(m + "conv3.weight", k + "c/standardized_conv2d/kernel", {cout, cmid, 1, 1});
    if (u.projection) {
      add(m + "downsample.weight", k + "a/proj/standardized_conv2d/kernel", {cout, cin, 1, 1});
    }
  }
  const int64_t features = config.feature_channels();
  add("head.gn.weight", "group_norm/gamma", {features});
  add("head.gn.bias", "group_norm/beta", {features});
  add("head.conv.weight", "head/conv2d/kernel", {config.head_size, features, 1, 1}, true);
  add("head.conv.bias", "head/conv2d/bias", {config.head_size}, true);
  return specs;
}

int64_t bit_param_count(const BitConfig& config, bool include_head) {
  int64_t total = 0;
  for (const BitParamSpec& spec : bit_param_specs(config)) {
    if (include_head || !spec.head) total += spec.shape.numel();
  }
  return total;
}

int64_t bit_forward_flops(const BitConfig& config, int64_t resolution) {
  // 2 * multiply-adds of every conv and the head; GroupNorm, pooling and adds are not counted.
  auto conv_flops = [](int64_t out_side, int64_t in_channels, int64_t out_channels, int64_t k) {
    return 2 * out_side * out_side * in_channels * out_channels * k * k;
  };
  int64_t side = (resolution + 2 * 3 - 7) / 2 + 1;  // root 7x7/s2/p3
  int64_t total = conv_flops(side, 3, config.root_channels(), 7);
  side = (side + 2 - 3) / 2 + 1;                    // zero pad 1, max-pool 3x3/s2
  for (const BitUnitSpec& unit : bit_units(config)) {
    int64_t out_side = (side - 1) / unit.stride + 1;
    total += conv_flops(side, unit.in_channels, unit.mid_channels, 1);
    total += conv_flops(out_side, unit.mid_channels, unit.mid_channels, 3);
    total += conv_flops(out_side, unit.mid_channels, unit.out_channels, 1);
    if (unit.projection) total += conv_flops(out_side, unit.in_channels, unit.out_channels, 1);
    side = out_side;
  }
  return total + 2 * config.feature_channels() * config.head_size;
}

// ------------------------------------------------------------------------------------------------

namespace {

std::shared_ptr<nn::GroupNorm> make_gn_relu(int64_t channels, int64_t num_groups) {
  nn::GroupNormOptions options;
  options.groups = num_groups;
  options.channels = channels;
  options.eps = 1e-5;
  options.relu = true;
  return std::make_shared<nn::GroupNorm>(options);
}

std::shared_ptr<nn::StdConv2d> make_std_conv(int64_t in, int64_t out, int64_t kernel,
                                             int64_t stride, int64_t padding,
                                             Generator& generator) {
  return std::make_shared<nn::StdConv2d>(
      nn::Conv2dOptions(in, out, kernel).stride(stride).padding(padding).bias(false), generator);
}

std::shared_ptr<nn::Conv2d> make_head_conv(int64_t features, int64_t head_size, bool zero,
                                           Generator& generator) {
  auto conv = std::make_shared<nn::Conv2d>(nn::Conv2dOptions(features, head_size, 1), generator);
  if (zero) {
    conv->weight.zero_();
    conv->bias.zero_();
  }
  return conv;
}

}  // namespace

BitRootBlock::BitRootBlock(const BitConfig& config, Generator& generator) : Module("BitRootBlock") {
  conv = register_module("conv", make_std_conv(3, config.root_channels(), 7, 2, 3, generator));
  Pool2dAttrs pool_attrs;
  pool_attrs.kernel = {3, 3};
  pool_attrs.stride = {2, 2};
  pool = register_module("pool", std::make_shared<nn::ZeroPadMaxPool2d>(1, pool_attrs));
}

Tensor BitRootBlock::forward(const Tensor& x) { return pool->forward(conv->forward(x)); }

PreActBottleneck::PreActBottleneck(const BitUnitSpec& spec, int64_t num_groups,
                                   Generator& generator)
    : Module("PreActBottleneck") {
  const int64_t cin = spec.in_channels, cmid = spec.mid_channels, cout = spec.out_channels;
  gn1 = register_module("gn1", make_gn_relu(cin, num_groups));
  conv1 = register_module("conv1", make_std_conv(cin, cmid, 1, 1, 0, generator));
  gn2 = register_module("gn2", make_gn_relu(cmid, num_groups));
  conv2 = register_module("conv2", make_std_conv(cmid, cmid, 3, spec.stride, 1, generator));
  gn3 = register_module("gn3", make_gn_relu(cmid, num_groups));
  conv3 = register_module("conv3", make_std_conv(cmid, cout, 1, 1, 0, generator));
  if (spec.projection) {
    downsample =
        register_module("downsample", make_std_conv(cin, cout, 1, spec.stride, 0, generator));
  }
}

Tensor PreActBottleneck::forward(Tensor x) {
  Tensor pre = gn1->forward(x);  // ReLU(GN1(x)), the pre-activation
  // The projection reads the pre-activation; the identity shortcut reads the raw input.
  Tensor shortcut = downsample ? downsample->forward(pre) : std::move(x);
  Tensor h = conv1->forward(pre);
  h = conv2->forward(gn2->forward(h));
  // conv3 + shortcut, nothing after it; the shortcut is given up, so in inference (where no
  // autograd node keeps x) the sum is written into its memory.
  return conv3->forward_add(gn3->forward(h), std::move(shortcut));
}

BitHead::BitHead(const BitConfig& config, Generator& generator) : Module("BitHead") {
  gn = register_module("gn", make_gn_relu(config.feature_channels(), config.num_groups));
  conv = register_module("conv", make_head_conv(config.feature_channels(), config.head_size,
                                                config.zero_head, generator));
}

Tensor BitHead::pre_logits(const Tensor& x) { return mean(gn->forward(x), {2, 3}, true); }

Tensor BitHead::logits(const Tensor& pooled) {
  // Pool first, then the conv (bit.md §7.11): the official order. A 1x1 conv of a 1x1 map is a
  // matrix product, so it runs as one: oneDNN's direct convolution takes ~15 ms a training step
  // at batch 16 for this shape (~10 GFLOP/s), its matmul a tenth of that.
  const Tensor& w = conv->weight;  // (classes, features, 1, 1), the official kernel's layout
  return linear(flatten(pooled, 1), flatten(w, 1), conv->bias);
}

BitResNetV2::BitResNetV2(const BitConfig& config) : Module("BitResNetV2"), config_(config) {
  check_bit_config(config);
  Generator generator(config.seed);
  root = register_module("root", std::make_shared<BitRootBlock>(config, generator));
  body = register_module("body", std::make_shared<Module>("BitBody"));
  std::shared_ptr<Module> block;
  for (const BitUnitSpec& spec : bit_units(config)) {
    if (spec.unit == 1) {
      block = body->register_module(absl::StrCat("block", spec.block),
                                    std::make_shared<Module>("BitBlock"));
    }
    auto unit = std::make_shared<PreActBottleneck>(spec, config.num_groups, generator);
    block->register_module(absl::StrFormat("unit%02d", spec.unit), unit);
    units.push_back(unit);
  }
  head = register_module("head", std::make_shared<BitHead>(config, generator));
}

Tensor BitResNetV2::body_forward(const Tensor& x) {
  BG_CHECK(x.dim() == 4 && x.size(1) == 3, "BiT-", bit_arch_name(config_),
           ": expected an RGB batch of shape (N, 3, H, W), got ", x.shape());
  Tensor h = root->forward(x);
  for (const auto& unit : units) h = unit->forward(std::move(h));
  return h;
}

Tensor BitResNetV2::forward(const Tensor& x) {
  return head->logits(head->pre_logits(body_forward(x)));
}

Tensor BitResNetV2::features(const Tensor& x) {
  return flatten(head->pre_logits(body_forward(x)), 1);
}

void BitResNetV2::reset_head(int64_t head_size, bool zero) {
  BG_CHECK(head_size >= 1 && head_size <= BitConfig::kMaxHeadSize,  // as check_bit_config's
           "BitResNetV2::reset_head: head_size must be 1 to ", BitConfig::kMaxHeadSize, ", got ",
           head_size);
  Generator generator(config_.seed);
  auto conv = make_head_conv(config_.feature_channels(), head_size, zero, generator);
  const Tensor old_weight = head->conv->weight;
  conv->to(old_weight.dtype());
  conv->to(old_weight.device());
  conv->train(is_training());
  head->conv = head->replace_module("conv", conv);
  config_.head_size = head_size;
  config_.zero_head = zero;
}

std::string bit_arch_description(const BitConfig& config) {
  return absl::StrCat(bit_arch_name(config), " (base width ", config.base_width, ", ",
                      config.num_groups, " groups)");
}

}  // namespace bitgrad
