// ONNX export of BiT models: the graph of BitResNetV2::forward (eval mode) as an ONNX model
// (opset 13), checked with ONNX's own checker, for ONNX Runtime and other deployment targets.
//
// Weight Standardization is folded: each StdConv2d exports its standardized weight as a plain
// Conv. GroupNorm becomes Reshape (N, G, -1) -> InstanceNormalization -> Reshape back -> the
// per-channel affine (-> Relu), the form every runtime supports (GroupNormalization needs opset
// 18, and its definition changed in 21). The input "images" is float32 (batch, 3, height, width)
// with batch and resolution left free; the output "logits" is (batch, head_size).
#pragma once

#include <string>

#include "absl/status/status.h"
#include "models/bit_resnet_v2.h"

namespace bitgrad {

// Writes `model` (any device; its parameters are read, not changed) to `path` atomically.
// Errors name the path, or the checker's complaint.
absl::Status export_bit_onnx(const BitResNetV2& model, const std::string& path);

}  // namespace bitgrad
