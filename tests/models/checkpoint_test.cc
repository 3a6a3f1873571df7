#include "models/checkpoint.h"

#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/random.h"
#include "gtest/gtest.h"
#include "models/checkpoint.pb.h"
#include "tests/testing/assertions.h"

namespace bitgrad {
namespace {

using testing::fails_naming;

Checkpoint sample_checkpoint() {
  Generator g(9);
  Checkpoint c;
  c.model_name = "BiT-M-R50x1";
  c.step = 1234;
  c.parameters = {{"root.conv.weight", randn({8, 3, 7, 7}, DType::kFloat32, Device::cpu(), g)},
                  {"head.conv.bias", randn({10}, DType::kFloat32, Device::cpu(), g)},
                  {"empty", zeros({0, 4})}};
  c.buffers = {{"counts", from_vector<int64_t>({1, 2, 3}, {3})}};
  c.optimizer.kind = "sgd";
  c.optimizer.steps_taken = 1234;
  c.optimizer.sgd.emplace();
  c.optimizer.sgd->set_lr(0.003);
  c.optimizer.sgd->set_momentum(0.9);
  c.optimizer.sgd->set_nesterov(true);
  c.optimizer.tensors = {
      {"root.conv.weight", randn({8, 3, 7, 7}, DType::kFloat64, Device::cpu(), g)}};
  c.rng_state = g.state();
  c.config = "base_lr: 0.003\nbatch: 512\n";
  c.bit_config.emplace();
  c.bit_config->set_depth(101);
  c.bit_config->set_seed(uint64_t{1} << 63);
  c.metadata = {{"created_by", "checkpoint_test"}};
  return c;
}

void expect_same_tensors(const NamedTensors& a, const NamedTensors& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].first, b[i].first);
    EXPECT_EQ(a[i].second.dtype(), b[i].second.dtype());
    EXPECT_EQ(a[i].second.shape(), b[i].second.shape());
    EXPECT_EQ(a[i].second.to_vector<double>(), b[i].second.to_vector<double>()) << a[i].first;
  }
}

std::string temp_path(const std::string& name) { return ::testing::TempDir() + "/" + name; }

constexpr uint64_t kHeaderStart = 20;  // magic, the header's length, its CRC

// Everything in a checkpoint's header: all but the tensors.
void expect_same_settings(const Checkpoint& loaded, const Checkpoint& saved) {
  EXPECT_EQ(loaded.model_name, saved.model_name);
  EXPECT_EQ(loaded.step, saved.step);
  EXPECT_EQ(loaded.rng_state, saved.rng_state);
  EXPECT_EQ(loaded.config, saved.config);
  EXPECT_EQ(loaded.metadata, saved.metadata);
  EXPECT_EQ(loaded.optimizer.kind, "sgd");
  EXPECT_EQ(loaded.optimizer.steps_taken, saved.optimizer.steps_taken);
  ASSERT_TRUE(loaded.optimizer.sgd.has_value());
  EXPECT_EQ(loaded.optimizer.sgd->SerializeAsString(), saved.optimizer.sgd->SerializeAsString());
  ASSERT_TRUE(loaded.bit_config.has_value());
  EXPECT_EQ(loaded.bit_config->SerializeAsString(), saved.bit_config->SerializeAsString());
}

TEST(CheckpointTest, RoundTripsEverything) {
  Checkpoint saved = sample_checkpoint();
  std::string path = temp_path("round_trip.ckpt");
  ASSERT_TRUE(save_checkpoint(path, saved).ok());
  EXPECT_TRUE(is_checkpoint_file(path));
  absl::StatusOr<Checkpoint> loaded = load_checkpoint(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  expect_same_settings(*loaded, saved);
  EXPECT_EQ(loaded->optimizer.steps_taken, 1234);
  expect_same_tensors(loaded->parameters, saved.parameters);
  expect_same_tensors(loaded->buffers, saved.buffers);
  expect_same_tensors(loaded->optimizer.tensors, saved.optimizer.tensors);
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

// What --eval_only reads to adopt a run's --test_fraction: the settings, not the tensors, which
// are left unread (a damaged tensor does not fail it).
TEST(CheckpointTest, TheHeaderAloneHoldsEverythingButTheTensors) {
  const Checkpoint saved = sample_checkpoint();
  const std::string path = temp_path("header_only.ckpt");
  ASSERT_TRUE(save_checkpoint(path, saved).ok());
  std::string bytes = read_bytes(path);
  bytes[bytes.size() - 8] ^= 0x40;  // inside the last tensor's data
  write_bytes(path, bytes);
  ASSERT_FALSE(load_checkpoint(path).ok());

  absl::StatusOr<Checkpoint> header = load_checkpoint_header(path);
  ASSERT_TRUE(header.ok()) << header.status();
  expect_same_settings(*header, saved);
  ASSERT_TRUE(header->bit_config.has_value());
  EXPECT_EQ(header->bit_config->depth(), 101);
  EXPECT_TRUE(header->parameters.empty());
  EXPECT_TRUE(header->buffers.empty());
  EXPECT_TRUE(header->optimizer.tensors.empty());

  bytes[30] ^= 0x01;  // inside the header
  write_bytes(path, bytes);
  EXPECT_TRUE(fails_naming(load_checkpoint_header(path).status(),
                           {path, "header fails its checksum"}));
}

TEST(CheckpointTest, CorruptionIsDetectedAndNamed) {
  std::string path = temp_path("corrupt.ckpt");
  ASSERT_TRUE(save_checkpoint(path, sample_checkpoint()).ok());
  std::string bytes = read_bytes(path);

  write_bytes(path, bytes.substr(0, bytes.size() - 100));
  absl::StatusOr<Checkpoint> truncated = load_checkpoint(path);
  ASSERT_FALSE(truncated.ok());
  EXPECT_NE(truncated.status().message().find("past the end of the file"), std::string::npos)
      << truncated.status();
  EXPECT_NE(truncated.status().message().find(path), std::string::npos);

  std::string flipped = bytes;
  flipped[flipped.size() - 8] ^= 0x40;  // inside the last tensor's data
  write_bytes(path, flipped);
  absl::StatusOr<Checkpoint> bad_sum = load_checkpoint(path);
  ASSERT_FALSE(bad_sum.ok());
  EXPECT_NE(bad_sum.status().message().find("checksum"), std::string::npos) << bad_sum.status();
  EXPECT_NE(bad_sum.status().message().find("root.conv.weight"), std::string::npos);

  std::string header_flipped = bytes;
  header_flipped[30] ^= 0x01;  // inside the header: the step, the RNG state, a class name, ...
  write_bytes(path, header_flipped);
  EXPECT_TRUE(fails_naming(load_checkpoint(path).status(), {path, "header fails its checksum"}));

  write_bytes(path, "");
  EXPECT_TRUE(fails_naming(load_checkpoint(path).status(), {path, "empty (0 bytes)"}));
  EXPECT_TRUE(fails_naming(load_checkpoint(::testing::TempDir()).status(), {"a folder"}));

  write_bytes(path, "PK\x03\x04 this is a zip, not a checkpoint");
  EXPECT_FALSE(is_checkpoint_file(path));
  EXPECT_NE(load_checkpoint(path).status().message().find("magic"), std::string::npos);

  EXPECT_NE(load_checkpoint(temp_path("missing.ckpt")).status().message().find("cannot open"),
            std::string::npos);
}

// Found by tests/fuzz/checkpoint_fuzzer: a header whose step was negative loaded as if sound.
TEST(CheckpointTest, NegativeCountsAreRefusedAndNamed) {
  const std::string path = temp_path("negative.ckpt");
  for (const auto& [field, damage] : std::vector<std::pair<std::string, void (*)(Checkpoint&)>>{
           {"step is -3", [](Checkpoint& c) { c.step = -3; }},
           {"steps_taken is -1", [](Checkpoint& c) { c.optimizer.steps_taken = -1; }},
           {"input_resolution is -32", [](Checkpoint& c) { c.input_resolution = -32; }}}) {
    Checkpoint checkpoint = sample_checkpoint();
    damage(checkpoint);
    ASSERT_TRUE(save_checkpoint(path, checkpoint).ok());
    absl::StatusOr<Checkpoint> loaded = load_checkpoint(path);
    ASSERT_FALSE(loaded.ok()) << field;
    EXPECT_NE(loaded.status().message().find(field), std::string::npos) << loaded.status();
    EXPECT_NE(loaded.status().message().find(path), std::string::npos) << loaded.status();
  }
}

TEST(CheckpointTest, AFailedSaveKeepsThePreviousCheckpoint) {
  std::string path = temp_path("keep.ckpt");
  ASSERT_TRUE(save_checkpoint(path, sample_checkpoint()).ok());
  std::string before = read_bytes(path);
  Checkpoint unsavable = sample_checkpoint();
  EXPECT_FALSE(save_checkpoint("/nonexistent_dir/keep.ckpt", unsavable).ok());
  EXPECT_EQ(read_bytes(path), before);
}

// Protobuf writes a string field that is not UTF-8 and then refuses to read it: such a class
// name must stop the save, not make a checkpoint that can never be read back.
TEST(CheckpointTest, AClassNameThatIsNotUtf8IsRefusedNotWritten) {
  std::string path = temp_path("latin1.ckpt");
  ASSERT_TRUE(save_checkpoint(path, sample_checkpoint()).ok());
  std::string before = read_bytes(path);
  Checkpoint latin1 = sample_checkpoint();
  latin1.class_names = {"cat", "caf\xE9"};
  const absl::Status status = save_checkpoint(path, latin1);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("'caf\\xe9' is not UTF-8 text"), std::string::npos) << status;
  EXPECT_EQ(read_bytes(path), before);
}

// Many tensors shrink the header by far more than one alignment unit once their real offsets
// replace the maximal ones it was sized with; the gap before the data must be plain zeros
// (an out-of-bounds read of the zero buffer once filled it with whatever followed).
TEST(CheckpointTest, ManyTensorsLeaveAZeroFilledGapAfterTheHeader) {
  Checkpoint c;
  for (int i = 0; i < 300; ++i) c.parameters.emplace_back("p" + std::to_string(i), ones({3}));
  std::string path = temp_path("many.ckpt");
  ASSERT_TRUE(save_checkpoint(path, c).ok());
  const std::string bytes = read_bytes(path);
  uint64_t header_length = 0;
  std::memcpy(&header_length, bytes.data() + 8, sizeof header_length);
  proto::Checkpoint header;
  ASSERT_TRUE(header.ParseFromString(bytes.substr(kHeaderStart, header_length)));
  const uint64_t data_start = header.parameters(0).offset();
  ASSERT_GT(data_start, kHeaderStart + header_length + 64)
      << "the case must need more than one pad write";
  for (uint64_t i = kHeaderStart + header_length; i < data_start; ++i) {
    ASSERT_EQ(bytes[i], '\0') << "byte " << i << " of the gap";
  }
  for (const proto::TensorRecord& record : header.parameters()) {
    EXPECT_EQ(record.offset() % 64, 0u) << record.name() << "'s data is not 64-byte aligned";
  }
  auto loaded = load_checkpoint(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->parameters.size(), 300u);
  EXPECT_EQ(loaded->parameters[299].second.to_vector<float>(), std::vector<float>(3, 1.0f));
}

// Each dtype keeps its own tag in the file: bfloat16 and float16 are both 2 bytes, so a mixed-up
// tag would load the other's bits under the wrong type.
TEST(CheckpointTest, EveryDtypeRoundTrips) {
  Checkpoint saved;
  const Tensor values = from_vector<float>({0.5f, -2.0f, 3.0f}, {3});
  for (DType dtype : {DType::kFloat32, DType::kFloat64, DType::kInt64, DType::kUInt8,
                      DType::kBFloat16, DType::kFloat16}) {
    saved.parameters.emplace_back(dtype_name(dtype), values.to(dtype));
  }
  const std::string path = temp_path("dtypes.ckpt");
  ASSERT_TRUE(save_checkpoint(path, saved).ok());
  absl::StatusOr<Checkpoint> loaded = load_checkpoint(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ASSERT_EQ(loaded->parameters.size(), saved.parameters.size());
  for (size_t i = 0; i < saved.parameters.size(); ++i) {
    const Tensor& tensor = loaded->parameters[i].second;
    EXPECT_EQ(tensor.dtype(), saved.parameters[i].second.dtype()) << saved.parameters[i].first;
    EXPECT_TRUE(testing::same_bits(tensor, saved.parameters[i].second))
        << saved.parameters[i].first;
  }
}

// `path` with `change` made to its header, which it then holds without a checksum (as
// BGCKPT01), the tensor data left in place: damage that no checksum catches.
using HeaderChange = void (*)(proto::Checkpoint&);
void change_header(const std::string& path, HeaderChange change) {
  const std::string bytes = read_bytes(path);
  uint64_t length = 0;
  std::memcpy(&length, bytes.data() + 8, sizeof length);
  proto::Checkpoint header;
  ASSERT_TRUE(header.ParseFromString(bytes.substr(kHeaderStart, length)));
  change(header);
  const std::string changed = header.SerializeAsString();
  const uint64_t changed_length = changed.size();
  std::string out = "BGCKPT01";
  out.append(reinterpret_cast<const char*>(&changed_length), sizeof changed_length);
  out += changed;
  ASSERT_LE(out.size(), kHeaderStart + length) << "the changed header overlaps the data";
  out.resize(kHeaderStart + length, '\0');
  write_bytes(path, out + bytes.substr(kHeaderStart + length));
}

// A header that disagrees with itself or the file (a writer's bug, a fuzzer's input) is named,
// never read as if sound.
TEST(CheckpointTest, HeaderRecordsThatDoNotFitTheirTensorAreNamed) {
  const std::string path = temp_path("bad_record.ckpt");
  ASSERT_TRUE(save_checkpoint(path, sample_checkpoint()).ok());
  const std::string good = read_bytes(path);
  change_header(path, [](proto::Checkpoint&) {});
  ASSERT_TRUE(load_checkpoint(path).ok()) << "rewriting the header alone broke the file";

  for (const auto& [why, change] : std::vector<std::pair<std::string, HeaderChange>>{
           {"tensor 'head.conv.bias' of shape (10) records 36 bytes",
            [](proto::Checkpoint& h) { h.mutable_parameters(1)->set_nbytes(36); }},
           {"tensor 'head.conv.bias' has an unknown dtype",
            [](proto::Checkpoint& h) {
              h.mutable_parameters(1)->set_dtype(static_cast<proto::DType>(99));
            }},
           {"tensor 'head.conv.bias' lies past the end of the file",
            [](proto::Checkpoint& h) {
              h.mutable_parameters(1)->set_offset(uint64_t{1} << 40);
            }}}) {
    write_bytes(path, good);
    change_header(path, change);
    EXPECT_TRUE(fails_naming(load_checkpoint(path).status(), {path, why}));
  }
}

// A format 1 header (bitgrad before typed settings), written as that version wrote it: the
// BitConfig in "bit.<field>" metadata strings, the SGD settings in a name -> value map.
proto::Checkpoint format_1_header() {
  proto::Checkpoint header;
  header.set_format_version(1);
  header.set_model_name("R101x1");
  const std::map<std::string, std::string> metadata = {
      {"bit.depth", "101"}, {"bit.width_factor", "1"}, {"bit.head_size", "10"},
      {"bit.zero_head", "true"}, {"bit.seed", "7"}, {"bit.base_width", "16"},
      {"bit.num_groups", "8"}, {"created_by", "v1"}};
  header.mutable_metadata()->insert(metadata.begin(), metadata.end());
  proto::OptimizerState* optimizer = header.mutable_optimizer();
  optimizer->set_kind("sgd");
  const std::map<std::string, double> hyperparameters = {
      {"lr", 0.01},           {"momentum", 0.9}, {"dampening", 0.25},
      {"weight_decay", 1e-4}, {"nesterov", 1}};
  optimizer->mutable_legacy_hyperparameters()->insert(hyperparameters.begin(),
                                                      hyperparameters.end());
  return header;
}

std::string write_header_only(const std::string& name, const proto::Checkpoint& header) {
  const std::string bytes = header.SerializeAsString();
  const uint64_t length = bytes.size();
  const std::string path = temp_path(name);
  std::ofstream out(path, std::ios::binary);
  out.write("BGCKPT01", 8);
  out.write(reinterpret_cast<const char*>(&length), sizeof length);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return path;
}

TEST(CheckpointTest, Format1SettingsLoadAsTypedMessages) {
  const std::string path = write_header_only("v1.ckpt", format_1_header());
  absl::StatusOr<Checkpoint> loaded = load_checkpoint(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ASSERT_TRUE(loaded->bit_config.has_value());
  EXPECT_EQ(loaded->bit_config->depth(), 101);
  EXPECT_EQ(loaded->bit_config->width_factor(), 1);
  EXPECT_EQ(loaded->bit_config->head_size(), 10);
  EXPECT_TRUE(loaded->bit_config->zero_head());
  EXPECT_EQ(loaded->bit_config->seed(), 7u);
  EXPECT_EQ(loaded->bit_config->base_width(), 16);
  EXPECT_EQ(loaded->bit_config->num_groups(), 8);
  EXPECT_EQ(loaded->metadata, (std::map<std::string, std::string>{{"created_by", "v1"}}));
  ASSERT_TRUE(loaded->optimizer.sgd.has_value());
  EXPECT_EQ(loaded->optimizer.sgd->lr(), 0.01);
  EXPECT_EQ(loaded->optimizer.sgd->momentum(), 0.9);
  EXPECT_EQ(loaded->optimizer.sgd->dampening(), 0.25);
  EXPECT_EQ(loaded->optimizer.sgd->weight_decay(), 1e-4);
  EXPECT_TRUE(loaded->optimizer.sgd->nesterov());

  proto::Checkpoint trained_head = format_1_header();
  (*trained_head.mutable_metadata())["bit.zero_head"] = "false";
  loaded = load_checkpoint(write_header_only("v1_trained_head.ckpt", trained_head));
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_FALSE(loaded->bit_config->zero_head());
}

TEST(CheckpointTest, BadFormat1SettingsNameTheField) {
  proto::Checkpoint no_depth = format_1_header();
  no_depth.mutable_metadata()->erase("bit.depth");
  std::string path = write_header_only("v1_no_depth.ckpt", no_depth);
  EXPECT_TRUE(fails_naming(load_checkpoint(path).status(), {path, "format 1", "'bit.depth'"}));

  proto::Checkpoint bad_width = format_1_header();
  (*bad_width.mutable_metadata())["bit.width_factor"] = "wide";
  path = write_header_only("v1_bad_width.ckpt", bad_width);
  EXPECT_TRUE(fails_naming(load_checkpoint(path).status(),
                           {path, "'bit.width_factor'", "'wide'", "not an integer"}));

  proto::Checkpoint no_lr = format_1_header();
  no_lr.mutable_optimizer()->mutable_legacy_hyperparameters()->erase("lr");
  path = write_header_only("v1_no_lr.ckpt", no_lr);
  EXPECT_TRUE(fails_naming(load_checkpoint(path).status(), {path, "hyperparameter 'lr'"}));

  proto::Checkpoint bad_zero_head = format_1_header();
  (*bad_zero_head.mutable_metadata())["bit.zero_head"] = "yes";
  path = write_header_only("v1_bad_zero_head.ckpt", bad_zero_head);
  EXPECT_TRUE(fails_naming(load_checkpoint(path).status(),
                           {path, "'bit.zero_head' is 'yes'", "not true or false"}));
}

TEST(CheckpointTest, UnknownFormatVersionIsRefused) {
  proto::Checkpoint future = format_1_header();
  future.set_format_version(3);
  const std::string path = write_header_only("v3.ckpt", future);
  EXPECT_TRUE(fails_naming(load_checkpoint(path).status(), {path, "format version 3"}));
}

}  // namespace
}  // namespace bitgrad
