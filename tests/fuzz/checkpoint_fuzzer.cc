// Native checkpoints (models/checkpoint.h): any bytes give a checkpoint whose sizes and checksums
// were verified, or an error naming the file; and a BiT model built from one (the path of
// --weights=FILE.ckpt and bit_predict), or an error naming the file.
#include "io/file_limits.h"
#include "models/checkpoint.h"
#include "models/train_state.h"
#include "tests/fuzz/fuzz_support.h"

using namespace bitgrad;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static fuzz::MemoryFile file;
  set_max_file_tensor_bytes(fuzz::kFuzzMaxFileTensorBytes);
  const std::string& path = file.hold(data, size);
  is_checkpoint_file(path);
  absl::StatusOr<Checkpoint> checkpoint = load_checkpoint(path);
  if (!checkpoint.ok()) {
    fuzz::require_names(checkpoint.status(), path);
    return 0;
  }
  fuzz::require(checkpoint->step >= 0, "negative step");
  fuzz::require(checkpoint->optimizer.steps_taken >= 0, "negative steps_taken");
  fuzz::require(checkpoint->input_resolution >= 0, "negative input_resolution");
  for (const NamedTensors* tensors :
       {&checkpoint->parameters, &checkpoint->buffers, &checkpoint->optimizer.tensors}) {
    for (const auto& [name, tensor] : *tensors) fuzz::require_plain_cpu_tensor(tensor, name);
  }
  absl::StatusOr<LoadedBitModel> model = load_bit_model_from_checkpoint(path);
  if (!model.ok()) fuzz::require_names(model.status(), path);
  return 0;
}
