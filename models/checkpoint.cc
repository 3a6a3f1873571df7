#include "models/checkpoint.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <system_error>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/stubs/logging.h"
#include "io/atomic_file.h"
#include "io/file_limits.h"
#include "io/utf8.h"

namespace bitgrad {
namespace {

// BGCKPT02: the header's CRC-32 follows its length. BGCKPT01 (still read): no header CRC, so a
// flipped bit in the step or the RNG state loaded as if sound.
constexpr char kMagic[8] = {'B', 'G', 'C', 'K', 'P', 'T', '0', '2'};
constexpr char kMagicWithoutHeaderCrc[8] = {'B', 'G', 'C', 'K', 'P', 'T', '0', '1'};

// Whether the 8 bytes at `magic` are either format's magic.
bool is_checkpoint_magic(const char* magic) {
  return std::memcmp(magic, kMagic, sizeof kMagic) == 0 ||
         std::memcmp(magic, kMagicWithoutHeaderCrc, sizeof kMagicWithoutHeaderCrc) == 0;
}
// 2: BitConfig and SgdOptions as messages. 1: as string and double maps (still read).
constexpr uint32_t kFormatVersion = 2;
constexpr uint64_t kDataAlignment = 64;

proto::DType to_proto(DType dtype) {
  switch (dtype) {
    case DType::kFloat32: return proto::FLOAT32;
    case DType::kFloat64: return proto::FLOAT64;
    case DType::kInt64: return proto::INT64;
    case DType::kUInt8: return proto::UINT8;
    case DType::kBFloat16: return proto::BFLOAT16;
    case DType::kFloat16: return proto::FLOAT16;
  }
  return proto::DTYPE_UNSPECIFIED;
}

bool from_proto(proto::DType dtype, DType* out) {
  switch (dtype) {
    case proto::FLOAT32: *out = DType::kFloat32; return true;
    case proto::FLOAT64: *out = DType::kFloat64; return true;
    case proto::INT64: *out = DType::kInt64; return true;
    case proto::UINT8: *out = DType::kUInt8; return true;
    case proto::BFLOAT16: *out = DType::kBFloat16; return true;
    case proto::FLOAT16: *out = DType::kFloat16; return true;
    default: return false;
  }
}

uint32_t crc32_of(const void* data, uint64_t nbytes) {
  uLong crc = crc32(0L, Z_NULL, 0);
  const Bytef* bytes = static_cast<const Bytef*>(data);
  while (nbytes > 0) {  // zlib takes 32-bit lengths
    uInt chunk = static_cast<uInt>(std::min<uint64_t>(nbytes, 1u << 30));
    crc = crc32(crc, bytes, chunk);
    bytes += chunk;
    nbytes -= chunk;
  }
  return static_cast<uint32_t>(crc);
}

uint64_t align_up(uint64_t offset) {
  return (offset + kDataAlignment - 1) / kDataAlignment * kDataAlignment;
}

// A tensor to be written: its record in the header and its host bytes.
struct PendingTensor {
  proto::TensorRecord* record;
  Tensor host;
};

void add_records(const NamedTensors& tensors,
                 google::protobuf::RepeatedPtrField<proto::TensorRecord>* records,
                 std::vector<PendingTensor>* pending) {
  for (const auto& [name, tensor] : tensors) {
    proto::TensorRecord* record = records->Add();
    Tensor host = tensor.to(Device::cpu()).to_plain();
    record->set_name(name);
    for (int64_t d : host.shape()) record->add_shape(d);
    record->set_dtype(to_proto(host.dtype()));
    record->set_nbytes(host.nbytes());
    record->set_crc32(crc32_of(host.raw_data(), host.nbytes()));
    pending->push_back({record, host});
  }
}

}  // namespace

absl::Status save_checkpoint(const std::string& path, const Checkpoint& checkpoint) {
  proto::Checkpoint header;
  header.set_format_version(kFormatVersion);
  header.set_model_name(checkpoint.model_name);
  header.set_step(checkpoint.step);
  header.set_rng_state(checkpoint.rng_state);
  header.set_config(checkpoint.config);
  for (const auto& [key, value] : checkpoint.metadata) (*header.mutable_metadata())[key] = value;
  if (checkpoint.bit_config) *header.mutable_bit_config() = *checkpoint.bit_config;
  for (const std::string& name : checkpoint.class_names) {
    if (!is_utf8(name)) {  // protobuf would write it, and then not read the checkpoint back
      return absl::InvalidArgumentError(absl::StrCat(
          "writing ", path, ": class name '", absl::CHexEscape(name),
          "' is not UTF-8 text, which a checkpoint holds"));
    }
    header.add_class_names(name);
  }
  header.set_input_resolution(checkpoint.input_resolution);
  std::vector<PendingTensor> pending;
  add_records(checkpoint.parameters, header.mutable_parameters(), &pending);
  add_records(checkpoint.buffers, header.mutable_buffers(), &pending);
  if (!checkpoint.optimizer.kind.empty()) {
    proto::OptimizerState* optimizer = header.mutable_optimizer();
    optimizer->set_kind(checkpoint.optimizer.kind);
    optimizer->set_steps_taken(checkpoint.optimizer.steps_taken);
    if (checkpoint.optimizer.sgd) *optimizer->mutable_sgd() = *checkpoint.optimizer.sgd;
    add_records(checkpoint.optimizer.tensors, optimizer->mutable_tensors(), &pending);
  }

  // Offsets depend on the header's size, which depends on the offsets' varint lengths: fix the
  // header size first with maximal offsets, then lay the data out after it.
  for (PendingTensor& p : pending) p.record->set_offset(UINT64_MAX);
  uint64_t data_start =
      align_up(sizeof kMagic + sizeof(uint64_t) + sizeof(uint32_t) + header.ByteSizeLong());
  uint64_t offset = data_start;
  for (PendingTensor& p : pending) {
    p.record->set_offset(offset);
    offset = align_up(offset + p.record->nbytes());
  }
  std::string header_bytes = header.SerializeAsString();
  const uint32_t header_crc = crc32_of(header_bytes.data(), header_bytes.size());

  return write_file_atomically(path, [&](FileSink& sink) -> absl::Status {
    uint64_t header_length = header_bytes.size();
    uint64_t position = 0;
    auto write = [&](const void* data, uint64_t n) {
      position += n;
      return sink.write(data, n);
    };
    // The gap after the header can exceed kDataAlignment: the header was sized with maximal
    // offsets and shrank when the real ones replaced them.
    auto pad_to = [&](uint64_t target) {
      static const char zeros[kDataAlignment] = {};
      while (position < target) {
        if (auto s = write(zeros, std::min<uint64_t>(target - position, sizeof zeros)); !s.ok()) {
          return s;
        }
      }
      return absl::OkStatus();
    };
    if (auto s = write(kMagic, sizeof kMagic); !s.ok()) return s;
    if (auto s = write(&header_length, sizeof header_length); !s.ok()) return s;
    if (auto s = write(&header_crc, sizeof header_crc); !s.ok()) return s;
    if (auto s = write(header_bytes.data(), header_bytes.size()); !s.ok()) return s;
    for (const PendingTensor& p : pending) {
      if (auto s = pad_to(p.record->offset()); !s.ok()) return s;
      if (auto s = write(p.host.raw_data(), p.host.nbytes()); !s.ok()) return s;
    }
    return absl::OkStatus();
  });
}

namespace {

// Format 1 kept the BitConfig as "bit.<field>" metadata strings and the SGD settings as a
// name -> value map; moves them into format 2's messages, or names the field that is bad.
absl::Status upgrade_from_format_1(proto::Checkpoint& header, const std::string& path) {
  auto bad = [&](const std::string& why) {
    return absl::InvalidArgumentError(absl::StrCat("checkpoint ", path, " (format 1): ", why));
  };
  auto& metadata = *header.mutable_metadata();
  const bool has_bit_config = std::any_of(metadata.begin(), metadata.end(), [](const auto& entry) {
    return absl::StartsWith(entry.first, "bit.");
  });
  if (has_bit_config) {
    absl::Status status;
    auto integer = [&](const char* field, auto set) {
      if (!status.ok()) return;
      const std::string key = absl::StrCat("bit.", field);
      auto entry = metadata.find(key);
      int64_t value = 0;
      if (entry == metadata.end()) {
        status = bad(absl::StrCat("it has no '", key, "' metadata"));
      } else if (!absl::SimpleAtoi(entry->second, &value)) {
        status = bad(absl::StrCat("metadata '", key, "' is '", entry->second, "', not an integer"));
      } else {
        set(value);
      }
    };
    proto::BitConfig* config = header.mutable_bit_config();
    integer("depth", [&](int64_t v) { config->set_depth(static_cast<int32_t>(v)); });
    integer("width_factor", [&](int64_t v) { config->set_width_factor(v); });
    integer("head_size", [&](int64_t v) { config->set_head_size(v); });
    integer("seed", [&](int64_t v) { config->set_seed(static_cast<uint64_t>(v)); });
    integer("base_width", [&](int64_t v) { config->set_base_width(v); });
    integer("num_groups", [&](int64_t v) { config->set_num_groups(v); });
    if (!status.ok()) return status;
    auto zero_head = metadata.find("bit.zero_head");
    if (zero_head != metadata.end()) {
      if (zero_head->second != "true" && zero_head->second != "false") {
        return bad(absl::StrCat("metadata 'bit.zero_head' is '", zero_head->second,
                                "', not true or false"));
      }
      config->set_zero_head(zero_head->second == "true");
    }
    for (auto it = metadata.begin(); it != metadata.end();) {
      it = absl::StartsWith(it->first, "bit.") ? metadata.erase(it) : std::next(it);
    }
  }
  if (header.has_optimizer() && header.optimizer().kind() == "sgd") {
    proto::OptimizerState* optimizer = header.mutable_optimizer();
    const auto& old = optimizer->legacy_hyperparameters();
    for (const char* key : {"lr", "momentum", "dampening", "weight_decay", "nesterov"}) {
      if (!old.contains(key)) {
        return bad(absl::StrCat("the sgd state lacks the hyperparameter '", key, "'"));
      }
    }
    proto::SgdOptions* sgd = optimizer->mutable_sgd();
    sgd->set_lr(old.at("lr"));
    sgd->set_momentum(old.at("momentum"));
    sgd->set_dampening(old.at("dampening"));
    sgd->set_weight_decay(old.at("weight_decay"));
    sgd->set_nesterov(old.at("nesterov") != 0.0);
    optimizer->clear_legacy_hyperparameters();
  }
  header.set_format_version(kFormatVersion);
  return absl::OkStatus();
}

class CheckpointReader {
 public:
  // A corrupt header (invalid UTF-8 in a string, found by fuzzing) makes protobuf log an error line
  // of its own; ours is the one the user should see.
  static bool parse_quietly(const std::string& bytes, proto::Checkpoint* header) {
    google::protobuf::LogSilencer quiet;
    return header->ParseFromString(bytes);
  }

  explicit CheckpointReader(const std::string& path) : path_(path), in_(path, std::ios::binary) {}

  enum class Contents { kAll, kHeaderOnly };

  absl::StatusOr<Checkpoint> read(Contents contents) {
    std::error_code error;
    if (std::filesystem::is_directory(path_, error)) {
      return corrupt("it is a folder, not a checkpoint file");
    }
    if (!in_) return absl::NotFoundError(absl::StrCat("cannot open checkpoint ", path_));
    in_.seekg(0, std::ios::end);
    file_size_ = static_cast<uint64_t>(in_.tellg());
    in_.seekg(0);
    if (file_size_ == 0) return corrupt("it is empty (0 bytes)");
    char magic[sizeof kMagic];
    if (!in_.read(magic, sizeof magic) || !is_checkpoint_magic(magic)) {
      return corrupt("it does not start with the bitgrad checkpoint magic \"BGCKPT02\" (or 01)");
    }
    const bool has_header_crc = std::memcmp(magic, kMagic, sizeof kMagic) == 0;
    uint64_t header_length = 0;
    uint32_t header_crc = 0;
    const uint64_t header_start = sizeof magic + sizeof header_length +
                                  (has_header_crc ? sizeof header_crc : 0);
    if (!in_.read(reinterpret_cast<char*>(&header_length), sizeof header_length) ||
        (has_header_crc && !in_.read(reinterpret_cast<char*>(&header_crc), sizeof header_crc)) ||
        file_size_ < header_start || header_length > file_size_ - header_start) {
      return corrupt("the header length is past the end of the file (truncated?)");
    }
    std::string header_bytes(header_length, '\0');
    if (!in_.read(header_bytes.data(), header_length)) {
      return corrupt("the header length is past the end of the file (truncated?)");
    }
    if (has_header_crc && crc32_of(header_bytes.data(), header_length) != header_crc) {
      return corrupt("the header fails its checksum (the file was damaged after it was written)");
    }
    proto::Checkpoint header;
    if (!parse_quietly(header_bytes, &header)) return corrupt("the header does not parse");
    if (header.format_version() == 1) {
      if (auto s = upgrade_from_format_1(header, path_); !s.ok()) return s;
    } else if (header.format_version() != kFormatVersion) {
      return corrupt(absl::StrCat("format version ", header.format_version(),
                                  " is not supported (this build reads versions 1 to ",
                                  kFormatVersion, ")"));
    }
    if (auto s = check_counts(header); !s.ok()) return s;
    Checkpoint checkpoint;
    checkpoint.model_name = header.model_name();
    checkpoint.step = header.step();
    checkpoint.rng_state = header.rng_state();
    checkpoint.config = header.config();
    checkpoint.metadata.insert(header.metadata().begin(), header.metadata().end());
    if (header.has_bit_config()) checkpoint.bit_config = header.bit_config();
    checkpoint.class_names.assign(header.class_names().begin(), header.class_names().end());
    checkpoint.input_resolution = header.input_resolution();
    const proto::OptimizerState& optimizer = header.optimizer();
    if (header.has_optimizer()) {
      checkpoint.optimizer.kind = optimizer.kind();
      checkpoint.optimizer.steps_taken = optimizer.steps_taken();
      if (optimizer.has_sgd()) checkpoint.optimizer.sgd = optimizer.sgd();
    }
    if (contents == Contents::kHeaderOnly) return checkpoint;
    if (auto s = read_tensors(header.parameters(), &checkpoint.parameters); !s.ok()) return s;
    if (auto s = read_tensors(header.buffers(), &checkpoint.buffers); !s.ok()) return s;
    if (auto s = read_tensors(optimizer.tensors(), &checkpoint.optimizer.tensors); !s.ok()) {
      return s;
    }
    return checkpoint;
  }

 private:
  absl::Status corrupt(const std::string& why) {
    return absl::DataLossError(absl::StrCat("checkpoint ", path_, " is unreadable: ", why));
  }

  // A resumed run indexes its data order and schedules by these, and bit_predict resizes to the
  // resolution: a negative one is damage, not a value.
  absl::Status check_counts(const proto::Checkpoint& header) {
    const std::pair<const char*, int64_t> counts[] = {
        {"step", header.step()},
        {"the optimizer's steps_taken", header.optimizer().steps_taken()},
        {"input_resolution", header.input_resolution()}};
    for (const auto& [name, value] : counts) {
      if (value < 0) return corrupt(absl::StrCat(name, " is ", value, ", which is negative"));
    }
    return absl::OkStatus();
  }

  absl::Status read_tensors(const google::protobuf::RepeatedPtrField<proto::TensorRecord>& records,
                            NamedTensors* out) {
    for (const proto::TensorRecord& record : records) {
      DType dtype;
      if (!from_proto(record.dtype(), &dtype)) {
        return corrupt(absl::StrCat("tensor '", record.name(), "' has an unknown dtype"));
      }
      Shape shape(record.shape().begin(), record.shape().end());
      uint64_t nbytes = 0;
      if (!checked_array_bytes(shape.begin(), static_cast<int>(shape.rank()), dtype_size(dtype),
                               &nbytes)) {
        return corrupt(absl::StrCat("tensor '", record.name(), "' has shape ", shape.str()));
      }
      if (record.nbytes() != nbytes) {
        return corrupt(absl::StrCat("tensor '", record.name(), "' of shape ", shape.str(),
                                    " records ", record.nbytes(), " bytes"));
      }
      if (record.offset() > file_size_ || record.nbytes() > file_size_ - record.offset()) {
        return corrupt(absl::StrCat("tensor '", record.name(),
                                    "' lies past the end of the file (truncated?)"));
      }
      if (auto s = check_file_tensor_bytes(nbytes, absl::StrCat("checkpoint ", path_, ": tensor '",
                                                                record.name(), "'"));
          !s.ok()) {
        return s;
      }
      Tensor tensor = empty(shape, dtype);
      in_.seekg(static_cast<std::streamoff>(record.offset()));
      if (!in_.read(static_cast<char*>(tensor.mutable_raw_data()),
                    static_cast<std::streamsize>(record.nbytes()))) {
        return corrupt(absl::StrCat("reading tensor '", record.name(), "' failed"));
      }
      if (crc32_of(tensor.raw_data(), record.nbytes()) != record.crc32()) {
        return corrupt(absl::StrCat("tensor '", record.name(), "' fails its checksum"));
      }
      out->emplace_back(record.name(), tensor);
    }
    return absl::OkStatus();
  }

  std::string path_;
  std::ifstream in_;
  uint64_t file_size_ = 0;
};

}  // namespace

absl::StatusOr<Checkpoint> load_checkpoint(const std::string& path) {
  return CheckpointReader(path).read(CheckpointReader::Contents::kAll);
}

absl::StatusOr<Checkpoint> load_checkpoint_header(const std::string& path) {
  return CheckpointReader(path).read(CheckpointReader::Contents::kHeaderOnly);
}

bool is_checkpoint_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[sizeof kMagic];
  return in.read(magic, sizeof magic) && is_checkpoint_magic(magic);
}

}  // namespace bitgrad
