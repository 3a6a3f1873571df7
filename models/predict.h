// Inference with a BiT model: loading weights from either file kind, running batches in eval
// mode, and turning logits into ranked classes. examples/bit_predict is a thin shell over this.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/tensor.h"
#include "models/bit_resnet_v2.h"
#include "models/bit_weights.h"

namespace bitgrad {

struct InferenceModelOptions {
  // "BiT-M-R50x1", "R101x3", ...; empty: the architecture the file holds. Otherwise it must be
  // the file's architecture.
  std::string model_name;
  // A narrowed model's width and groups (BitConfig), which an .npz does not record; 0: not
  // given, the official 64 and 32 for an .npz. A checkpoint records its own, and a value given
  // must be it (a program would otherwise ignore a flag without a word).
  int64_t base_width = 0;
  int64_t num_groups = 0;
};

// Loads an official BiT .npz or a bitgrad checkpoint (models/train_state.h), told apart by the
// file's first bytes (is_checkpoint_file), keeping the file's head. An .npz with a model info
// file beside it (below) is built with its width and groups, and comes with its input size and
// loss (LoadedBitModel::run_config then holds only the loss).
absl::StatusOr<LoadedBitModel> load_bit_model_for_inference(const std::string& path,
                                                            const InferenceModelOptions& options);

// NAME.model.textproto beside NAME.npz (run/final.npz -> run/final.model.textproto): what an
// official-layout .npz has no place for (proto::NpzModelInfo, models/checkpoint.proto).
std::string npz_model_info_path(const std::string& npz_path);

// Writes the model info of `config`'s model, trained with `loss` ("sigmoid" or "softmax"),
// evaluated at `input_resolution` (0: unknown), beside `npz_path`, atomically. Writes nothing
// and returns "" when all is as an official BiT .npz has it (width 64, 32 groups, softmax, no
// input size); else returns its path.
absl::StatusOr<std::string> save_npz_model_info(const std::string& npz_path,
                                                const BitConfig& config, const std::string& loss,
                                                int64_t input_resolution);

// Returns inputs [begin, end) as an (end - begin, 3, H, W) float batch.
using BatchLoader = std::function<absl::StatusOr<Tensor>(int64_t begin, int64_t end)>;

// `images` (N, C, H, W), float32 on the CPU, each mirrored left-right: the flip of test-time
// augmentation.
Tensor mirror_images(const Tensor& images);

// The model's logits for (N, 3, H, W) float32 CPU `images`, converted to its parameters' dtype
// and device; with `flip`, averaged with the logits of the mirror images (test-time
// augmentation, twice the work). Call it in eval mode, without gradients.
Tensor batch_logits(BitResNetV2& model, const Tensor& images, bool flip);

struct PredictOptions {
  int64_t batch_size = 16;
  bool flip = false;  // batch_logits's test-time augmentation
  // Called after each batch with the inputs done so far, the total and the seconds elapsed.
  std::function<void(int64_t done, int64_t total, double seconds)> progress;
};

// The float32 (count, classes) logits of `count` inputs, run batch by batch in eval mode with
// no autograd graph. Inputs are converted to the model's dtype.
absl::StatusOr<Tensor> predict_logits(BitResNetV2& model, int64_t count,
                                      const BatchLoader& load_batch,
                                      const PredictOptions& options = {});

// How logits become probabilities: as the model was trained (--loss).
enum class Probabilities {
  kSoftmax,  // over the row: the classes exclude each other
  kSigmoid,  // per class: K independent yes/no answers
};

struct ClassScore {
  int64_t index = 0;
  float logit = 0;
  double probability = 0;
};

// The order in which top_k lists classes and an evaluation ranks a label: the higher logit of
// `logits` first, equal ones in class order (argmax's first maximum), NaNs last. A strict weak
// order even with NaNs, as std::partial_sort needs.
bool ranks_before(const float* logits, int64_t a, int64_t b);

// The min(k, K) best classes of each row of (N, K) logits, best first; equal logits keep the
// lower index first. Both kinds of probability rank the classes alike.
std::vector<std::vector<ClassScore>> top_k(const Tensor& logits, int64_t k,
                                           Probabilities kind = Probabilities::kSoftmax);

}  // namespace bitgrad
