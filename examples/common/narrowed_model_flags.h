// --base_width and --num_groups of the programs that read a model file (bit_predict,
// bit_export): a narrowed model's shape, which its .npz does not record. bit_finetune has its
// own, as fields of its RunConfig.
#pragma once

#include <cstdint>

#include "absl/flags/declare.h"
#include "absl/status/status.h"
#include "models/predict.h"

ABSL_DECLARE_FLAG(int64_t, base_width);
ABSL_DECLARE_FLAG(int64_t, num_groups);

namespace bitgrad {

// The two flags in `options` (0, the official width and groups, when left out); a negative one
// is an error naming it.
absl::Status set_narrowed_model_options(InferenceModelOptions& options);

}  // namespace bitgrad
