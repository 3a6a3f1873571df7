#include "examples/common/narrowed_model_flags.h"

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"

ABSL_FLAG(int64_t, base_width, 0,
          "the base width of a narrowed model (its .npz, or bit_export's --weights=random); 0: "
          "the official 64; a checkpoint records its own");
ABSL_FLAG(int64_t, num_groups, 0,
          "the GroupNorm groups of a narrowed model (its .npz, or bit_export's "
          "--weights=random); 0: the official 32; a checkpoint records its own");

namespace bitgrad {

absl::Status set_narrowed_model_options(InferenceModelOptions& options) {
  options.base_width = absl::GetFlag(FLAGS_base_width);
  options.num_groups = absl::GetFlag(FLAGS_num_groups);
  if (options.base_width < 0 || options.num_groups < 0) {
    const bool width = options.base_width < 0;
    return absl::InvalidArgumentError(absl::StrCat(
        width ? "--base_width=" : "--num_groups=", width ? options.base_width : options.num_groups,
        ": must be >= 0 (0: the official ",
        width ? BitConfig::kOfficialBaseWidth : BitConfig::kOfficialNumGroups, ")"));
  }
  return absl::OkStatus();
}

}  // namespace bitgrad
