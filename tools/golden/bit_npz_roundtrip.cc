// npz -> bitgrad -> npz, for tools/golden/check_bit_predict.sh: loads an official-layout BiT .npz
// into a BitResNetV2 and saves it again; with a third argument the model also makes a trip
// through a native checkpoint (save_train_state, then load_bit_model_from_checkpoint) first.
//
//   bit_npz_roundtrip IN.npz OUT.npz [VIA.ckpt]
#include <iostream>
#include <string>

#include "models/bit_weights.h"
#include "models/train_state.h"

int main(int argc, char** argv) {
  using namespace bitgrad;
  if (argc != 3 && argc != 4) {
    std::cerr << "usage: bit_npz_roundtrip IN.npz OUT.npz [VIA.ckpt]\n";
    return 2;
  }
  const std::string in = argv[1], out = argv[2];
  absl::StatusOr<LoadedBitModel> loaded = load_bit_model(in);
  if (!loaded.ok()) {
    std::cerr << "bit_npz_roundtrip: " << loaded.status().message() << "\n";
    return 1;
  }
  std::cerr << loaded->message << "\n";
  if (argc == 4) {
    const std::string checkpoint = argv[3];
    TrainState state;
    state.model = loaded->model.get();
    if (absl::Status s = save_train_state(checkpoint, state); !s.ok()) {
      std::cerr << "bit_npz_roundtrip: " << s.message() << "\n";
      return 1;
    }
    loaded = load_bit_model_from_checkpoint(checkpoint);
    if (!loaded.ok()) {
      std::cerr << "bit_npz_roundtrip: " << loaded.status().message() << "\n";
      return 1;
    }
    std::cerr << loaded->message << "\n";
  }
  if (absl::Status s = save_bit_weights(*loaded->model, out); !s.ok()) {
    std::cerr << "bit_npz_roundtrip: " << s.message() << "\n";
    return 1;
  }
  std::cerr << "wrote " << out << "\n";
  return 0;
}
