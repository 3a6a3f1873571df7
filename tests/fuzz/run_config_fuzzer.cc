// The RunConfig textproto (--config, train/run_config.h) and the --dataset spec: any text parses
// and passes the checks, or gives an error naming its source. A config that parses prints to a
// text that parses back to the same config.
#include "google/protobuf/util/message_differencer.h"
#include "tests/fuzz/fuzz_support.h"
#include "train/run_config.h"

using namespace bitgrad;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const std::string source = "fuzz.textproto";
  absl::StatusOr<RunConfig> config = parse_run_config(text, source);
  if (config.ok()) {
    check_run_config(*config).IgnoreError();
    absl::StatusOr<RunConfig> again = parse_run_config(run_config_text(*config), source);
    fuzz::require(again.ok(), "a printed config does not parse back");
    fuzz::require(google::protobuf::util::MessageDifferencer::Equals(*config, *again),
                  "a printed config parses back to another config");
  } else {
    fuzz::require_names(config.status(), source);
  }
  parse_dataset_spec(text).IgnoreError();
  return 0;
}
