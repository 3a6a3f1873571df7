// The one-line JSON object a benchmark prints last (compare.py reads the last line): keys and
// values added in order, strings quoted and escaped, numbers as JSON numbers.
#pragma once

#include <cmath>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace bitgrad::bench {

class JsonLine {
 public:
  JsonLine& add(std::string_view key, std::string_view value) {
    fields_.push_back(absl::StrCat(quoted(key), ": ", quoted(value)));
    return *this;
  }
  template <typename Number, typename = std::enable_if_t<std::is_arithmetic_v<Number>>>
  JsonLine& add(std::string_view key, Number value) {
    const bool finite = std::isfinite(static_cast<double>(value));  // JSON has no inf or nan
    fields_.push_back(absl::StrCat(quoted(key), ": ", finite ? absl::StrCat(value) : "null"));
    return *this;
  }
  std::string str() const { return absl::StrCat("{", absl::StrJoin(fields_, ", "), "}"); }

 private:
  static std::string quoted(std::string_view text) {
    std::string out = "\"";
    for (char c : text) {
      if (c == '"' || c == '\\') {
        out += '\\';
        out += c;
      } else if (static_cast<unsigned char>(c) < 0x20) {
        out += absl::StrFormat("\\u%04x", c);
      } else {
        out += c;
      }
    }
    return out + "\"";
  }

  std::vector<std::string> fields_;
};

}  // namespace bitgrad::bench
