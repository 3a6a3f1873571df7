// Single .npy files: the npz.h header codec plus plain file I/O.
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "core/atomic_file.h"
#include "models/npz.h"

namespace bitgrad {
namespace {

constexpr size_t kPrefixSize = 10;  // magic (6), version (2), a 1.0 header length (2)

absl::Status open_error(const std::string& path) {
  if (access(path.c_str(), F_OK) != 0) {
    return absl::NotFoundError(absl::StrCat(path, ": no such file"));
  }
  if (access(path.c_str(), R_OK) != 0) {
    return absl::PermissionDeniedError(absl::StrCat(path, ": cannot read it (permission denied)"));
  }
  return absl::UnavailableError(absl::StrCat(path, ": cannot open it: ", std::strerror(errno)));
}

}  // namespace

absl::Status write_npy(const std::string& path, const Tensor& array) {
  if (!array.defined()) return absl::InvalidArgumentError(absl::StrCat(path, ": undefined tensor"));
  absl::StatusOr<std::string> header = encode_npy_header(array.dtype(), array.shape());
  if (!header.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", header.status().message()));
  }
  const Tensor host = array.to(Device::cpu()).to_plain();
  return write_file_atomically(path, [&](FileSink& sink) -> absl::Status {
    if (auto s = sink.write(header->data(), header->size()); !s.ok()) return s;
    return sink.write(host.raw_data(), host.nbytes());
  });
}

absl::StatusOr<Tensor> read_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return open_error(path);
  in.seekg(0, std::ios::end);
  const uint64_t file_size = static_cast<uint64_t>(in.tellg());
  in.seekg(0);
  if (file_size == 0) return absl::InvalidArgumentError(absl::StrCat(path, ": the file is empty"));

  std::string head(std::min<uint64_t>(file_size, kPrefixSize), '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  if (head.size() >= 2 && head[0] == 'P' && head[1] == 'K') {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": this is an .npz archive (a zip), not a single .npy array"));
  }
  absl::StatusOr<NpyHeader> header = parse_npy_header(head, path);
  if (!header.ok() && absl::IsDataLoss(header.status()) && head.size() == kPrefixSize) {
    // The prefix is fine; read the header length and then the whole header.
    const auto* raw = reinterpret_cast<const unsigned char*>(head.data());
    const size_t length_size = raw[6] == 1 ? 2 : 4;
    if (length_size == 4 && file_size >= kPrefixSize + 2) {
      head.resize(kPrefixSize + 2);
      in.read(head.data() + kPrefixSize, 2);
      raw = reinterpret_cast<const unsigned char*>(head.data());
    }
    uint64_t dict_size = 0;
    for (size_t i = 0; i < length_size && 8 + i < head.size(); ++i) {
      dict_size |= static_cast<uint64_t>(raw[8 + i]) << (8 * i);
    }
    const uint64_t full = std::min<uint64_t>(8 + length_size + dict_size, file_size);
    const size_t have = head.size();
    head.resize(full);
    in.read(head.data() + have, static_cast<std::streamsize>(full - have));
    header = parse_npy_header(head, path);
  }
  if (!header.ok()) return header.status();

  Tensor tensor = empty(header->shape, header->dtype);
  const uint64_t available = file_size - header->data_offset;
  if (available < tensor.nbytes()) {
    return absl::DataLossError(absl::StrCat(path, ": truncated: shape ", header->shape.str(), " ",
                                            dtype_name(header->dtype), " needs ", tensor.nbytes(),
                                            " bytes of data, the file holds ", available));
  }
  if (available > tensor.nbytes()) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": ", available - tensor.nbytes(), " unexpected bytes after the data of shape ",
        header->shape.str(), " ", dtype_name(header->dtype)));
  }
  in.seekg(static_cast<std::streamoff>(header->data_offset));
  if (!in.read(static_cast<char*>(tensor.mutable_raw_data()),
               static_cast<std::streamsize>(tensor.nbytes()))) {
    return absl::DataLossError(absl::StrCat(path, ": reading the data failed"));
  }
  return tensor;
}

}  // namespace bitgrad
