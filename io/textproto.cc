#include "io/textproto.h"

#include "absl/strings/str_cat.h"
#include "google/protobuf/io/tokenizer.h"

namespace bitgrad {
namespace {

// Keeps the parser's first error ("1:8: Expected integer, got: \"many\"").
struct FirstParseError : google::protobuf::io::ErrorCollector {
  std::string text;
  void AddError(int line, int column, const std::string& message) override {
    if (text.empty()) text = absl::StrCat(line + 1, ":", column + 1, ": ", message);
  }
};

}  // namespace

absl::Status parse_textproto(const std::string& text, const std::string& source,
                             google::protobuf::Message* message,
                             google::protobuf::TextFormat::ParseInfoTree* locations) {
  google::protobuf::TextFormat::Parser parser;
  if (locations != nullptr) parser.WriteLocationsTo(locations);
  FirstParseError error;
  parser.RecordErrorsTo(&error);
  if (parser.ParseFromString(text, message)) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(source, ":", error.text));
}

}  // namespace bitgrad
