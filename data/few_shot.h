// Few-shot training sets: K examples per class, drawn from a seed (bit.md §3.2). The reference
// PyTorch code ignores its --examples_per_class_seed; here the seed decides the draw.
#pragma once

#include <cstdint>

#include "absl/status/statusor.h"
#include "data/image_set.h"

namespace bitgrad {

// For each class, `per_class` of its examples drawn without replacement with a Generator seeded
// by derive_seed(seed, kFewShot, 0); the subset keeps file order (the loader shuffles). Fails,
// naming the set and the class, when a class has fewer than `per_class` examples.
absl::StatusOr<ImageSet> few_shot_subset(const ImageSet& set, int64_t per_class, uint64_t seed);

}  // namespace bitgrad
