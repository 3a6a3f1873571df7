#include "models/name_mismatch.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace bitgrad {
namespace {

constexpr size_t kListed = 5;  // entries listed per kind; a broken file can have hundreds

void describe_kind(const char* kind, const std::string& what,
                   const std::vector<std::string>& entries, std::vector<std::string>* lines) {
  if (entries.empty()) return;
  std::vector<std::string> shown(entries.begin(),
                                 entries.begin() + std::min(entries.size(), kListed));
  std::string line =
      absl::StrCat(entries.size(), " ", kind, " ", what, "(s): ", absl::StrJoin(shown, "; "));
  if (entries.size() > kListed) absl::StrAppend(&line, "; and ", entries.size() - kListed, " more");
  lines->push_back(std::move(line));
}

}  // namespace

std::vector<std::string> NameMismatch::describe(const std::string& what) const {
  std::vector<std::string> lines;
  describe_kind("missing", what, missing, &lines);
  describe_kind("unexpected", what, unexpected, &lines);
  describe_kind("mismatched", what, mismatched, &lines);
  return lines;
}

}  // namespace bitgrad
