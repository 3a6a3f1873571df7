#include "data/few_shot.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "core/random.h"
#include "data/stream_order.h"

namespace bitgrad {

absl::StatusOr<ImageSet> few_shot_subset(const ImageSet& set, int64_t per_class, uint64_t seed) {
  if (per_class < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("examples per class must be at least 1, got ", per_class));
  }
  std::vector<std::vector<int64_t>> by_class(set.num_classes());
  for (int64_t i = 0; i < set.size(); ++i) by_class[set.labels[i]].push_back(i);
  Generator generator(derive_seed(seed, SeedPurpose::kFewShot, 0));
  std::vector<int64_t> chosen;
  for (int64_t c = 0; c < set.num_classes(); ++c) {
    std::vector<int64_t>& members = by_class[c];
    const int64_t available = static_cast<int64_t>(members.size());
    if (available < per_class) {
      return absl::InvalidArgumentError(absl::StrCat(
          set.source, ": class ", c, " (\"", set.class_names[c], "\") has ", available,
          " examples, fewer than the ", per_class, " per class asked for"));
    }
    for (int64_t k = 0; k < per_class; ++k) {  // the first K steps of a Fisher-Yates shuffle
      std::swap(members[k], members[k + generator.randint(available - k)]);
    }
    chosen.insert(chosen.end(), members.begin(), members.begin() + per_class);
  }
  std::sort(chosen.begin(), chosen.end());
  return set.subset(chosen);
}

}  // namespace bitgrad
