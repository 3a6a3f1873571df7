#include "models/bit_weights.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "autograd/grad_mode.h"
#include "models/name_mismatch.h"
#include "ops/non_finite.h"

namespace bitgrad {
namespace {

// out dim k = in dim perm[k], for a plain 4-D CPU tensor; elements copied as raw bits.
template <typename Bits>
void permute4_as(const Tensor& in, Tensor& out, std::array<int, 4> perm) {
  const Bits* src = static_cast<const Bits*>(in.raw_data());
  Bits* dst = static_cast<Bits*>(out.mutable_raw_data());
  const Shape& s = in.shape();
  const std::array<int64_t, 4> strides = {s[1] * s[2] * s[3], s[2] * s[3], s[3], 1};
  const int64_t n0 = s[perm[0]], n1 = s[perm[1]], n2 = s[perm[2]], n3 = s[perm[3]];
  const int64_t s0 = strides[perm[0]], s1 = strides[perm[1]], s2 = strides[perm[2]],
                s3 = strides[perm[3]];
  for (int64_t a = 0; a < n0; ++a)
    for (int64_t b = 0; b < n1; ++b)
      for (int64_t c = 0; c < n2; ++c)
        for (int64_t d = 0; d < n3; ++d) *dst++ = src[a * s0 + b * s1 + c * s2 + d * s3];
}

Tensor permute4(const Tensor& tensor, std::array<int, 4> perm) {
  if (tensor.dim() != 4) return tensor;
  const Tensor in = tensor.to(Device::cpu()).to_plain();
  const Shape& s = in.shape();
  Tensor out = empty({s[perm[0]], s[perm[1]], s[perm[2]], s[perm[3]]}, in.dtype());
  switch (in.itemsize()) {
    case 1: permute4_as<uint8_t>(in, out, perm); break;
    case 2: permute4_as<uint16_t>(in, out, perm); break;
    case 4: permute4_as<uint32_t>(in, out, perm); break;
    case 8: permute4_as<uint64_t>(in, out, perm); break;
    default: BG_ASSERT(false, "unexpected element size ", in.itemsize());
  }
  return out;
}

std::string model_label(const BitResNetV2& model) {
  return absl::StrCat("BiT-", bit_arch_name(model.config()), " (head ", model.config().head_size,
                      ")");
}

const BitParamSpec& find_spec(const std::vector<BitParamSpec>& specs, const std::string& name) {
  for (const BitParamSpec& spec : specs) {
    if (spec.name == name) return spec;
  }
  BG_ASSERT(false, "no spec named ", name);
  return specs.front();
}

// The head arrays in the file, if they form a consistent (1,1,C,K) kernel and (K,) bias: K.
int64_t file_head_size(const NpzReader& reader, const BitParamSpec& weight,
                       const BitParamSpec& bias) {
  const NpzArrayInfo* w = reader.find(weight.npz_key);
  const NpzArrayInfo* b = reader.find(bias.npz_key);
  if (w == nullptr || b == nullptr || w->shape.rank() != 4 || b->shape.rank() != 1) return -1;
  if (w->shape[0] != 1 || w->shape[1] != 1 || w->shape[3] != b->shape[0]) return -1;
  return b->shape[0];
}

absl::StatusOr<std::string> load_into(BitResNetV2& model, const NpzReader& reader,
                                      const BitLoadOptions& options) {
  const std::string& path = reader.path();
  const std::vector<BitParamSpec> specs = bit_param_specs(model.config());
  const BitParamSpec& head_weight = find_spec(specs, "head.conv.weight");
  const BitParamSpec& head_bias = find_spec(specs, "head.conv.bias");
  const int64_t model_head = head_bias.shape[0];
  const int64_t features = head_weight.shape[1];

  // Whether the head is loaded, and what to say otherwise.
  bool load_head = !options.zero_head;
  std::string head_note = "head loaded";
  const int64_t file_head = file_head_size(reader, head_weight, head_bias);
  if (options.zero_head) {
    head_note = absl::StrCat("head: zero-initialised ", model_head,
                             "-way head (zero_head), the file's head not loaded");
  } else if (file_head > 0 && file_head != model_head &&
             reader.find(head_weight.npz_key)->shape[2] == features) {
    load_head = false;
    head_note = absl::StrCat("head: the file's ", file_head, "-way head does not fit the model's ",
                             model_head, "-way head; the model keeps a zero-initialised ",
                             model_head, "-way head instead");
  }

  // Check everything before reading anything.
  NameMismatch mismatch;
  std::set<std::string> known_keys;
  for (const BitParamSpec& spec : specs) {
    known_keys.insert(spec.npz_key);
    const bool needed = !spec.head || load_head;
    const NpzArrayInfo* info = reader.find(spec.npz_key);
    if (!needed) continue;
    const Shape expected = npz_layout_shape(spec.shape);
    if (info == nullptr) {
      mismatch.missing.push_back(
          absl::StrCat(spec.npz_key, " (expected shape ", expected.str(), ")"));
      continue;
    }
    if (info->shape != expected) {
      mismatch.mismatched.push_back(absl::StrCat(spec.npz_key, ": shape ", info->shape.str(),
                                                 " in the file, expected ", expected.str(),
                                                 " for ", spec.name));
    } else if (info->dtype != DType::kFloat32 && info->dtype != DType::kFloat64) {
      mismatch.mismatched.push_back(absl::StrCat(spec.npz_key, ": dtype ",
                                                 dtype_name(info->dtype),
                                                 " in the file, expected float32 (or float64)"));
    }
  }
  for (const NpzArrayInfo& info : reader.arrays()) {
    if (known_keys.count(info.key) == 0) {
      mismatch.unexpected.push_back(absl::StrCat(info.key, " ", info.shape.str()));
    }
  }
  if (!mismatch.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": does not fit ", model_label(model), ": ",
                     absl::StrJoin(mismatch.describe("array"), ". ")));
  }

  // Read and convert every array; the model is untouched until all have been read.
  std::vector<std::pair<Tensor, Tensor>> staged;  // (parameter, value in the model's layout)
  std::vector<std::string> keys;
  std::vector<Tensor> arrays;  // as the file holds them
  for (const BitParamSpec& spec : specs) {
    if (spec.head && !load_head) continue;
    absl::StatusOr<Tensor> array = reader.read(spec.npz_key);
    if (!array.ok()) return array.status();
    keys.push_back(spec.npz_key);
    arrays.push_back(*array);
    staged.emplace_back(model.parameter(spec.name), hwio_to_oihw(*array));
  }
  // A NaN weight would not stop a forward pass: the ReLUs after it map NaN to 0.
  if (const std::optional<NonFinite> bad = find_non_finite(arrays)) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": array ", keys[bad->tensor], " holds ", bad->value, " (element ", bad->element,
        " of ", arrays[bad->tensor].shape().str(), "); expected finite weights (was it saved "
        "by a run that diverged?)"));
  }
  {
    NoGradGuard no_grad;
    for (auto& [parameter, value] : staged) parameter.copy_(value);  // converts dtype, device
    if (!load_head) {
      model.head->conv->weight.zero_();
      model.head->conv->bias.zero_();
    }
  }
  model.invalidate_caches();
  return absl::StrCat("loaded ", staged.size(), " arrays from ", path, " into ",
                      model_label(model), "; ", head_note);
}

}  // namespace

Tensor hwio_to_oihw(const Tensor& kernel) { return permute4(kernel, {3, 2, 0, 1}); }
Tensor oihw_to_hwio(const Tensor& kernel) { return permute4(kernel, {2, 3, 1, 0}); }

Shape npz_layout_shape(const Shape& s) {
  if (s.rank() != 4) return s;
  return {s[2], s[3], s[1], s[0]};
}

absl::StatusOr<std::string> load_bit_weights(BitResNetV2& model, const std::string& path,
                                             const BitLoadOptions& options) {
  absl::StatusOr<std::unique_ptr<NpzReader>> reader = NpzReader::open(path);
  if (!reader.ok()) return reader.status();
  return load_into(model, **reader, options);
}

absl::StatusOr<BitConfig> infer_bit_config(const NpzReader& reader, int64_t base_width,
                                           int64_t num_groups) {
  const std::string& path = reader.path();
  const std::string root_key = "resnet/root_block/standardized_conv2d/kernel";
  const std::string head_key = "resnet/head/conv2d/bias";
  const NpzArrayInfo* root = reader.find(root_key);
  const NpzArrayInfo* head = reader.find(head_key);
  if (root == nullptr || head == nullptr) {
    return absl::NotFoundError(absl::StrCat(
        path, ": missing array '", root == nullptr ? root_key : head_key,
        "', needed to infer the architecture (is this a BiT checkpoint?)"));
  }
  if (root->shape.rank() != 4 || root->shape[0] != 7 || root->shape[1] != 7 ||
      root->shape[2] != 3) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", root_key, " has shape ",
                                                   root->shape.str(), ", expected (7, 7, 3, C)"));
  }
  if (head->shape.rank() != 1) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", head_key, " has shape ",
                                                   head->shape.str(), ", expected (K,)"));
  }
  std::array<int, 4> units = {0, 0, 0, 0};
  for (int b = 0; b < 4; ++b) {
    while (reader.find(absl::StrFormat("resnet/block%d/unit%02d/a/standardized_conv2d/kernel",
                                       b + 1, units[b] + 1)) != nullptr) {
      ++units[b];
    }
  }
  BitConfig config;
  config.depth = 0;
  for (int depth : {50, 101, 152}) {
    BitConfig candidate;
    candidate.depth = depth;
    if (candidate.units_per_block() == units) config.depth = depth;
  }
  if (config.depth == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": units per block (", absl::StrJoin(units, ", "),
        ") match no BiT depth (R50: 3, 4, 6, 3; R101: 3, 4, 23, 3; R152: 3, 8, 36, 3)"));
  }
  const int64_t root_channels = root->shape[3];
  if (base_width < 1 || root_channels % base_width != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": the root kernel's ", root_channels, " output channels are not a multiple of "
        "base_width ", base_width, " (every official model's is 64; an .npz does not record a "
        "narrowed model's: give its --base_width and --num_groups)"));
  }
  config.width_factor = root_channels / base_width;
  config.head_size = head->shape[0];
  config.base_width = base_width;
  config.num_groups = num_groups;
  if (num_groups < 1 || root_channels % num_groups != 0) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": num_groups ", num_groups,
                                                   " does not divide the root width ",
                                                   root_channels));
  }
  return config;
}

absl::StatusOr<LoadedBitModel> load_bit_model(const std::string& path,
                                              const BitModelOptions& options) {
  absl::StatusOr<std::unique_ptr<NpzReader>> reader = NpzReader::open(path);
  if (!reader.ok()) return reader.status();
  absl::StatusOr<BitConfig> from_file =
      infer_bit_config(**reader, options.base_width, options.num_groups);

  BitConfig config;
  if (options.model_name.empty()) {
    if (!from_file.ok()) return from_file.status();
    config = *from_file;
  } else {
    absl::StatusOr<BitConfig> named = bit_config_from_name(options.model_name);
    if (!named.ok()) return named.status();
    config = *named;
    config.base_width = options.base_width;
    config.num_groups = options.num_groups;
    if (from_file.ok()) {
      if (from_file->depth != config.depth || from_file->width_factor != config.width_factor) {
        return absl::InvalidArgumentError(absl::StrCat(
            path, ": the file holds a BiT ", bit_arch_name(*from_file), ", not the requested ",
            requested_arch(options.model_name, config)));
      }
      config.head_size = from_file->head_size;
    }
    // Otherwise the key-by-key check below says what is wrong with the file.
  }
  if (options.head_size > 0) config.head_size = options.head_size;
  config.zero_head = options.zero_head;
  config.seed = options.seed;

  LoadedBitModel loaded;
  try {
    loaded.model = std::make_shared<BitResNetV2>(config);
  } catch (const Error& error) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", error.what()));
  }
  BitLoadOptions load_options;
  load_options.zero_head = options.zero_head;
  absl::StatusOr<std::string> message = load_into(*loaded.model, **reader, load_options);
  if (!message.ok()) return message.status();
  loaded.message = *std::move(message);
  return loaded;
}

absl::Status save_bit_weights(const BitResNetV2& model, const std::string& path,
                              NpzCompression compression) {
  // The key order of bit.md §2.2 (and of the committed fixtures): a unit's projection comes
  // right after its conv1 ("a/proj" after "a/standardized_conv2d"), not last as in module order.
  std::vector<BitParamSpec> specs = bit_param_specs(model.config());
  for (size_t i = 0; i < specs.size(); ++i) {
    if (!absl::EndsWith(specs[i].name, ".downsample.weight")) continue;
    const std::string conv1 =
        specs[i].name.substr(0, specs[i].name.size() - std::strlen("downsample.weight")) +
        "conv1.weight";
    size_t j = i;
    while (j > 0 && specs[j - 1].name != conv1) --j;
    std::rotate(specs.begin() + j, specs.begin() + i, specs.begin() + i + 1);
  }
  NamedArrays arrays;
  for (const BitParamSpec& spec : specs) {
    arrays.emplace_back(spec.npz_key, oihw_to_hwio(model.parameter(spec.name).detach()));
  }
  return write_npz(path, arrays, compression);
}

}  // namespace bitgrad
