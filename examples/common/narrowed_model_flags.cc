#include "examples/common/narrowed_model_flags.h"

#include "absl/flags/flag.h"

ABSL_FLAG(int64_t, base_width, 0,
          "the base width of a narrowed model (its .npz, or bit_export's --weights=random); 0: "
          "the official 64; a checkpoint records its own");
ABSL_FLAG(int64_t, num_groups, 0,
          "the GroupNorm groups of a narrowed model (its .npz, or bit_export's "
          "--weights=random); 0: the official 32; a checkpoint records its own");

namespace bitgrad {

void set_narrowed_model_options(InferenceModelOptions& options) {
  options.base_width = absl::GetFlag(FLAGS_base_width);
  options.num_groups = absl::GetFlag(FLAGS_num_groups);
}

}  // namespace bitgrad
