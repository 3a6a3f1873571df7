// Class-name files: one name per line, line i naming class i, like the official
// ilsvrc2012_wordnet_lemmas.txt (1000 lines) and imagenet21k_wordnet_lemmas.txt (21843 lines).
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace bitgrad {

// Reads the names; a final newline does not add an empty name, and "\r\n" line ends are
// accepted. Errors name the file: missing, unreadable, empty, or a line that is no UTF-8.
absl::StatusOr<std::vector<std::string>> read_label_names(const std::string& path);

// The class-name file that goes with an .npz: PATH without ".npz", plus ".labels.txt"
// (run/final.npz -> run/final.labels.txt). bit_finetune --save_weights writes one beside its
// weights, and a dataset .npz may have one beside it (data/keras_npz.h).
std::string labels_path_beside(const std::string& npz_path);

// The class names in the labels file beside the weights file `npz_path` of a model with
// `classes` outputs, or none when it is no .npz or has no such file. A file naming another count
// of classes is an error naming it.
absl::StatusOr<std::vector<std::string>> class_names_beside(const std::string& npz_path,
                                                            int64_t classes);

// Why `name` cannot name a class, or "" when it can: it must be UTF-8 text (a checkpoint, a
// labels file, JSON and ONNX hold it as such) without a line break (a labels file would read it
// back as two names).
std::string class_name_problem(absl::string_view name);

// Writes the names, one per line, atomically; read_label_names gives them back. A name
// class_name_problem refuses is refused.
absl::Status write_label_names(const std::string& path, const std::vector<std::string>& names);

}  // namespace bitgrad
