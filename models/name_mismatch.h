// What a file holds against what a model expects, matched by name: the three kinds of problem
// that loading official weights (bit_weights.h) or a checkpoint (train_state.h) reports, worded
// one way in both.
#pragma once

#include <string>
#include <vector>

namespace bitgrad {

struct NameMismatch {
  std::vector<std::string> missing;     // expected but not in the file
  std::vector<std::string> unexpected;  // in the file but not expected
  std::vector<std::string> mismatched;  // in both, with another shape or dtype

  bool empty() const { return missing.empty() && unexpected.empty() && mismatched.empty(); }

  // One line per kind that occurred, e.g. "2 missing array(s): a (shape (3)); b (shape (4))",
  // listing at most 5 entries of each kind ("...; and 7 more"). `what` names the entries:
  // "array", "parameter", "buffer".
  std::vector<std::string> describe(const std::string& what) const;
};

}  // namespace bitgrad
