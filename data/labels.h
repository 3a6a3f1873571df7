// Class-name files: one name per line, line i naming class i, like the official
// ilsvrc2012_wordnet_lemmas.txt (1000 lines) and imagenet21k_wordnet_lemmas.txt (21843 lines).
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace bitgrad {

// Reads the names; a final newline does not add an empty name, and "\r\n" line ends are
// accepted. Errors name the file: missing, unreadable, or empty.
absl::StatusOr<std::vector<std::string>> read_label_names(const std::string& path);

}  // namespace bitgrad
