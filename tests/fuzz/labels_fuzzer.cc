// Class-name files (data/labels.h): one name per line.
#include "data/labels.h"
#include "tests/fuzz/fuzz_support.h"

using namespace bitgrad;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static fuzz::MemoryFile file;
  const std::string& path = file.hold(data, size);
  absl::StatusOr<std::vector<std::string>> names = read_label_names(path);
  if (!names.ok()) {
    fuzz::require_names(names.status(), path);
    return 0;
  }
  fuzz::require(!names->empty(), "no names and no error");
  for (const std::string& name : *names) {
    fuzz::require(name.find('\n') == std::string::npos, "a name holds a newline");
  }
  return 0;
}
