// Reading a protobuf message written as text (a --config RunConfig, an .npz's model info), with
// the parser's first complaint as the error instead of protobuf's own log line.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "google/protobuf/message.h"
#include "google/protobuf/text_format.h"

namespace bitgrad {

// Parses `text` into `message`. The error names `source` and the line and column of the first
// complaint ("run.textproto:1:8: Expected integer, got: \"many\""). `locations`, when given,
// records where each field was set.
absl::Status parse_textproto(const std::string& text, const std::string& source,
                             google::protobuf::Message* message,
                             google::protobuf::TextFormat::ParseInfoTree* locations = nullptr);

}  // namespace bitgrad
