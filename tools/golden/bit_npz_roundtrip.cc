// npz -> bitgrad -> npz, for tools/golden/check_bit_predict.sh: loads an official-layout BiT .npz
// into a BitResNetV2 and saves it again; with --via_checkpoint the model also makes a trip
// through a native checkpoint (save_train_state, then load_bit_model_from_checkpoint) first.
//
//   bit_npz_roundtrip --input=IN.npz --output=OUT.npz [--via_checkpoint=VIA.ckpt]
#include <iostream>
#include <string>

#include "absl/flags/flag.h"
#include "examples/common/invocation.h"
#include "models/bit_weights.h"
#include "models/train_state.h"

ABSL_FLAG(std::string, input, "", "an official-layout BiT .npz");
ABSL_FLAG(std::string, output, "", "where to write the model's .npz");
ABSL_FLAG(std::string, via_checkpoint, "",
          "if set, save the model as a checkpoint here and load it back before writing");

namespace bitgrad {
namespace {

absl::Status run() {
  const std::string in = absl::GetFlag(FLAGS_input), out = absl::GetFlag(FLAGS_output);
  if (in.empty() || out.empty()) {
    return absl::InvalidArgumentError("--input and --output are required (see --help)");
  }
  absl::StatusOr<LoadedBitModel> loaded = load_bit_model(in);
  if (!loaded.ok()) return loaded.status();
  std::cerr << loaded->message << "\n";
  if (const std::string checkpoint = absl::GetFlag(FLAGS_via_checkpoint); !checkpoint.empty()) {
    TrainState state;
    state.model = loaded->model.get();
    if (absl::Status s = save_train_state(checkpoint, state); !s.ok()) return s;
    loaded = load_bit_model_from_checkpoint(checkpoint);
    if (!loaded.ok()) return loaded.status();
    std::cerr << loaded->message << "\n";
  }
  if (absl::Status s = save_bit_weights(*loaded->model, out); !s.ok()) return s;
  std::cerr << "wrote " << out << "\n";
  return absl::OkStatus();
}

}  // namespace
}  // namespace bitgrad

int main(int argc, char** argv) {
  return bitgrad::run_program(
      argc, argv, "bit_npz_roundtrip --input=IN.npz --output=OUT.npz [--via_checkpoint=VIA.ckpt]",
      bitgrad::run);
}
