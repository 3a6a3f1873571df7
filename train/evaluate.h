// Top-1, top-5 and mean loss of a classifier on a whole test split, through BiT's eval path.
#pragma once

#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "data/decoded_image_cache.h"
#include "data/image_set.h"
#include "dist/communicator.h"
#include "models/bit_resnet_v2.h"
#include "ops/loss.h"

namespace bitgrad {

struct EvalResult {
  // Fractions in [0, 1]. Equal logits rank in class order (argmax's first maximum), and an
  // example whose logits hold a NaN is wrong at every k; otherwise top-5 is 1 when the head has
  // <= 5 classes.
  double top1 = 0, top5 = 0;
  double loss = 0;            // cross-entropy, mean over the examples
  int64_t examples = 0;
  int64_t head_classes = 0;  // logits per example
  bool flip = false;         // each image's logits averaged with its mirror image's
  // By label (one entry per class of the set): its examples, and how many of them were top-1.
  std::vector<int64_t> class_examples, class_top1;
  // confusion[label * K + c]: how many examples of `label` had class c top-1, for the K classes
  // of the set when K <= kMaxConfusionClasses (else empty); a wider head's other classes are
  // not counted, nor are examples whose logits hold a NaN.
  std::vector<int64_t> confusion;
};

inline constexpr int64_t kMaxConfusionClasses = 1000;  // a table of 8 MB

// "top-1 81.20%, top-5 99.10%"; just "top-1 81.20%" when the head has 5 classes or fewer, where
// top-5 is 100% whatever the model does; " (flip-averaged)" after them for EvalOptions::flip.
std::string accuracy_text(const EvalResult& result);

// Top-1 of each class, weakest first, at most `most` of them: where a model falls short, and,
// with a confusion table, the two classes it most often took each one for.
//   top-1 by class, weakest first (3 of 12 shown):
//     Shirt        41.20%  of 1000  (as T-shirt/top 21.30%, Pullover 14.10%)
std::string per_class_report(const EvalResult& result, const std::vector<std::string>& class_names,
                             int most = 10);

// For long evaluations (large photos on two cores take minutes): a line on `out` each time
// `every_seconds` have passed, before the last batch,
//   eval: batch 12/40, 8.1 images/s, ETA 1:24
// so a short evaluation prints nothing.
struct EvalProgress {
  std::ostream* out = nullptr;  // none: silent
  double every_seconds = 10;
};

struct EvalOptions {
  int64_t resolution = 0;  // images are resized to resolution x resolution
  int64_t batch = 1;       // images per forward pass
  int workers = 1;         // loader threads
  // Several processes: process r takes batches r, r + N, ... and every process returns the
  // totals (the progress lines count this process's batches).
  Communicator* world = nullptr;
  EvalProgress progress;
  LossFunction loss_of = cross_entropy;  // of the logits and labels, averaged over the examples
  // eval_image_cache: image files decoded once for all the evaluations that share it.
  DecodedImageCache* decoded = nullptr;
  // Test-time augmentation: each image also mirrored left-right, and the two logits averaged
  // (twice the work). Top-1, top-5 and the loss are those of the averaged logits.
  bool flip = false;
};

// Every example of `set` once, in eval mode (the model is back in train mode afterwards) and
// without gradients. Errors name a bad image; with several processes, when one fails every one
// returns its error (none is left waiting in a collective).
absl::StatusOr<EvalResult> evaluate(BitResNetV2& model, const ImageSet& set,
                                    const EvalOptions& options);

// A cache of `set`'s decoded image files for evaluations at `resolution` (a run evaluates its
// test split every --eval_every updates), up to the loader's default budget; it refers to `set`,
// which must outlive it. Sets held in memory are not cached (they need no decoding).
std::unique_ptr<DecodedImageCache> eval_image_cache(const ImageSet& set, int64_t resolution);

}  // namespace bitgrad
