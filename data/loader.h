// Batches of BiT inputs, decoded, augmented and stacked by worker threads ahead of the model.
//
// The batch of step s is a pure function of (the ImageSet, the options, s): its examples are
// stream positions [s * batch, (s + 1) * batch) of a StreamOrder (data/stream_order.h), and
// the random crop and flip of position p come from Generator(derive_seed(seed, kAugment, p)).
// So the batches do not depend on the number of workers or on their scheduling, and a resumed
// run starts at any step with `first_step` and sees exactly the batches it would have seen.
//
// With augment = false and shuffle = false, step s is examples [s * batch, (s + 1) * batch)
// modulo N through the eval path: plain mini-batch SGD in file order.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "core/tensor.h"
#include "data/bit_preprocess.h"
#include "data/image_set.h"
#include "data/stream_order.h"

namespace bitgrad {

struct LoaderOptions {
  int64_t batch_size = 0;
  Resolution resolution;    // crop: the output size; precrop: the train path's resize
  bool augment = true;      // BiT's train path; false: the eval path (resize to crop)
  bool shuffle = true;      // a fresh permutation per epoch; false: file order
  uint64_t seed = 0;        // order and augmentation
  int64_t first_step = 0;   // the step of the first batch next() returns (resume)
  // Evaluation: examples 0 .. N-1 once, in file order, the last batch short; shuffle is
  // ignored and there are ceil(N / batch_size) steps.
  bool single_pass = false;
  // Workers fill slices of the next batches together, so all of them stay busy; at most
  // `prefetch` batches are built or held ahead of next(), each B * 3 * crop^2 floats.
  int workers = 2;
  int prefetch = 4;
};

struct Batch {
  int64_t step = 0;
  Tensor images;                  // float32 (B, 3, crop, crop) in [-1, 1]
  Tensor labels;                  // int64 (B)
  std::vector<int64_t> examples;  // the ImageSet indices, in batch order
};

// The batch of `step`, built on the calling thread: what the workers compute. Decoding errors
// name the image.
absl::StatusOr<Batch> build_batch(const ImageSet& set, const LoaderOptions& options,
                                  const StreamOrder& order, int64_t step);

class Loader {
 public:
  // The Loader keeps its own copy of `set` (sharing the pixels). Errors: bad options (a
  // non-positive batch, crop, worker or prefetch count, a crop larger than the precrop when
  // augmenting).
  static absl::StatusOr<std::unique_ptr<Loader>> open(const ImageSet& set, LoaderOptions options);
  ~Loader();  // stops and joins the workers
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  // The next step's batch, waiting for it if the workers are behind. Single-pass loaders have
  // num_steps() batches; asking for more is an error (bitgrad::Error).
  absl::StatusOr<Batch> next();

  int64_t num_steps() const;  // -1 for the endless training stream
  // Seconds next() has spent waiting for workers: near zero when data keeps up with the model.
  double wait_seconds() const;

 private:
  Loader(const ImageSet& set, LoaderOptions options);
  // A batch being filled: its slices still unfinished, and the first error of any of them.
  struct Building {
    Batch batch;
    int64_t slices_left = 0;
    absl::Status status;
  };
  struct Slice {
    int64_t step = 0, begin = 0, end = 0;  // examples [begin, end) of the step's batch
  };

  void work();
  bool past_end(int64_t step) const;
  Slice claim_slice();  // under mutex_

  const ImageSet set_;
  const LoaderOptions options_;
  const StreamOrder order_;

  mutable std::mutex mutex_;
  std::condition_variable can_claim_, batch_ready_;
  int64_t next_step_;         // the step next() returns
  int64_t claim_step_;        // the step whose slice the next free worker fills ...
  int64_t claim_begin_ = 0;   // ... starting at this example of the batch
  std::map<int64_t, Building> building_;
  std::map<int64_t, absl::StatusOr<Batch>> ready_;
  bool stopping_ = false;
  double wait_seconds_ = 0;
  std::vector<std::thread> workers_;
};

}  // namespace bitgrad
