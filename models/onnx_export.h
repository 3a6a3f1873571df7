// ONNX export of BiT models: the graph of BitResNetV2::forward (eval mode) as an ONNX model
// (opset 13), checked with ONNX's own checker, for ONNX Runtime and other deployment targets.
//
// Weight Standardization is folded: each StdConv2d exports its standardized weight as a plain
// Conv. GroupNorm becomes Reshape (N, G, -1) -> InstanceNormalization -> Reshape back -> the
// per-channel affine (-> Relu), the form every runtime supports (GroupNormalization needs opset
// 18, and its definition changed in 21). The input "images" is float32 (batch, 3, height, width)
// with batch and resolution left free; the output "logits" is (batch, head_size).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "models/bit_resnet_v2.h"

namespace bitgrad {

// What a runtime needs beyond the graph, from a checkpoint (LoadedBitModel): written as the
// model's metadata_props "class_names" (one per line, as a labels file), "input_resolution"
// (decimal) and "probabilities" ("softmax" over the logits, or a "sigmoid" per class, as the
// run's loss), each only when known.
struct OnnxModelInfo {
  std::vector<std::string> class_names;  // empty, or one per head output
  int64_t input_resolution = 0;          // 0: unknown
  std::string probabilities;             // empty: unknown
};

// Protobuf serializes no message of 2 GiB or more, and BiT-M-R152x4's weights are 3.7 GB.
inline constexpr size_t kMaxEmbeddedOnnxBytes = (size_t{1} << 31) - 1;

// Where a model too large for one file keeps its weights, beside `path`: PATH.data.
std::string onnx_external_data_path(const std::string& path);

// Writes `model` (any device; its parameters are read, not changed) to `path` atomically. A
// model of more than `max_embedded_bytes` keeps its weights in onnx_external_data_path(path)
// instead, as ONNX's external data (written first, also atomically): keep the two files
// together. Returns the file that holds the weights, `path` or that one. Errors name the path,
// or the checker's complaint, or class names that do not fit the head.
absl::StatusOr<std::string> export_bit_onnx(const BitResNetV2& model, const std::string& path,
                             const OnnxModelInfo& info = {},
                             size_t max_embedded_bytes = kMaxEmbeddedOnnxBytes);

}  // namespace bitgrad
