#include "models/onnx_export.h"

#include <cstdint>
#include <filesystem>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "autograd/grad_mode.h"
#include "io/atomic_file.h"
#include "onnx/checker.h"
#include "onnx/onnx_pb.h"
#include "ops/norm.h"
#include "ops/reshape.h"

namespace bitgrad {
namespace {

constexpr int kOpset = 13;

// Appends nodes and initializers to an ONNX graph, naming values after the module paths.
class GraphBuilder {
 public:
  explicit GraphBuilder(onnx::GraphProto* graph) : graph_(graph) {}

  // A float32 initializer holding t's values in row-major order.
  std::string constant(const std::string& name, const Tensor& t) {
    onnx::TensorProto* proto = graph_->add_initializer();
    proto->set_name(name);
    proto->set_data_type(onnx::TensorProto::FLOAT);
    for (int64_t d = 0; d < t.dim(); ++d) proto->add_dims(t.size(d));
    const std::vector<float> values = t.to_vector<float>();
    proto->set_raw_data(values.data(), values.size() * sizeof(float));
    return name;
  }

  std::string int64_constant(const std::string& name, const std::vector<int64_t>& values) {
    onnx::TensorProto* proto = graph_->add_initializer();
    proto->set_name(name);
    proto->set_data_type(onnx::TensorProto::INT64);
    proto->add_dims(static_cast<int64_t>(values.size()));
    for (int64_t v : values) proto->add_int64_data(v);
    return name;
  }

  // Adds one node; its output is named `output`.
  onnx::NodeProto* node(const std::string& op, const std::vector<std::string>& inputs,
                        const std::string& output) {
    onnx::NodeProto* node = graph_->add_node();
    node->set_op_type(op);
    node->set_name(output);
    for (const std::string& input : inputs) node->add_input(input);
    node->add_output(output);
    return node;
  }

 private:
  onnx::GraphProto* graph_;
};

void set_ints(onnx::NodeProto* node, const std::string& name, const std::vector<int64_t>& values) {
  onnx::AttributeProto* attribute = node->add_attribute();
  attribute->set_name(name);
  attribute->set_type(onnx::AttributeProto::INTS);
  for (int64_t v : values) attribute->add_ints(v);
}

void set_int(onnx::NodeProto* node, const std::string& name, int64_t value) {
  onnx::AttributeProto* attribute = node->add_attribute();
  attribute->set_name(name);
  attribute->set_type(onnx::AttributeProto::INT);
  attribute->set_i(value);
}

void set_float(onnx::NodeProto* node, const std::string& name, float value) {
  onnx::AttributeProto* attribute = node->add_attribute();
  attribute->set_name(name);
  attribute->set_type(onnx::AttributeProto::FLOAT);
  attribute->set_f(value);
}

// A conv module as an ONNX Conv; a StdConv2d exports its standardized weight.
std::string conv(GraphBuilder& g, const nn::Conv2d& module, const Tensor& weight,
                 const std::string& input, const std::string& name) {
  std::vector<std::string> inputs = {input, g.constant(name + ".weight", weight)};
  if (module.bias.defined()) inputs.push_back(g.constant(name + ".bias", module.bias));
  onnx::NodeProto* node = g.node("Conv", inputs, name);
  const Conv2dAttrs& attrs = module.options().attrs();
  const int64_t k = module.options().kernel_size();
  set_ints(node, "kernel_shape", {k, k});
  set_ints(node, "strides", {attrs.stride[0], attrs.stride[1]});
  set_ints(node, "pads", {attrs.padding[0], attrs.padding[1], attrs.padding[0], attrs.padding[1]});
  set_ints(node, "dilations", {attrs.dilation[0], attrs.dilation[1]});
  set_int(node, "group", attrs.groups);
  return name;
}

std::string std_conv(GraphBuilder& g, const nn::StdConv2d& module, const std::string& input,
                     const std::string& name) {
  return conv(g, module, weight_standardize(module.weight, module.eps()), input, name);
}

// GroupNorm (and its fused ReLU) through InstanceNormalization over (N, G, C/G * H * W).
std::string group_norm(GraphBuilder& g, const nn::GroupNorm& module, const std::string& input,
                       const std::string& name) {
  const nn::GroupNormOptions& options = module.options();
  const int64_t c = options.channels, groups = options.groups;
  std::string grouped = g.node("Reshape", {input, g.int64_constant(name + ".grouped_shape",
                                                                   {0, groups, -1})},
                               name + ".grouped")->output(0);
  onnx::NodeProto* normalize =
      g.node("InstanceNormalization",
             {grouped, g.constant(name + ".unit_scale", ones({groups})),
              g.constant(name + ".zero_shift", zeros({groups}))},
             name + ".normalized");
  set_float(normalize, "epsilon", static_cast<float>(options.eps));
  std::string shape = g.node("Shape", {input}, name + ".input_shape")->output(0);
  std::string y = g.node("Reshape", {normalize->output(0), shape}, name + ".ungrouped")->output(0);
  y = g.node("Mul", {y, g.constant(name + ".weight", reshape(module.weight, {c, 1, 1}))},
             name + ".scaled")->output(0);
  y = g.node("Add", {y, g.constant(name + ".bias", reshape(module.bias, {c, 1, 1}))},
             options.relu ? name + ".shifted" : name)->output(0);
  return options.relu ? g.node("Relu", {y}, name)->output(0) : y;
}

// PreActBottleneck::forward, node for node.
std::string unit(GraphBuilder& g, const PreActBottleneck& u, const std::string& x,
                 const std::string& name) {
  std::string pre = group_norm(g, *u.gn1, x, name + ".gn1");
  std::string shortcut = u.downsample ? std_conv(g, *u.downsample, pre, name + ".downsample") : x;
  std::string h = std_conv(g, *u.conv1, pre, name + ".conv1");
  h = std_conv(g, *u.conv2, group_norm(g, *u.gn2, h, name + ".gn2"), name + ".conv2");
  h = std_conv(g, *u.conv3, group_norm(g, *u.gn3, h, name + ".gn3"), name + ".conv3");
  return g.node("Add", {h, shortcut}, name)->output(0);
}

void add_float_value(onnx::ValueInfoProto* value, const std::string& name,
                     const std::vector<std::string>& dims, int64_t fixed_dim, int fixed_at) {
  value->set_name(name);
  onnx::TypeProto::Tensor* type = value->mutable_type()->mutable_tensor_type();
  type->set_elem_type(onnx::TensorProto::FLOAT);
  for (size_t i = 0; i < dims.size(); ++i) {
    onnx::TensorShapeProto::Dimension* dim = type->mutable_shape()->add_dim();
    if (static_cast<int>(i) == fixed_at) {
      dim->set_dim_value(fixed_dim);
    } else {
      dim->set_dim_param(dims[i]);
    }
  }
}

onnx::ModelProto build_model(const BitResNetV2& model) {
  NoGradGuard no_graph;
  onnx::ModelProto proto;
  proto.set_ir_version(7);  // the IR version of opset 13
  proto.set_producer_name("bitgrad");
  proto.set_doc_string(absl::StrCat("BiT-", bit_arch_name(model.config()),
                                    " (Weight Standardization folded into the convs)"));
  onnx::OperatorSetIdProto* opset = proto.add_opset_import();
  opset->set_domain("");
  opset->set_version(kOpset);
  onnx::GraphProto* graph = proto.mutable_graph();
  graph->set_name("bit_resnet_v2");
  GraphBuilder g(graph);
  add_float_value(graph->add_input(), "images", {"batch", "", "height", "width"}, 3, 1);

  // BitRootBlock::forward: the conv, then zero padding and the max-pool.
  const BitRootBlock& root = *model.root;
  std::string h = std_conv(g, *root.conv, "images", "root.conv");
  const int64_t p = root.pool->zero_padding();
  h = g.node("Pad", {h, g.int64_constant("root.pool.pads", {0, 0, p, p, 0, 0, p, p})},
             "root.pool.padded")->output(0);
  const Pool2dAttrs& pool = root.pool->attrs();
  onnx::NodeProto* max_pool = g.node("MaxPool", {h}, "root.pool");
  set_ints(max_pool, "kernel_shape", {pool.kernel[0], pool.kernel[1]});
  set_ints(max_pool, "strides", {pool.stride[0], pool.stride[1]});
  set_ints(max_pool, "pads", {pool.padding[0], pool.padding[1], pool.padding[0], pool.padding[1]});
  h = max_pool->output(0);

  for (size_t i = 0; i < model.units.size(); ++i) {
    h = unit(g, *model.units[i], h, absl::StrCat("unit", i + 1));
  }
  // BitHead: GroupNorm+ReLU, the spatial mean, the 1x1 conv, flattened to (N, classes).
  h = group_norm(g, *model.head->gn, h, "head.gn");
  onnx::NodeProto* mean = g.node("ReduceMean", {h}, "head.mean");
  set_ints(mean, "axes", {2, 3});
  set_int(mean, "keepdims", 1);
  h = conv(g, *model.head->conv, model.head->conv->weight, mean->output(0), "head.conv");
  set_int(g.node("Flatten", {h}, "logits"), "axis", 1);
  add_float_value(graph->add_output(), "logits", {"batch", ""}, model.config().head_size, 1);
  return proto;
}

// Appends key = value to a list of ONNX's string pairs (metadata_props, external_data).
void add_entry(google::protobuf::RepeatedPtrField<onnx::StringStringEntryProto>* entries,
               const std::string& key, const std::string& value) {
  onnx::StringStringEntryProto* entry = entries->Add();
  entry->set_key(key);
  entry->set_value(value);
}

// Moves the initializers' raw data to `data_path`, each at an offset that is a multiple of 4096
// (so that a runtime may map it), and leaves in `proto` where each lies.
absl::Status move_weights_to_external_data(onnx::ModelProto& proto, const std::string& data_path) {
  constexpr uint64_t kAlignment = 4096;
  std::vector<std::pair<onnx::TensorProto*, uint64_t>> placed;  // an initializer, its offset
  uint64_t end = 0;
  for (onnx::TensorProto& tensor : *proto.mutable_graph()->mutable_initializer()) {
    if (tensor.raw_data().empty()) continue;
    const uint64_t offset = (end + kAlignment - 1) / kAlignment * kAlignment;
    placed.emplace_back(&tensor, offset);
    end = offset + tensor.raw_data().size();
  }
  absl::Status written = write_file_atomically(data_path, [&](FileSink& sink) {
    const std::vector<char> zeros(kAlignment, 0);
    uint64_t at = 0;
    for (const auto& [tensor, offset] : placed) {
      if (absl::Status s = sink.write(zeros.data(), offset - at); !s.ok()) return s;
      if (absl::Status s = sink.write(tensor->raw_data().data(), tensor->raw_data().size());
          !s.ok()) {
        return s;
      }
      at = offset + tensor->raw_data().size();
    }
    return absl::OkStatus();
  });
  if (!written.ok()) return written;
  const std::string location = std::filesystem::path(data_path).filename().string();
  for (const auto& [tensor, offset] : placed) {
    add_entry(tensor->mutable_external_data(), "location", location);
    add_entry(tensor->mutable_external_data(), "offset", absl::StrCat(offset));
    add_entry(tensor->mutable_external_data(), "length", absl::StrCat(tensor->raw_data().size()));
    tensor->set_data_location(onnx::TensorProto::EXTERNAL);
    tensor->clear_raw_data();
  }
  return absl::OkStatus();
}

}  // namespace

std::string onnx_external_data_path(const std::string& path) { return path + ".data"; }

absl::StatusOr<std::string> export_bit_onnx(const BitResNetV2& model, const std::string& path,
                                            const OnnxModelInfo& info, size_t max_embedded_bytes) {
  if (std::string mismatch = class_names_mismatch(info.class_names, model.config().head_size);
      !mismatch.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("ONNX export to ", path, ": ", mismatch));
  }
  onnx::ModelProto proto = build_model(model);
  auto* metadata = proto.mutable_metadata_props();
  if (!info.class_names.empty()) {
    add_entry(metadata, "class_names", absl::StrJoin(info.class_names, "\n"));
  }
  if (info.input_resolution > 0) {
    add_entry(metadata, "input_resolution", absl::StrCat(info.input_resolution));
  }
  if (!info.probabilities.empty()) add_entry(metadata, "probabilities", info.probabilities);
  try {
    onnx::checker::check_model(proto);
  } catch (const std::exception& error) {
    return absl::InternalError(
        absl::StrCat("ONNX export to ", path, ": the checker rejects the model: ", error.what()));
  }
  std::string weights_file = path;
  if (proto.ByteSizeLong() > max_embedded_bytes) {
    weights_file = onnx_external_data_path(path);
    if (absl::Status s = move_weights_to_external_data(proto, weights_file); !s.ok()) return s;
  }
  std::string bytes;
  if (!proto.SerializeToString(&bytes)) {
    return absl::InternalError(absl::StrCat("ONNX export to ", path, ": cannot serialize"));
  }
  absl::Status written = write_file_atomically(
      path, [&](FileSink& sink) { return sink.write(bytes.data(), bytes.size()); });
  if (!written.ok()) return written;
  return weights_file;
}

}  // namespace bitgrad
