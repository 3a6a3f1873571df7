#include "models/onnx_export.h"

#include <array>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "absl/strings/match.h"
#include "autograd/grad_mode.h"
#include "gtest/gtest.h"
#include "onnx/checker.h"
#include "onnx/onnx_pb.h"
#include "ops/conv.h"
#include "ops/elementwise.h"
#include "ops/norm.h"
#include "ops/pad.h"
#include "ops/pool.h"
#include "ops/reduce.h"
#include "ops/reshape.h"
#include "tests/testing/assertions.h"

namespace bitgrad {
namespace {

using testing::all_close;

std::string temp_path(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return std::string(dir ? dir : "/tmp") + "/" + name;
}

BitConfig tiny_config(int depth) {
  BitConfig config;
  config.depth = depth;
  config.head_size = 7;
  config.base_width = 4;
  config.num_groups = 2;
  config.seed = 3;
  return config;
}

onnx::ModelProto read_model(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  onnx::ModelProto model;
  EXPECT_TRUE(model.ParseFromString(bytes.str())) << path;
  return model;
}

// A float32 initializer's values, from its raw data.
Tensor float_tensor(const onnx::TensorProto& t) {
  std::vector<float> values(t.raw_data().size() / sizeof(float));
  std::memcpy(values.data(), t.raw_data().data(), t.raw_data().size());
  return from_vector<float>(values, Shape(t.dims().begin(), t.dims().end()));
}

Tensor initializer(const onnx::ModelProto& model, const std::string& name) {
  for (const onnx::TensorProto& t : model.graph().initializer()) {
    if (t.name() == name) return float_tensor(t);
  }
  ADD_FAILURE() << "no initializer " << name;
  return Tensor();
}

TEST(OnnxExportTest, TheGraphFollowsTheModelWithWeightStandardizationFolded) {
  BitResNetV2 model(tiny_config(50));
  const std::string path = temp_path("tiny_r50.onnx");
  ASSERT_TRUE(export_bit_onnx(model, path).ok());
  onnx::ModelProto exported = read_model(path);

  EXPECT_EQ(exported.opset_import(0).version(), 13);
  ASSERT_EQ(exported.graph().input_size(), 1);
  EXPECT_EQ(exported.graph().input(0).name(), "images");
  const auto& logits_shape = exported.graph().output(0).type().tensor_type().shape();
  EXPECT_EQ(exported.graph().output(0).name(), "logits");
  EXPECT_EQ(logits_shape.dim(1).dim_value(), 7);
  EXPECT_EQ(logits_shape.dim(0).dim_param(), "batch");  // any batch size

  std::map<std::string, int> ops;
  for (const onnx::NodeProto& node : exported.graph().node()) ++ops[node.op_type()];
  const int units = 16, projections = 4;
  EXPECT_EQ(ops["Conv"], 1 + 3 * units + projections + 1);  // root, units, shortcuts, head
  EXPECT_EQ(ops["InstanceNormalization"], 3 * units + 1);   // a GroupNorm each
  EXPECT_EQ(ops["Relu"], 3 * units + 1);
  EXPECT_EQ(ops["Add"], (3 * units + 1) + units);  // the GroupNorm shifts, the residual sums
  EXPECT_EQ(ops["MaxPool"], 1);

  // The root conv's kernel is the standardized weight, not the stored one.
  Tensor root = initializer(exported, "root.conv.weight");
  EXPECT_TRUE(all_close(root, weight_standardize(model.root->conv->weight, 1e-10), 1e-6, 1e-7));
  EXPECT_FALSE(all_close(root, model.root->conv->weight, 1e-3, 1e-3));
  EXPECT_TRUE(all_close(initializer(exported, "head.conv.bias"), model.head->conv->bias));
}

// Runs an exported graph on `images` by the ONNX operator definitions (opset 13), for the ops
// export_bit_onnx writes; Conv, Pad and MaxPool through bitgrad's ops, the rest written out.
// The wiring, attributes and initializers are the export's: only the arithmetic is borrowed.
class OnnxInterpreter {
 public:
  explicit OnnxInterpreter(const onnx::GraphProto& graph) : graph_(graph) {
    for (const onnx::TensorProto& t : graph.initializer()) {
      if (t.data_type() == onnx::TensorProto::INT64) {
        ints_[t.name()] = std::vector<int64_t>(t.int64_data().begin(), t.int64_data().end());
      } else {
        floats_[t.name()] = float_tensor(t);
      }
    }
  }

  Tensor run(const Tensor& images) {
    floats_[graph_.input(0).name()] = images;
    for (const onnx::NodeProto& node : graph_.node()) {
      SCOPED_TRACE(node.name());
      floats_[node.output(0)] = evaluate(node);
    }
    return floats_.at(graph_.output(0).name());
  }

 private:
  // The export spells out every attribute, defaults too: a missing one is a failure.
  static const onnx::AttributeProto& attribute(const onnx::NodeProto& node,
                                               const std::string& name) {
    for (const onnx::AttributeProto& a : node.attribute()) {
      if (a.name() == name) return a;
    }
    ADD_FAILURE() << node.op_type() << " " << node.name() << " has no attribute " << name;
    static const onnx::AttributeProto none;
    return none;
  }
  static std::vector<int64_t> ints(const onnx::NodeProto& node, const std::string& name) {
    const onnx::AttributeProto& a = attribute(node, name);
    return std::vector<int64_t>(a.ints().begin(), a.ints().end());
  }

  // An attribute of two ints, (height, width): a 2-D conv's or pool's strides, say.
  static std::array<int64_t, 2> two_ints(const onnx::NodeProto& node, const std::string& name) {
    const std::vector<int64_t> values = ints(node, name);
    EXPECT_EQ(values.size(), 2u) << name;
    return {values.at(0), values.at(1)};
  }

  // ONNX pads are all the begins, then all the ends; a conv's or pool's must be symmetric.
  static std::array<int64_t, 2> symmetric_pads(const std::vector<int64_t>& pads) {
    EXPECT_EQ(pads.size(), 4u);
    EXPECT_TRUE(pads.size() == 4 && pads[0] == pads[2] && pads[1] == pads[3]);
    return {pads.at(0), pads.at(1)};
  }

  // Reshape's target: 0 copies the input's extent, -1 is inferred (by reshape).
  static std::vector<int64_t> target_shape(const Shape& in, std::vector<int64_t> shape) {
    for (size_t d = 0; d < shape.size(); ++d) {
      if (shape[d] == 0) shape[d] = in[d];
    }
    return shape;
  }

  // y = scale * (x - mean) / sqrt(var + epsilon) + bias over the trailing dims of each (n, c).
  static Tensor instance_norm(const Tensor& x, const Tensor& scale, const Tensor& bias,
                              double epsilon) {
    const int64_t rows = x.size(0) * x.size(1), channels = x.size(1), length = x.numel() / rows;
    std::vector<double> v = x.to_vector<double>();
    const std::vector<double> g = scale.to_vector<double>(), b = bias.to_vector<double>();
    for (int64_t r = 0; r < rows; ++r) {
      double mean = 0, var = 0;
      for (int64_t i = 0; i < length; ++i) mean += v[r * length + i] / length;
      for (int64_t i = 0; i < length; ++i) var += std::pow(v[r * length + i] - mean, 2) / length;
      for (int64_t i = 0; i < length; ++i) {
        double& y = v[r * length + i];
        y = g[r % channels] * (y - mean) / std::sqrt(var + epsilon) + b[r % channels];
      }
    }
    return from_vector(v, x.shape()).to(DType::kFloat32);
  }

  Tensor evaluate(const onnx::NodeProto& node) {
    const std::string& op = node.op_type();
    auto in = [&](int i) { return floats_.at(node.input(i)); };
    if (op == "Conv") {
      Conv2dAttrs attrs;
      attrs.stride = two_ints(node, "strides");
      attrs.dilation = two_ints(node, "dilations");
      attrs.padding = symmetric_pads(ints(node, "pads"));
      attrs.groups = attribute(node, "group").i();
      const Tensor w = in(1);
      EXPECT_EQ(two_ints(node, "kernel_shape"), (std::array<int64_t, 2>{w.size(2), w.size(3)}));
      return conv2d(in(0), w, node.input_size() > 2 ? in(2) : Tensor(), attrs);
    }
    if (op == "Pad") {
      const std::vector<int64_t> pads = ints_.at(node.input(1));  // N, C, H, W begins, then ends
      EXPECT_EQ(pads.size(), 8u);
      EXPECT_EQ(std::vector<int64_t>(pads.begin(), pads.begin() + 2), std::vector<int64_t>(2, 0));
      return pad(in(0), {pads.at(3), pads.at(7), pads.at(2), pads.at(6)});
    }
    if (op == "MaxPool") {
      Pool2dAttrs attrs;
      attrs.kernel = two_ints(node, "kernel_shape");
      attrs.stride = two_ints(node, "strides");
      attrs.padding = symmetric_pads(ints(node, "pads"));
      return max_pool2d(in(0), attrs);
    }
    if (op == "Shape") {
      ints_[node.output(0)] = in(0).shape().vec();
      return Tensor();
    }
    if (op == "Reshape") {
      return reshape(in(0), target_shape(in(0).shape(), ints_.at(node.input(1))));
    }
    if (op == "InstanceNormalization") {
      return instance_norm(in(0), in(1), in(2), attribute(node, "epsilon").f());
    }
    if (op == "Mul") return in(0) * in(1);
    if (op == "Add") return in(0) + in(1);
    if (op == "Relu") return relu(in(0));
    if (op == "ReduceMean") return mean(in(0), ints(node, "axes"), attribute(node, "keepdims").i());
    if (op == "Flatten") return flatten(in(0), attribute(node, "axis").i());
    ADD_FAILURE() << "no interpretation of " << op;
    return Tensor();
  }

  const onnx::GraphProto& graph_;
  std::map<std::string, Tensor> floats_;
  std::map<std::string, std::vector<int64_t>> ints_;
};

// The exported graph computes the model's logits: every conv's stride and padding, every
// GroupNorm's groups, epsilon and ReLU, and each shortcut's source are as the model has them.
TEST(OnnxExportTest, TheGraphComputesTheModelsLogits) {
  BitResNetV2 model(tiny_config(50));
  model.eval();
  NoGradGuard no_grad;
  // Biases and GroupNorm affines away from their initial 0 and 1, so that an export that drops
  // one, or swaps a weight for a bias, gives other logits.
  Generator generator(5);
  for (auto& [name, param] : model.named_parameters()) {
    if (absl::EndsWith(name, ".bias") || absl::StrContains(name, "gn")) {
      param.copy_(param + randn(param.shape(), DType::kFloat32, Device::cpu(), generator) * 0.1);
    }
  }
  const std::string path = temp_path("evaluated.onnx");
  ASSERT_TRUE(export_bit_onnx(model, path).ok());
  const onnx::ModelProto exported = read_model(path);
  const Tensor images = randn({2, 3, 40, 40}, DType::kFloat32, Device::cpu(), generator);
  const Tensor logits = OnnxInterpreter(exported.graph()).run(images);
  EXPECT_TRUE(testing::close_relative(logits, model(images), 1e-4));
}

TEST(OnnxExportTest, ClassNamesInputSizeAndProbabilitiesGoIntoTheMetadata) {
  BitResNetV2 model(tiny_config(50));
  const std::string path = temp_path("named.onnx");
  const std::vector<std::string> names = {"a", "b", "c", "sea lion", "e", "f", "g"};
  ASSERT_TRUE(export_bit_onnx(model, path, {names, 224, "sigmoid"}).ok());
  const onnx::ModelProto exported = read_model(path);
  std::map<std::string, std::string> metadata;
  for (const auto& entry : exported.metadata_props()) metadata[entry.key()] = entry.value();
  EXPECT_EQ(metadata["class_names"], "a\nb\nc\nsea lion\ne\nf\ng");
  EXPECT_EQ(metadata["input_resolution"], "224");
  EXPECT_EQ(metadata["probabilities"], "sigmoid");
  // None of them when unknown; names that do not fit the head are refused.
  ASSERT_TRUE(export_bit_onnx(model, path).ok());
  EXPECT_EQ(read_model(path).metadata_props_size(), 0);
  const absl::Status status =
      export_bit_onnx(model, temp_path("bad.onnx"), {{"a", "b"}, 0}).status();
  EXPECT_NE(status.message().find("2 class names for a head of 7"), std::string::npos) << status;
}

TEST(OnnxExportTest, R101HasItsTwentyThreeThirdBlockUnits) {
  BitResNetV2 model(tiny_config(101));
  const std::string path = temp_path("tiny_r101.onnx");
  ASSERT_TRUE(export_bit_onnx(model, path).ok());
  const onnx::ModelProto exported = read_model(path);
  int convs = 0;
  for (const onnx::NodeProto& node : exported.graph().node()) convs += node.op_type() == "Conv";
  EXPECT_EQ(convs, 1 + 3 * 33 + 4 + 1);  // 3 + 4 + 23 + 3 units
}

// Above the size protobuf can serialize (here a small one, as 2 GiB of weights would take the
// test minutes), the weights go beside the .onnx file as ONNX external data.
TEST(OnnxExportTest, ALargeModelKeepsItsWeightsInAFileBesideIt) {
  BitResNetV2 model(tiny_config(50));
  const std::string embedded_path = temp_path("embedded.onnx");
  const std::string path = temp_path("external.onnx");
  absl::StatusOr<std::string> weights_file = export_bit_onnx(model, embedded_path);
  ASSERT_TRUE(weights_file.ok()) << weights_file.status();
  EXPECT_EQ(*weights_file, embedded_path);
  weights_file = export_bit_onnx(model, path, {}, 100000);
  ASSERT_TRUE(weights_file.ok()) << weights_file.status();
  EXPECT_EQ(*weights_file, path + ".data");
  EXPECT_NO_THROW(onnx::checker::check_model(path));  // it finds the data beside the model

  const onnx::ModelProto embedded = read_model(embedded_path), external = read_model(path);
  std::ifstream data_file(*weights_file, std::ios::binary);
  std::stringstream data;
  data << data_file.rdbuf();
  ASSERT_EQ(external.graph().initializer_size(), embedded.graph().initializer_size());
  int moved = 0;
  for (int i = 0; i < external.graph().initializer_size(); ++i) {
    const onnx::TensorProto &here = external.graph().initializer(i),
                            &there = embedded.graph().initializer(i);
    if (there.raw_data().empty()) {  // the int64 shapes of Reshape stay in the model
      EXPECT_EQ(here.data_location(), onnx::TensorProto::DEFAULT) << here.name();
      continue;
    }
    ++moved;
    EXPECT_EQ(here.data_location(), onnx::TensorProto::EXTERNAL) << here.name();
    EXPECT_TRUE(here.raw_data().empty()) << here.name();
    std::map<std::string, std::string> where;
    for (const auto& entry : here.external_data()) where[entry.key()] = entry.value();
    EXPECT_EQ(where["location"], "external.onnx.data");
    const size_t offset = std::stoull(where["offset"]), length = std::stoull(where["length"]);
    EXPECT_EQ(offset % 4096, 0u) << here.name();
    ASSERT_EQ(length, there.raw_data().size()) << here.name();
    ASSERT_LE(offset + length, data.str().size()) << here.name();
    EXPECT_EQ(data.str().compare(offset, length, there.raw_data()), 0) << here.name();
  }
  EXPECT_GE(moved, 1 + 3 * 16 + 4 + 1);  // every conv's weight at least
  EXPECT_LT(std::filesystem::file_size(path), std::filesystem::file_size(embedded_path) / 2);
}

TEST(OnnxExportTest, AnUnwritablePathIsNamedAndNothingIsLeft) {
  BitResNetV2 model(tiny_config(50));
  const std::string path = temp_path("no_such_dir/model.onnx");
  absl::Status status = export_bit_onnx(model, path).status();
  EXPECT_TRUE(testing::fails_naming(status, {path}));
}

}  // namespace
}  // namespace bitgrad
