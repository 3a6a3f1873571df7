#include "models/bit_weights.h"

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/testing/assertions.h"

namespace bitgrad {
namespace {

using testing::fails_naming;
using testing::same_bits;

// make_npz_fixtures.py's tiny_bit_arrays(): BiT-R50 with base_width 1 (root width 1, 32 features),
// a 3-way head, float32, HWIO kernels; num_groups must be 1 (the root width).
const std::string kTiny = "tests/models/testdata/bit_r50_tiny.npz";

BitModelOptions tiny_options() {
  BitModelOptions options;
  options.base_width = 1;
  options.num_groups = 1;
  return options;
}

BitConfig tiny_config(int64_t head_size = 3) {
  BitConfig config;
  config.base_width = 1;
  config.num_groups = 1;
  config.head_size = head_size;
  return config;
}

std::string temp_path(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return std::string(dir != nullptr ? dir : "/tmp") + "/" + name;
}

std::map<std::string, Tensor> tiny_arrays() {
  auto arrays = read_npz(kTiny);
  EXPECT_TRUE(arrays.ok()) << arrays.status();
  std::map<std::string, Tensor> by_key;
  for (auto& [key, tensor] : *arrays) by_key[key] = tensor;
  return by_key;
}

// The tiny fixture with some arrays replaced, added (value defined) or removed (undefined).
std::string tiny_variant(const std::string& name, const std::map<std::string, Tensor>& changes) {
  auto arrays = read_npz(kTiny);
  EXPECT_TRUE(arrays.ok());
  NamedArrays out;
  for (auto& [key, tensor] : *arrays) {
    auto change = changes.find(key);
    if (change == changes.end()) {
      out.emplace_back(key, tensor);
    } else if (change->second.defined()) {
      out.emplace_back(key, change->second);
    }
  }
  for (const auto& [key, tensor] : changes) {
    bool present = false;
    for (const auto& entry : *arrays) present = present || entry.first == key;
    if (!present && tensor.defined()) out.emplace_back(key, tensor);
  }
  const std::string path = temp_path(name);
  EXPECT_TRUE(write_npz(path, out).ok());
  return path;
}

TEST(BitWeightsTest, InfersTheArchitectureFromTheFile) {
  auto reader = NpzReader::open(kTiny);
  ASSERT_TRUE(reader.ok());
  auto config = infer_bit_config(**reader, /*base_width=*/1, /*num_groups=*/1);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->depth, 50);
  EXPECT_EQ(config->width_factor, 1);
  EXPECT_EQ(config->head_size, 3);
  // With the official base width 64 the 1-channel root kernel cannot be a BiT model.
  EXPECT_TRUE(fails_naming(infer_bit_config(**reader).status(),
                           {"bit_r50_tiny.npz", "1 output channels", "base_width 64"}));
}

TEST(BitWeightsTest, LoadsEveryArrayWithKernelsTransposedToOihw) {
  auto loaded = load_bit_model(kTiny, tiny_options());
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_NE(loaded->message.find("loaded 153 arrays"), std::string::npos) << loaded->message;
  EXPECT_NE(loaded->message.find("head loaded"), std::string::npos) << loaded->message;
  BitResNetV2& model = *loaded->model;
  EXPECT_EQ(model.config().depth, 50);
  EXPECT_EQ(model.config().head_size, 3);

  // The fixture's root kernel holds 1000*o + 100*i + 10*h + w at HWIO index [h][w][i][o].
  const Tensor root = model.parameter("root.conv.weight");
  ASSERT_EQ(root.shape(), Shape({1, 3, 7, 7}));
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t h = 0; h < 7; ++h)
      for (int64_t w = 0; w < 7; ++w) {
        ASSERT_EQ(root.at<float>({0, i, h, w}), static_cast<float>(100 * i + 10 * h + w));
      }

  // Every parameter against the raw file array: model[o][i][h][w] == file[h][w][i][o].
  std::map<std::string, Tensor> file = tiny_arrays();
  for (const BitParamSpec& spec : bit_param_specs(model.config())) {
    SCOPED_TRACE(spec.name);
    const Tensor param = model.parameter(spec.name);
    const Tensor& raw = file.at(spec.npz_key);
    if (param.dim() != 4) {
      EXPECT_TRUE(same_bits(param, raw));
      continue;
    }
    const Shape& s = param.shape();
    ASSERT_EQ(raw.shape(), Shape({s[2], s[3], s[1], s[0]}));
    for (int64_t o = 0; o < s[0]; ++o)
      for (int64_t i = 0; i < s[1]; ++i)
        for (int64_t h = 0; h < s[2]; ++h)
          for (int64_t w = 0; w < s[3]; ++w) {
            ASSERT_EQ(param.at<float>({o, i, h, w}), raw.at<float>({h, w, i, o}));
          }
  }
}

TEST(BitWeightsTest, NpzToModelToNpzIsBitExact) {
  auto loaded = load_bit_model(kTiny, tiny_options());
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  std::map<std::string, Tensor> original = tiny_arrays();
  for (NpzCompression compression : {NpzCompression::kStored, NpzCompression::kDeflated}) {
    const std::string path = temp_path("resaved.npz");
    ASSERT_TRUE(save_bit_weights(*loaded->model, path, compression).ok());
    auto saved = read_npz(path);
    ASSERT_TRUE(saved.ok()) << saved.status();
    ASSERT_EQ(saved->size(), original.size());
    for (const auto& [key, tensor] : *saved) {
      ASSERT_EQ(original.count(key), 1u) << key;
      EXPECT_TRUE(same_bits(tensor, original.at(key))) << key;
    }
    // The same key order as the file (bit.md §2.2): projections right after conv1.
    auto file_order = read_npz(kTiny);
    ASSERT_TRUE(file_order.ok());
    for (size_t i = 0; i < saved->size(); ++i) {
      EXPECT_EQ((*saved)[i].first, (*file_order)[i].first) << "array " << i;
    }
  }
}

TEST(BitWeightsTest, AHeadOfAnotherSizeIsReplacedByAZeroHeadAndSaidSo) {
  BitModelOptions options = tiny_options();
  options.head_size = 10;
  auto loaded = load_bit_model(kTiny, options);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  const std::string& message = loaded->message;
  EXPECT_NE(message.find("3-way head does not fit the model's 10-way head"), std::string::npos)
      << message;
  EXPECT_NE(message.find("zero-initialised 10-way head"), std::string::npos) << message;
  const BitResNetV2& model = *loaded->model;
  EXPECT_EQ(model.parameter("head.conv.weight").shape(), Shape({10, 32, 1, 1}));
  for (float v : model.parameter("head.conv.weight").to_vector<float>()) ASSERT_EQ(v, 0.0f);
  for (float v : model.parameter("head.conv.bias").to_vector<float>()) ASSERT_EQ(v, 0.0f);
  // The rest was loaded.
  EXPECT_TRUE(
      same_bits(model.parameter("head.gn.weight"), tiny_arrays().at("resnet/group_norm/gamma")));
}

TEST(BitWeightsTest, ZeroHeadIgnoresTheFilesHead) {
  BitModelOptions options = tiny_options();
  options.zero_head = true;
  auto loaded = load_bit_model(kTiny, options);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_NE(loaded->message.find("zero_head"), std::string::npos) << loaded->message;
  for (float v : loaded->model->parameter("head.conv.bias").to_vector<float>()) ASSERT_EQ(v, 0.0f);
}

TEST(BitWeightsTest, LoadsIntoAnExistingModelAndItsHeadSize) {
  BitResNetV2 model(tiny_config(/*head_size=*/7));
  const Tensor held = model.parameter("body.block4.unit03.conv2.weight");  // an optimizer's handle
  auto message = load_bit_weights(model, kTiny);
  ASSERT_TRUE(message.ok()) << message.status();
  EXPECT_NE(message->find("zero-initialised 7-way head"), std::string::npos) << *message;
  EXPECT_TRUE(held.is_same(model.parameter("body.block4.unit03.conv2.weight")));
  const Tensor raw = tiny_arrays().at("resnet/block4/unit03/b/standardized_conv2d/kernel");
  EXPECT_EQ(held.at<float>({0, 0, 0, 0}), raw.at<float>({0, 0, 0, 0}));
}

TEST(BitWeightsTest, ModelNamesAreCheckedAgainstTheFile) {
  BitModelOptions options = tiny_options();
  options.model_name = "BiT-M-R50x1";
  auto loaded = load_bit_model(kTiny, options);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->model->config().head_size, 3);  // the file's, not BiT-M's 21843

  options.model_name = "BiT-S-R101x1";
  EXPECT_TRUE(fails_naming(load_bit_model(kTiny, options).status(),
                           {"bit_r50_tiny.npz", "holds a BiT R50x1", "BiT-S-R101x1"}));
  options.model_name = "R18x1";
  EXPECT_TRUE(fails_naming(load_bit_model(kTiny, options).status(),
                           {"unknown BiT model name 'R18x1'"}));
}

// numpy saves float64 by default: such arrays load, converted to the model's float32.
TEST(BitWeightsTest, Float64ArraysLoadAsFloat32) {
  const std::string key = "resnet/block1/unit01/a/group_norm/gamma";
  const Tensor gamma = tiny_arrays().at(key);
  const std::string path = tiny_variant("float64.npz", {{key, gamma.to(DType::kFloat64)}});
  auto loaded = load_bit_model(path, tiny_options());
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_TRUE(same_bits(loaded->model->parameter("body.block1.unit01.gn1.weight"), gamma));
}

// ------------------------------------------------------------------------------------------------
// Bad files: the message names the file, the key and what is wrong.

// A wider file than the name says fails on the name, not on a list of shapes.
TEST(BitWeightsTest, AModelNameOfAnotherWidthIsRefused) {
  BitModelOptions options = tiny_options();
  options.model_name = "BiT-M-R50x3";
  EXPECT_TRUE(fails_naming(load_bit_model(kTiny, options).status(),
                           {"bit_r50_tiny.npz", "holds a BiT R50x1", "BiT-M-R50x3"}));
}

TEST(BitWeightsTest, NumGroupsMustDivideTheRootWidth) {
  auto reader = NpzReader::open(kTiny);
  ASSERT_TRUE(reader.ok());
  EXPECT_TRUE(fails_naming(infer_bit_config(**reader, /*base_width=*/1, /*num_groups=*/2).status(),
                           {"bit_r50_tiny.npz", "num_groups 2 does not divide the root width 1"}));
}

// Only a consistent head of another size is replaced by a zero head. A head that also reads
// another number of features, or whose kernel and bias disagree, is a broken file: refused.
TEST(BitWeightsTest, AHeadThatIsNotJustOfAnotherSizeIsRefused) {
  const std::string kernel = "resnet/head/conv2d/kernel", bias = "resnet/head/conv2d/bias";
  const std::string other_features =
      tiny_variant("head_features.npz", {{kernel, zeros({1, 1, 5, 4})}, {bias, zeros({4})}});
  BitResNetV2 model(tiny_config());
  EXPECT_TRUE(fails_naming(load_bit_weights(model, other_features).status(),
                           {"head_features.npz", kernel, "shape (1, 1, 5, 4) in the file",
                            "expected (1, 1, 32, 3)"}));
  const std::string disagreeing =
      tiny_variant("head_disagrees.npz", {{kernel, zeros({1, 1, 32, 4})}, {bias, zeros({5})}});
  EXPECT_TRUE(fails_naming(load_bit_weights(model, disagreeing).status(),
                           {"head_disagrees.npz", kernel, "shape (1, 1, 32, 4) in the file",
                            bias, "shape (5) in the file"}));
}

TEST(BitWeightsTest, MissingArray) {
  const std::string key = "resnet/block2/unit03/b/group_norm/beta";
  const std::string path = tiny_variant("missing.npz", {{key, Tensor()}});
  EXPECT_TRUE(fails_naming(load_bit_model(path, tiny_options()).status(),
                           {"missing.npz", "1 missing array(s)", key, "expected shape (2)"}));
}

TEST(BitWeightsTest, UnexpectedArray) {
  const std::string path =
      tiny_variant("unexpected.npz", {{"resnet/block1/unit01/extra", zeros({2})}});
  EXPECT_TRUE(fails_naming(load_bit_model(path, tiny_options()).status(),
                           {"unexpected.npz", "1 unexpected array(s)",
                            "resnet/block1/unit01/extra (2)"}));
}

TEST(BitWeightsTest, ShapeMismatchNamesKeyExpectedAndFound) {
  const std::string key = "resnet/block3/unit02/b/standardized_conv2d/kernel";
  const std::string path = tiny_variant("shape.npz", {{key, zeros({3, 3, 4, 5})}});
  EXPECT_TRUE(fails_naming(load_bit_model(path, tiny_options()).status(),
                           {"shape.npz", key, "shape (3, 3, 4, 5) in the file",
                            "expected (3, 3, 4, 4)", "body.block3.unit02.conv2.weight"}));
}

TEST(BitWeightsTest, WrongDtype) {
  const std::string key = "resnet/block1/unit02/a/group_norm/gamma";
  const std::string path = tiny_variant("dtype.npz", {{key, zeros({4}, DType::kInt64)}});
  EXPECT_TRUE(fails_naming(load_bit_model(path, tiny_options()).status(),
                           {"dtype.npz", key, "dtype int64", "expected float32"}));
}

TEST(BitWeightsTest, ANonFiniteWeightIsRefusedAndLeavesTheModelUnchanged) {
  const std::string key = "resnet/block2/unit01/a/group_norm/gamma";
  Tensor gamma = tiny_arrays().at(key).clone();
  gamma.mutable_data<float>()[1] = std::nanf("");
  const std::string path = tiny_variant("nan.npz", {{key, gamma}});
  BitResNetV2 model(tiny_config());
  const std::vector<float> before = model.parameter("root.conv.weight").to_vector<float>();
  EXPECT_TRUE(fails_naming(load_bit_weights(model, path).status(),
                           {"nan.npz", "array " + key + " holds nan (element 1 of (4))",
                            "expected finite weights"}));
  EXPECT_EQ(model.parameter("root.conv.weight").to_vector<float>(), before);
}

TEST(BitWeightsTest, TruncatedAndNonZipFiles) {
  std::ifstream in(kTiny, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string cut = temp_path("cut_weights.npz");
  std::ofstream(cut, std::ios::binary).write(bytes.data(), bytes.size() * 2 / 3);
  EXPECT_TRUE(fails_naming(load_bit_model(cut, tiny_options()).status(),
                           {"cut_weights.npz", "truncated or corrupt"}));
  EXPECT_TRUE(fails_naming(load_bit_model("tests/io/testdata/not_a_zip.npz").status(),
                           {"not_a_zip.npz", "not a zip archive"}));
  EXPECT_TRUE(fails_naming(load_bit_model("tests/io/testdata/sample_stored.npz").status(),
                           {"sample_stored.npz", "resnet/root_block/standardized_conv2d/kernel",
                            "is this a BiT checkpoint?"}));
}

TEST(BitWeightsTest, CorruptDataLeavesTheModelUnchanged) {
  // A stored copy whose last array (the head bias) has a flipped byte: every header checks out,
  // the CRC does not.
  auto arrays = read_npz(kTiny);
  ASSERT_TRUE(arrays.ok());
  const std::string path = temp_path("corrupt_weights.npz");
  ASSERT_TRUE(write_npz(path, *arrays, NpzCompression::kStored).ok());
  std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  const size_t last_header = bytes.rfind("\x93NUMPY");
  bytes[last_header + 128 + 2] ^= 0x40;
  file.seekp(0);
  file.write(bytes.data(), bytes.size());
  file.close();

  BitResNetV2 model(tiny_config());
  const std::vector<float> before = model.parameter("root.conv.weight").to_vector<float>();
  EXPECT_TRUE(fails_naming(load_bit_weights(model, path).status(),
                           {"corrupt_weights.npz", "resnet/head/conv2d/bias", "corrupt"}));
  EXPECT_EQ(model.parameter("root.conv.weight").to_vector<float>(), before);
}

TEST(BitWeightsTest, UnitCountsThatMatchNoDepth) {
  std::map<std::string, Tensor> drop;
  for (const auto& [key, tensor] : tiny_arrays()) {
    if (key.rfind("resnet/block3/unit06/", 0) == 0) drop[key] = Tensor();
  }
  ASSERT_EQ(drop.size(), 9u);
  const std::string path = tiny_variant("five_units.npz", drop);
  EXPECT_TRUE(fails_naming(load_bit_model(path, tiny_options()).status(),
                           {"five_units.npz", "units per block (3, 4, 5, 3)",
                            "match no BiT depth"}));
}

TEST(BitWeightsTest, KernelLayoutConversions) {
  std::vector<float> values(2 * 3 * 4 * 5);
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i);
  const Tensor hwio = from_vector(values, {2, 3, 4, 5});  // H=2, W=3, I=4, O=5
  const Tensor oihw = hwio_to_oihw(hwio);
  ASSERT_EQ(oihw.shape(), Shape({5, 4, 2, 3}));
  EXPECT_EQ(oihw.at<float>({4, 1, 1, 2}), hwio.at<float>({1, 2, 1, 4}));
  EXPECT_EQ(oihw.at<float>({0, 3, 0, 1}), hwio.at<float>({0, 1, 3, 0}));
  EXPECT_TRUE(same_bits(oihw_to_hwio(oihw), hwio));
  EXPECT_EQ(npz_layout_shape({5, 4, 2, 3}), Shape({2, 3, 4, 5}));
  EXPECT_EQ(npz_layout_shape({7}), Shape({7}));
  const Tensor bias = from_vector<float>({1, 2}, {2});
  EXPECT_TRUE(hwio_to_oihw(bias).is_same(bias));
}

}  // namespace
}  // namespace bitgrad
