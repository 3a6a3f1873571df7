// UTF-8 well-formedness: protobuf string fields (a checkpoint's class names), JSON and ONNX
// metadata hold only UTF-8, while file and folder names on Linux are any bytes.
#pragma once

#include <cstddef>

#include "absl/strings/string_view.h"

namespace bitgrad {

// Whether `bytes` is well-formed UTF-8: no stray continuation bytes, no overlong forms, no
// surrogates, nothing above U+10FFFF, nothing cut short.
bool is_utf8(absl::string_view bytes);

// The characters (code points) of UTF-8 text: the bytes that do not continue a character, so
// that a name like "café" lines up in a table with ASCII ones.
size_t utf8_characters(absl::string_view text);

}  // namespace bitgrad
