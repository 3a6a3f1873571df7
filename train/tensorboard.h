// TensorBoard event files written from C++: scalars (loss, learning rate, throughput, accuracy)
// by step, readable by `tensorboard --logdir=<log_dir>` with no TensorFlow in the build.
//
// An events file is a sequence of TFRecords, each holding one serialized Event
// (train/tensorboard_event.proto):
//
//   uint64 length              little endian
//   uint32 masked_crc32c(the 8 length bytes)
//   byte   data[length]        the serialized Event
//   uint32 masked_crc32c(data)
//
// The first record is an Event with file_version "brain.Event:2", the second may mark a
// (re)start (SessionLog START); every scalar after them is an Event with a Summary holding one
// tagged value.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace bitgrad {

// CRC-32C (Castagnoli polynomial, the checksum of TFRecords). crc32c("123456789") == 0xE3069283.
uint32_t crc32c(absl::string_view data);

// The masked form TFRecords store: ((crc >> 15) | (crc << 17)) + 0xa282ead8. Masking keeps a CRC
// computed over data that itself contains CRCs from being trivially related to them.
uint32_t mask_crc32c(uint32_t crc);

// Appends scalars to a new events file in a log directory. Each add_* call writes its records to
// the file straight away (no buffering inside the process), so a run that is killed keeps every
// scalar it logged. Not thread-safe: log from one thread.
class TensorBoardWriter {
 public:
  // Creates `log_dir` (and missing parents) if needed and a new file in it named
  // events.out.tfevents.<unix seconds>.<hostname> (".1", ".2", ... appended if another writer
  // made that name in the same second). Errors name the directory or file. With
  // `start_step` >= 0, the file's second record marks a start at that step (SessionLog START):
  // TensorBoard then drops what earlier files logged from that step on, as a resumed run (or a
  // new one in the same directory) logs those steps again.
  static absl::StatusOr<std::unique_ptr<TensorBoardWriter>> open(const std::string& log_dir,
                                                                 int64_t start_step = -1);

  ~TensorBoardWriter();
  TensorBoardWriter(const TensorBoardWriter&) = delete;
  TensorBoardWriter& operator=(const TensorBoardWriter&) = delete;

  // Logs `value` (stored as a 32-bit float, as TensorFlow does) under `tag` at `step`.
  absl::Status add_scalar(const std::string& tag, double value, int64_t step);

  // Logs several scalars at one step, one Event each with the same wall time, in one write.
  absl::Status add_scalars(const std::vector<std::pair<std::string, double>>& scalars,
                           int64_t step);

  // The events file being written.
  const std::string& path() const { return path_; }

  // Puts the records written on the disk (fdatasync).
  absl::Status sync();

 private:
  TensorBoardWriter(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  // Writes already-framed records; an error names the file.
  absl::Status write_records(const std::string& records);

  int fd_;
  std::string path_;
};

}  // namespace bitgrad
