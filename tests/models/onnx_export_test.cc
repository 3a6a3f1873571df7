#include "models/onnx_export.h"

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "gtest/gtest.h"
#include "onnx/checker.h"
#include "onnx/onnx_pb.h"
#include "ops/norm.h"
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

Tensor initializer(const onnx::ModelProto& model, const std::string& name) {
  for (const onnx::TensorProto& t : model.graph().initializer()) {
    if (t.name() != name) continue;
    Shape shape;
    std::vector<int64_t> dims(t.dims().begin(), t.dims().end());
    std::vector<float> values(t.raw_data().size() / sizeof(float));
    std::memcpy(values.data(), t.raw_data().data(), t.raw_data().size());
    return from_vector<float>(values, Shape(dims));
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
