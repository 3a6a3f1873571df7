#include "data/labels.h"

#include <unistd.h>

#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "io/atomic_file.h"

namespace bitgrad {

std::string labels_path_beside(const std::string& npz_path) {
  const std::string stem = absl::EndsWith(npz_path, ".npz")
                               ? npz_path.substr(0, npz_path.size() - 4)
                               : npz_path;
  return stem + ".labels.txt";
}

absl::StatusOr<std::vector<std::string>> read_label_names(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    if (access(path.c_str(), F_OK) != 0) {
      return absl::NotFoundError(absl::StrCat(path, ": no such labels file"));
    }
    return absl::PermissionDeniedError(absl::StrCat(path, ": cannot read the labels file"));
  }
  std::vector<std::string> names;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    names.push_back(line);
  }
  if (in.bad()) return absl::DataLossError(absl::StrCat(path, ": reading the labels failed"));
  if (names.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": the labels file is empty"));
  }
  return names;
}

absl::Status write_label_names(const std::string& path, const std::vector<std::string>& names) {
  if (names.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": no class names to write"));
  }
  std::string text;
  for (const std::string& name : names) {
    if (name.find_first_of("\r\n") != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": class name '", name, "' holds a line break"));
    }
    absl::StrAppend(&text, name, "\n");
  }
  return write_file_atomically(
      path, [&](FileSink& sink) { return sink.write(text.data(), text.size()); });
}

}  // namespace bitgrad
