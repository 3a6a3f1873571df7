#include "io/npz.h"

#include <unistd.h>
#include <zip.h>

#include <cstring>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "io/atomic_file.h"

namespace bitgrad {
namespace {

// 1980-01-01 12:00 UTC, the earliest time a zip entry can record: written entries get a fixed
// timestamp so that saving the same arrays twice gives the same bytes.
constexpr time_t kFixedEntryTime = 315576000;

std::string zip_error_message(int code) {
  zip_error_t error;
  zip_error_init_with_code(&error, code);
  std::string message = zip_error_strerror(&error);
  zip_error_fini(&error);
  return message;
}

std::string array_where(const std::string& path, const std::string& key) {
  return absl::StrCat(path, ": array '", key, "'");
}

// Reads exactly `count` bytes; a short read is a truncated entry.
absl::Status read_exact(zip_file_t* file, void* out, uint64_t count, const std::string& where) {
  uint64_t done = 0;
  while (done < count) {
    zip_int64_t got = zip_fread(file, static_cast<char*>(out) + done, count - done);
    if (got < 0) {
      return absl::DataLossError(absl::StrCat(where, ": cannot read the data (",
                                              zip_file_strerror(file), ")"));
    }
    if (got == 0) {
      return absl::DataLossError(absl::StrCat(where, ": truncated: expected ", count,
                                              " bytes, the entry ends after ", done));
    }
    done += static_cast<uint64_t>(got);
  }
  return absl::OkStatus();
}

// What the first bytes of a file that libzip refused say about it.
std::string describe_non_zip(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char head[8] = {};
  in.read(head, sizeof(head));
  const std::streamsize got = in.gcount();
  if (got == 0) return "the file is empty";
  if (got >= 6 && std::memcmp(head, "\x93NUMPY", 6) == 0) {
    return "this is a single .npy array, not an .npz archive (load it with an .npy reader)";
  }
  if (got >= 2 && head[0] == 'P' && head[1] == 'K') {
    return "the zip archive is truncated or corrupt (its central directory is missing or "
           "damaged; was the download cut short?)";
  }
  return "not a zip archive (an .npz is a zip of .npy files)";
}

// The most a deflate stream can expand: 1032:1 (each 258-byte match costs at least 2 bits).
constexpr uint64_t kMaxDeflateRatio = 1032;

// The zip's directory declares each entry's uncompressed size, and readers size their buffers by
// it: refuse sizes that the entry's compressed bytes cannot produce, before reading anything.
absl::Status check_declared_size(const zip_stat_t& stat, const std::string& where) {
  if ((stat.valid & ZIP_STAT_SIZE) == 0 || (stat.valid & ZIP_STAT_COMP_SIZE) == 0 ||
      (stat.valid & ZIP_STAT_COMP_METHOD) == 0) {
    return absl::DataLossError(absl::StrCat(where, ": the zip directory lacks the entry's sizes"));
  }
  const bool stored = stat.comp_method == ZIP_CM_STORE;
  if (!stored && stat.comp_method != ZIP_CM_DEFLATE) return absl::OkStatus();  // the limit only
  const uint64_t most = stored ? stat.comp_size
                               : (stat.comp_size > UINT64_MAX / kMaxDeflateRatio
                                      ? UINT64_MAX
                                      : stat.comp_size * kMaxDeflateRatio + 64);
  if (stat.size > most) {
    return absl::DataLossError(absl::StrCat(
        where, ": the zip entry claims ", stat.size, " bytes from ", stat.comp_size,
        stored ? " stored bytes" : " compressed bytes (deflate expands at most 1032 times)",
        "; the archive is corrupt"));
  }
  return absl::OkStatus();
}

}  // namespace

// ------------------------------------------------------------------------------------------------
// Reading

struct NpzReader::ZipHandle {
  zip_t* zip = nullptr;
  ~ZipHandle() {
    if (zip != nullptr) zip_discard(zip);  // read-only: nothing to write back
  }
};

struct NpzReader::Entry {
  zip_uint64_t index = 0;
  NpyHeader header;
};

NpzReader::~NpzReader() = default;

absl::StatusOr<std::unique_ptr<NpzReader>> NpzReader::open(const std::string& path) {
  if (access(path.c_str(), F_OK) != 0) {
    return absl::NotFoundError(absl::StrCat(path, ": no such file"));
  }
  int code = 0;
  zip_t* zip = zip_open(path.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &code);
  if (zip == nullptr) {
    const std::string why = code == ZIP_ER_NOZIP || code == ZIP_ER_INCONS
                                ? describe_non_zip(path)
                                : zip_error_message(code);
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": cannot open as .npz: ", why, " (libzip: ", zip_error_message(code),
                     ")"));
  }
  std::unique_ptr<NpzReader> reader(new NpzReader());
  reader->path_ = path;
  reader->zip_ = std::make_unique<ZipHandle>();
  reader->zip_->zip = zip;

  const zip_int64_t count = zip_get_num_entries(zip, 0);
  for (zip_int64_t i = 0; i < count; ++i) {
    const auto index = static_cast<zip_uint64_t>(i);
    zip_stat_t stat;
    if (zip_stat_index(zip, index, 0, &stat) != 0) {
      return absl::DataLossError(absl::StrCat(path, ": cannot read entry ", i, " (",
                                              zip_strerror(zip), ")"));
    }
    const std::string name = stat.name;
    if (!absl::EndsWith(name, ".npy")) continue;  // directories and non-array files
    const std::string key = name.substr(0, name.size() - 4);
    const std::string where = array_where(path, key);
    if (reader->find(key) != nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": the archive holds it twice"));
    }

    if (absl::Status status = check_declared_size(stat, where); !status.ok()) return status;
    zip_file_t* file = zip_fopen_index(zip, index, 0);
    if (file == nullptr) {
      return absl::DataLossError(absl::StrCat(where, ": cannot open the entry (",
                                              zip_strerror(zip), ")"));
    }
    const uint64_t size = stat.size;
    absl::StatusOr<NpyHeader> header = read_npy_header(
        [&](char* out, size_t count) { return read_exact(file, out, count, where); }, size, where);
    zip_fclose(file);
    if (!header.ok()) return header.status();
    absl::Status size_ok = check_npy_data_size(*header, size - header->data_offset, where);
    if (!size_ok.ok()) return size_ok;
    reader->arrays_.push_back({key, header->dtype, header->shape, header->element});
    reader->entries_.push_back({index, *header});
  }
  return reader;
}

const NpzArrayInfo* NpzReader::find(const std::string& key) const {
  for (const NpzArrayInfo& info : arrays_) {
    if (info.key == key) return &info;
  }
  return nullptr;
}

absl::StatusOr<Tensor> NpzReader::read(const std::string& key) const {
  const NpzArrayInfo* info = find(key);
  if (info == nullptr) {
    return absl::NotFoundError(absl::StrCat(array_where(path_, key), ": not in the archive (no '",
                                            key, ".npy' entry)"));
  }
  const Entry& entry = entries_[info - arrays_.data()];
  const std::string where = array_where(path_, key);
  zip_file_t* file = zip_fopen_index(zip_->zip, entry.index, 0);
  if (file == nullptr) {
    return absl::DataLossError(absl::StrCat(where, ": cannot open the entry (",
                                            zip_strerror(zip_->zip), ")"));
  }
  auto read = [&](char* out, size_t count) { return read_exact(file, out, count, where); };
  std::string skipped(entry.header.data_offset, '\0');
  absl::StatusOr<Tensor> tensor = absl::UnknownError("unread");
  absl::Status status = read(skipped.data(), skipped.size());
  if (status.ok()) {
    tensor = read_npy_data(entry.header, read, where);
    status = tensor.status();
  }
  if (status.ok()) {
    // Reading to the end makes libzip verify the CRC of the whole entry.
    char extra;
    const zip_int64_t got = zip_fread(file, &extra, 1);
    if (got < 0) {
      status = absl::DataLossError(absl::StrCat(where, ": the data is corrupt (",
                                                zip_file_strerror(file), ")"));
    }
  }
  zip_fclose(file);
  if (!status.ok()) return status;
  return tensor;
}

absl::StatusOr<Tensor> NpzReader::read(const std::string& key, DType dtype) const {
  absl::StatusOr<Tensor> array = read(key);
  if (!array.ok()) return array.status();
  return npy_array_as(*array, find(key)->stored, dtype, array_where(path_, key));
}

absl::StatusOr<NamedArrays> read_npz(const std::string& path) {
  auto reader = NpzReader::open(path);
  if (!reader.ok()) return reader.status();
  NamedArrays arrays;
  for (const NpzArrayInfo& info : (*reader)->arrays()) {
    auto tensor = (*reader)->read(info.key);
    if (!tensor.ok()) return tensor.status();
    arrays.emplace_back(info.key, *std::move(tensor));
  }
  return arrays;
}

// ------------------------------------------------------------------------------------------------
// Writing

namespace {

// An empty archive is just the end-of-central-directory record; libzip deletes the file instead
// of writing one.
absl::Status write_empty_zip(const std::string& path) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  const char record[22] = {'P', 'K', 5, 6};
  out.write(record, sizeof(record));
  out.close();
  if (!out) return absl::InternalError(absl::StrCat(path, ": cannot write"));
  return absl::OkStatus();
}

// Writes the archive to `temporary`: one key.npy entry per array, from its encoded header and
// its plain host data.
absl::Status write_zip(const std::string& temporary, const NamedArrays& arrays,
                       std::vector<std::string>& headers, std::vector<Tensor>& host_arrays,
                       NpzCompression compression) {
  if (arrays.empty()) return write_empty_zip(temporary);
  int code = 0;
  zip_t* zip = zip_open(temporary.c_str(), ZIP_CREATE | ZIP_EXCL, &code);
  if (zip == nullptr) {
    return absl::InternalError(absl::StrCat(temporary, ": ", zip_error_message(code)));
  }
  auto fail = [&](const std::string& entry) {
    std::string why = absl::StrCat(entry.empty() ? "" : "entry '" + entry + "': ",
                                   zip_strerror(zip));
    zip_discard(zip);
    return absl::InternalError(why);
  };
  const auto method = compression == NpzCompression::kDeflated ? ZIP_CM_DEFLATE : ZIP_CM_STORE;
  for (size_t i = 0; i < arrays.size(); ++i) {
    zip_buffer_fragment_t fragments[2] = {
        {reinterpret_cast<zip_uint8_t*>(headers[i].data()), headers[i].size()},
        {static_cast<zip_uint8_t*>(host_arrays[i].mutable_raw_data()), host_arrays[i].nbytes()},
    };
    zip_source_t* source = zip_source_buffer_fragment(zip, fragments, 2, 0);
    const std::string name = arrays[i].first + ".npy";
    const zip_int64_t index =
        source == nullptr ? -1 : zip_file_add(zip, name.c_str(), source, ZIP_FL_ENC_UTF_8);
    if (index < 0) {
      if (source != nullptr) zip_source_free(source);
      return fail(name);
    }
    const auto entry = static_cast<zip_uint64_t>(index);
    if (zip_set_file_compression(zip, entry, method, 0) != 0 ||
        zip_file_set_mtime(zip, entry, kFixedEntryTime, 0) != 0) {
      return fail(name);
    }
  }
  if (zip_close(zip) != 0) return fail("");
  return absl::OkStatus();
}

}  // namespace

absl::Status write_npz(const std::string& path, const NamedArrays& arrays,
                       NpzCompression compression) {
  // Everything libzip reads from must stay alive until zip_close.
  std::vector<Tensor> host_arrays;
  std::vector<std::string> headers;
  host_arrays.reserve(arrays.size());
  headers.reserve(arrays.size());
  for (const auto& [key, tensor] : arrays) {
    if (key.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": an array key is empty"));
    }
    for (const auto& [other, unused] : arrays) {
      if (&other != &key && other == key) {
        return absl::InvalidArgumentError(absl::StrCat(array_where(path, key), ": given twice"));
      }
    }
    if (!tensor.defined()) {
      return absl::InvalidArgumentError(absl::StrCat(array_where(path, key), ": undefined tensor"));
    }
    auto header = encode_npy_header(tensor.dtype(), tensor.shape());
    if (!header.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(array_where(path, key), ": ", header.status().message()));
    }
    headers.push_back(*std::move(header));
    host_arrays.push_back(tensor.to(Device::cpu()).to_plain());
  }

  absl::Status status = write_file_atomically_via(path, [&](const std::string& temporary) {
    return write_zip(temporary, arrays, headers, host_arrays, compression);
  });
  if (status.ok()) return status;
  return absl::InternalError(absl::StrCat(path, ": cannot write the .npz: ", status.message()));
}

}  // namespace bitgrad
