#include "data/labels.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <system_error>

#include "absl/strings/match.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "io/atomic_file.h"
#include "io/utf8.h"

namespace bitgrad {

std::string labels_path_beside(const std::string& npz_path) {
  const std::string stem = absl::EndsWith(npz_path, ".npz")
                               ? npz_path.substr(0, npz_path.size() - 4)
                               : npz_path;
  return stem + ".labels.txt";
}

absl::StatusOr<std::vector<std::string>> class_names_beside(const std::string& npz_path,
                                                            int64_t classes) {
  const std::string labels = labels_path_beside(npz_path);
  std::error_code error;
  if (!absl::EndsWith(npz_path, ".npz") || !std::filesystem::exists(labels, error)) {
    return std::vector<std::string>();
  }
  absl::StatusOr<std::vector<std::string>> names = read_label_names(labels);
  if (!names.ok()) return names.status();
  if (static_cast<int64_t>(names->size()) != classes) {
    return absl::InvalidArgumentError(absl::StrCat(labels, " beside ", npz_path, " names ",
                                                   names->size(), " classes, its head has ",
                                                   classes, " outputs"));
  }
  return names;
}

std::string class_name_problem(absl::string_view name) {
  if (!is_utf8(name)) return "is not UTF-8 text";
  if (name.find_first_of("\r\n") != absl::string_view::npos) return "holds a line break";
  return "";
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
    if (!is_utf8(line)) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": line ", names.size() + 1, " ('", absl::CHexEscape(line),
          "') is not UTF-8 text; save the file as UTF-8"));
    }
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
    if (std::string problem = class_name_problem(name); !problem.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": class name '", absl::CHexEscape(name), "' ", problem));
    }
    absl::StrAppend(&text, name, "\n");
  }
  return write_file_atomically(
      path, [&](FileSink& sink) { return sink.write(text.data(), text.size()); });
}

}  // namespace bitgrad
