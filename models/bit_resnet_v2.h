// BiT ResNet-v2: pre-activation bottleneck ResNet with GroupNorm and Weight Standardization,
// built exactly as docs/bit.md §1 describes (official bit_pytorch/models.py):
//
//   root   StdConv 7x7/s2/p3 (3 -> C0), no GN/ReLU; zero pad 1; max-pool 3x3/s2/p0
//   body   block1..block4 of pre-activation bottleneck units (3,4,6,3 / 3,4,23,3 / 3,8,36,3);
//          stage s (1-4) has mid = C0 * 2^(s-1) and out = 4 * mid channels; unit01 of every
//          stage has a 1x1 projection of the pre-activation, strided in stages 2-4, where the
//          stride sits on the 3x3 conv2
//   head   GroupNorm + ReLU (fused), global mean over (H, W), 1x1 conv with bias (not WS)
//
// C0 = base_width * width_factor (base_width = 64 in every real BiT model). Every conv but the
// head is a StdConv2d (eps 1e-10); every GroupNorm has num_groups = 32 groups, eps 1e-5, and the
// ReLU that follows it fused in.
//
// Parameter names are the official PyTorch module names:
//   root.conv.weight
//   body.block1.unit01.{gn1,conv1,gn2,conv2,gn3,conv3,downsample}.{weight,bias}
//   head.gn.{weight,bias}, head.conv.{weight,bias}
// bit_param_specs() lists them with their shapes and their official .npz keys: the one place
// where module names and checkpoint keys meet.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "models/module.h"
#include "models/nn/conv2d.h"
#include "models/nn/group_norm.h"
#include "models/nn/pool.h"
#include "models/nn/std_conv2d.h"

namespace bitgrad {

struct BitConfig {
  static constexpr int64_t kOfficialBaseWidth = 64;
  static constexpr int64_t kOfficialNumGroups = 32;
  // Bounds that check_bit_config enforces (BiT-R152x4 has width 4 and a 21843-way head).
  static constexpr int64_t kMaxWidthFactor = 64;
  static constexpr int64_t kMaxBaseWidth = 4096;
  static constexpr int64_t kMaxHeadSize = int64_t{1} << 31;
  // Input sizes the programs take: from the network's total stride (2^5) up to far above any
  // real run, far below where a batch's element count or a crop's arithmetic overflows int64.
  static constexpr int64_t kMinResolution = 32;
  static constexpr int64_t kMaxResolution = int64_t{1} << 16;

  int depth = 50;              // 50, 101 or 152
  int64_t width_factor = 1;    // multiplies every channel count
  int64_t head_size = 21843;   // BiT-M's ImageNet-21k head; BiT-S has 1000
  // The head conv starts at 0 (weight and bias; the fine-tuning recipe) instead of Kaiming-normal
  // weights and a zero bias. Other convs are Kaiming-normal, GroupNorms gamma 1 and beta 0.
  bool zero_head = false;
  uint64_t seed = 0;           // initialisation of every weight (models/nn/init.h)
  // Knobs that shrink the model without changing its wiring, for tests, examples/tour and
  // bit_finetune's default experiment (--base_width, --num_groups; the golden PyTorch model in
  // tools/golden/bit_torch.py has the same two). The official BiT models use the defaults.
  int64_t base_width = kOfficialBaseWidth;  // C0 = base_width * width_factor
  int64_t num_groups = kOfficialNumGroups;  // GroupNorm groups; must divide C0

  bool is_narrowed() const {
    return base_width != kOfficialBaseWidth || num_groups != kOfficialNumGroups;
  }
  int64_t root_channels() const { return base_width * width_factor; }
  int64_t feature_channels() const { return 32 * root_channels(); }  // 2048 * wf officially
  std::array<int, 4> units_per_block() const;
};

// Throws an Error naming the bad field unless the config can be built.
void check_bit_config(const BitConfig& config);
// check_bit_config's rules for the widths, as an error naming the flags that set them
// (--base_width, --num_groups), for a model built from a program's flags.
absl::Status check_width_flags(const BitConfig& config);

// "R50x1" etc.
std::string bit_arch_name(const BitConfig& config);
// "R50x1 (base width 4, 2 groups)": the name with what else decides the body's shapes.
std::string bit_arch_description(const BitConfig& config);

// Empty when `class_names` is empty or names each of a head's `head_size` outputs; otherwise
// what is wrong, for an error message: "2 class names for a head of 5".
std::string class_names_mismatch(const std::vector<std::string>& class_names, int64_t head_size);

// Parses "BiT-S-R50x1", "BiT-M-R152x4" or a bare "R101x3": depth 50/101/152, width 1..4. The
// head size is the upstream one: 1000 for BiT-S, 21843 for BiT-M and bare names. Other fields
// keep their defaults.
absl::StatusOr<BitConfig> bit_config_from_name(const std::string& name);

// A model name as the user gave it, for errors: "R101x1", or "BiT-M-R101x1 (R101x1)" when it
// is not the bare architecture name of `parsed` (its bit_config_from_name).
std::string requested_arch(const std::string& name, const BitConfig& parsed);

// One residual unit of the body.
struct BitUnitSpec {
  int block = 1;  // 1..4
  int unit = 1;   // 1-based within its block
  int64_t in_channels = 0, mid_channels = 0, out_channels = 0;
  int64_t stride = 1;  // on conv2 and the projection
  bool projection = false;  // true exactly for unit 1 of each block
  std::string path() const;  // "block1.unit01"
};
std::vector<BitUnitSpec> bit_units(const BitConfig& config);

// Every parameter in named_parameters() order.
struct BitParamSpec {
  std::string name;     // module name: "body.block1.unit01.conv1.weight"
  std::string npz_key;  // checkpoint key: "resnet/block1/unit01/a/standardized_conv2d/kernel"
  Shape shape;          // bitgrad layout (OIHW kernels); the .npz stores 4-D kernels HWIO
  bool head = false;    // head.conv.weight / head.conv.bias
};
std::vector<BitParamSpec> bit_param_specs(const BitConfig& config);
// Number of parameter elements, computed from the specs without building the model.
int64_t bit_param_count(const BitConfig& config, bool include_head = true);
// Forward FLOPs of one square image: 2 x the multiply-adds of the convolutions and the head
// (4.1 GFLOP-ish "GMACs" convention x 2). A training step is about 3x the forward.
int64_t bit_forward_flops(const BitConfig& config, int64_t resolution);

// ------------------------------------------------------------------------------------------------
// The modules.

class BitRootBlock : public Module {
 public:
  BitRootBlock(const BitConfig& config, Generator& generator);
  Tensor forward(const Tensor& x);

  std::shared_ptr<nn::StdConv2d> conv;           // 7x7/s2/p3
  std::shared_ptr<nn::ZeroPadMaxPool2d> pool;    // zero pad 1, 3x3/s2/p0
};

class PreActBottleneck : public Module {
 public:
  PreActBottleneck(const BitUnitSpec& spec, int64_t num_groups, Generator& generator);
  // By value: a caller that moves its input in (as the model does) lets the last conv add its
  // result into the shortcut's memory when nothing else holds it (inference).
  Tensor forward(Tensor x);

  std::shared_ptr<nn::GroupNorm> gn1;
  std::shared_ptr<nn::StdConv2d> conv1;  // 1x1
  std::shared_ptr<nn::GroupNorm> gn2;
  std::shared_ptr<nn::StdConv2d> conv2;  // 3x3, stride 2 in unit01 of blocks 2-4
  std::shared_ptr<nn::GroupNorm> gn3;
  std::shared_ptr<nn::StdConv2d> conv3;  // 1x1
  std::shared_ptr<nn::StdConv2d> downsample;  // 1x1 projection (strided with conv2); or null
};

class BitHead : public Module {
 public:
  BitHead(const BitConfig& config, Generator& generator);
  // GroupNorm + ReLU, then the mean over (H, W): (N, C, H, W) -> (N, C, 1, 1).
  Tensor pre_logits(const Tensor& x);
  // The 1x1 conv, squeezed: (N, C, 1, 1) -> (N, head_size).
  Tensor logits(const Tensor& pooled);

  std::shared_ptr<nn::GroupNorm> gn;
  std::shared_ptr<nn::Conv2d> conv;
};

class BitResNetV2 : public Module {
 public:
  explicit BitResNetV2(const BitConfig& config);

  // x: (N, 3, H, W), RGB in [-1, 1] -> logits (N, head_size).
  Tensor forward(const Tensor& x);
  Tensor operator()(const Tensor& x) { return forward(x); }
  // The pre-logits features (N, 2048 * wf): everything but the head conv.
  Tensor features(const Tensor& x);

  // Replaces the head conv by a new head_size-way one on the same device and dtype, zero (the
  // fine-tuning recipe) or freshly initialised from config().seed. Handles to the old head's
  // parameters no longer belong to the model.
  void reset_head(int64_t head_size, bool zero);

  const BitConfig& config() const { return config_; }

  std::shared_ptr<BitRootBlock> root;
  std::shared_ptr<Module> body;  // body.blockB.unitUU
  std::shared_ptr<BitHead> head;
  std::vector<std::shared_ptr<PreActBottleneck>> units;  // body's units in forward order

 private:
  Tensor body_forward(const Tensor& x);

  BitConfig config_;
};

}  // namespace bitgrad
