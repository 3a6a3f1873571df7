#include "models/npz.h"

#include <zip.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

#include <fcntl.h>
#include <unistd.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace bitgrad {
namespace {

constexpr char kNpyMagic[] = "\x93NUMPY";
constexpr size_t kNpyMagicSize = 6;
constexpr size_t kNpyPrefixSize = 8;  // magic + major + minor
constexpr char kSupportedDescrs[] = "'<f4' float32, '<f8' float64, '<i8' int64, '|u1' uint8";
// 1980-01-01 12:00 UTC, the earliest time a zip entry can record: written entries get a fixed
// timestamp so that saving the same arrays twice gives the same bytes.
constexpr time_t kFixedEntryTime = 315576000;

struct DescrName {
  DType dtype;
  const char* descr;
};
constexpr DescrName kDescrs[] = {
    {DType::kFloat32, "<f4"},
    {DType::kFloat64, "<f8"},
    {DType::kInt64, "<i8"},
    {DType::kUInt8, "|u1"},
};

std::string zip_error_message(int code) {
  zip_error_t error;
  zip_error_init_with_code(&error, code);
  std::string message = zip_error_strerror(&error);
  zip_error_fini(&error);
  return message;
}

// A Python literal parser just big enough for the .npy header dict.
class HeaderDictParser {
 public:
  HeaderDictParser(std::string_view text, std::string where)
      : text_(text), where_(std::move(where)) {}

  absl::StatusOr<NpyHeader> parse() {
    NpyHeader header;
    bool has_descr = false, has_order = false, has_shape = false;
    skip_space();
    if (!consume('{')) return error("the header is not a dict: it does not start with '{'");
    while (true) {
      skip_space();
      if (consume('}')) break;
      auto key = parse_string();
      if (!key.ok()) return key.status();
      skip_space();
      if (!consume(':')) return error(absl::StrCat("expected ':' after '", *key, "'"));
      skip_space();
      if (*key == "descr") {
        if (peek() == '[') {
          return error("structured dtypes (a list descr) are not supported; supported: ",
                       kSupportedDescrs);
        }
        auto descr = parse_string();
        if (!descr.ok()) return descr.status();
        auto dtype = dtype_from_descr(*descr);
        if (!dtype.ok()) return dtype.status();
        header.dtype = *dtype;
        has_descr = true;
      } else if (*key == "fortran_order") {
        auto fortran = parse_bool();
        if (!fortran.ok()) return fortran.status();
        if (*fortran) {
          return absl::InvalidArgumentError(absl::StrCat(
              where_, ": fortran_order is True (a column-major array), which is not supported; "
              "save it with np.ascontiguousarray(...)"));
        }
        has_order = true;
      } else if (*key == "shape") {
        auto shape = parse_shape();
        if (!shape.ok()) return shape.status();
        header.shape = *shape;
        has_shape = true;
      } else {
        return error(absl::StrCat("unexpected key '", *key, "'"));
      }
      skip_space();
      if (consume(',')) continue;
      skip_space();
      if (consume('}')) break;
      return error("expected ',' or '}' in the dict");
    }
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\n')) ++pos_;
    if (pos_ != text_.size()) return error("unexpected text after the dict");
    if (!has_descr || !has_order || !has_shape) {
      return error("the dict must have 'descr', 'fortran_order' and 'shape'");
    }
    return header;
  }

 private:
  absl::Status error(const std::string& what, const std::string& more = "") const {
    std::string_view shown = text_.substr(0, 200);
    while (!shown.empty() && (shown.back() == ' ' || shown.back() == '\n')) shown.remove_suffix(1);
    return absl::InvalidArgumentError(absl::StrCat(where_, ": bad .npy header: ", what, more,
                                                   " (header: ", std::string(shown), ")"));
  }
  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  bool consume(char c) {
    if (peek() != c) return false;
    ++pos_;
    return true;
  }
  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' ||
                                   text_[pos_] == '\n' || text_[pos_] == '\r')) {
      ++pos_;
    }
  }

  absl::StatusOr<std::string> parse_string() {
    const char quote = peek();
    if (quote != '\'' && quote != '"') return error("expected a quoted string");
    const size_t end = text_.find(quote, pos_ + 1);
    if (end == std::string_view::npos) return error("unterminated string");
    std::string value(text_.substr(pos_ + 1, end - pos_ - 1));
    if (value.find('\\') != std::string::npos) return error("escapes in strings are not supported");
    pos_ = end + 1;
    return value;
  }

  absl::StatusOr<bool> parse_bool() {
    if (text_.substr(pos_, 4) == "True") return pos_ += 4, true;
    if (text_.substr(pos_, 5) == "False") return pos_ += 5, false;
    return error("fortran_order must be True or False");
  }

  absl::StatusOr<Shape> parse_shape() {
    if (!consume('(')) return error("shape must be a tuple");
    Shape shape;
    while (true) {
      skip_space();
      if (consume(')')) return shape;
      if (peek() < '0' || peek() > '9') return error("shape must hold non-negative integers");
      int64_t extent = 0;
      while (peek() >= '0' && peek() <= '9') {
        if (extent > (int64_t{1} << 50)) return error("a shape extent is too large");
        extent = extent * 10 + (text_[pos_++] - '0');
      }
      consume('L');  // Python 2 longs: (3L, 4L)
      shape.push_back(extent);
      skip_space();
      if (consume(',')) continue;
      skip_space();
      if (consume(')')) {
        if (shape.rank() == 1) return error("a 1-tuple needs a trailing comma: (n,)");
        return shape;
      }
      return error("expected ',' or ')' in the shape");
    }
  }

  absl::StatusOr<DType> dtype_from_descr(const std::string& descr) const {
    for (const DescrName& known : kDescrs) {
      if (descr == known.descr) return known.dtype;
    }
    // numpy writes '|u1' but '<u1' / '=u1' mean the same single byte.
    if (descr == "<u1" || descr == "=u1") return DType::kUInt8;
    return absl::InvalidArgumentError(absl::StrCat(where_, ": unsupported dtype '", descr,
                                                   "'; supported: ", kSupportedDescrs));
  }

  std::string_view text_;
  std::string where_;
  size_t pos_ = 0;
};

uint32_t read_le(const unsigned char* bytes, int count) {
  uint32_t value = 0;
  for (int i = count - 1; i >= 0; --i) value = (value << 8) | bytes[i];
  return value;
}

// Checked element count times element size.
bool data_bytes(const Shape& shape, DType dtype, uint64_t* nbytes) {
  uint64_t total = dtype_size(dtype);
  for (int64_t extent : shape) {
    if (extent != 0 && total > (uint64_t{1} << 62) / static_cast<uint64_t>(extent)) return false;
    total *= static_cast<uint64_t>(extent);
  }
  *nbytes = total;
  return true;
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

// Reads and parses the header at the start of an open entry of `size` bytes.
absl::StatusOr<NpyHeader> read_entry_header(zip_file_t* file, uint64_t size,
                                            const std::string& where) {
  // magic, version and the 2-byte length of version 1.0: enough to know the header's size.
  std::string head(std::min<uint64_t>(size, kNpyPrefixSize + 2), '\0');
  absl::Status status = read_exact(file, head.data(), head.size(), where);
  if (!status.ok()) return status;
  auto prefix = parse_npy_header(head, where);
  if (prefix.ok() || !absl::IsDataLoss(prefix.status())) return prefix;  // done, or bad magic
  // The prefix is fine but the dict is still to be read.
  const auto* raw = reinterpret_cast<const unsigned char*>(head.data());
  const size_t length_size = raw[6] == 1 ? 2 : 4;
  size_t full = kNpyPrefixSize + length_size;
  if (full > size) return prefix.status();
  if (length_size == 4) {
    head.resize(full);
    status = read_exact(file, head.data() + kNpyPrefixSize + 2, 2, where);
    if (!status.ok()) return status;
  }
  full += read_le(reinterpret_cast<const unsigned char*>(head.data()) + kNpyPrefixSize,
                  static_cast<int>(length_size));
  if (full > size) {
    return absl::DataLossError(absl::StrCat(where, ": truncated: the .npy header needs ", full,
                                            " bytes, the entry holds ", size));
  }
  const size_t have = head.size();
  head.resize(full);
  status = read_exact(file, head.data() + have, full - have, where);
  if (!status.ok()) return status;
  return parse_npy_header(head, where);
}

// What the first bytes of a file that libzip refused say about it.
std::string describe_non_zip(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char head[8] = {};
  in.read(head, sizeof(head));
  const std::streamsize got = in.gcount();
  if (got == 0) return "the file is empty";
  if (got >= 6 && std::memcmp(head, kNpyMagic, kNpyMagicSize) == 0) {
    return "this is a single .npy array, not an .npz archive (load it with an .npy reader)";
  }
  if (got >= 2 && head[0] == 'P' && head[1] == 'K') {
    return "the zip archive is truncated or corrupt (its central directory is missing or "
           "damaged; was the download cut short?)";
  }
  return "not a zip archive (an .npz is a zip of .npy files)";
}

}  // namespace

// ------------------------------------------------------------------------------------------------
// .npy headers

absl::StatusOr<NpyHeader> parse_npy_header(const std::string& bytes, const std::string& where) {
  const std::string& at = where;
  if (bytes.size() < kNpyPrefixSize || std::memcmp(bytes.data(), kNpyMagic, kNpyMagicSize) != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        at, ": bad .npy header: the entry does not start with the .npy magic \"\\x93NUMPY\""));
  }
  const auto* raw = reinterpret_cast<const unsigned char*>(bytes.data());
  const int major = raw[6], minor = raw[7];
  if (!((major == 1 || major == 2 || major == 3) && minor == 0)) {
    return absl::InvalidArgumentError(absl::StrCat(at, ": bad .npy header: format version ",
                                                   major, ".", minor,
                                                   " is not 1.0, 2.0 or 3.0"));
  }
  const size_t length_size = major == 1 ? 2 : 4;
  if (bytes.size() < kNpyPrefixSize + length_size) {
    return absl::DataLossError(absl::StrCat(at, ": truncated .npy header"));
  }
  const size_t dict_size = read_le(raw + kNpyPrefixSize, static_cast<int>(length_size));
  const size_t data_offset = kNpyPrefixSize + length_size + dict_size;
  if (bytes.size() < data_offset) {
    return absl::DataLossError(absl::StrCat(at, ": truncated .npy header: it declares ",
                                            dict_size, " bytes, ",
                                            bytes.size() - kNpyPrefixSize - length_size,
                                            " are present"));
  }
  const std::string_view dict =
      std::string_view(bytes).substr(kNpyPrefixSize + length_size, dict_size);
  HeaderDictParser parser(dict, at);
  auto header = parser.parse();
  if (!header.ok()) return header.status();
  header->data_offset = data_offset;
  return header;
}

absl::StatusOr<std::string> encode_npy_header(DType dtype, const Shape& shape) {
  const char* descr = nullptr;
  for (const DescrName& known : kDescrs) {
    if (known.dtype == dtype) descr = known.descr;
  }
  if (descr == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(".npy cannot store ", dtype_name(dtype),
                                                   " arrays; supported: ", kSupportedDescrs));
  }
  std::string shape_text = "(";
  for (int64_t i = 0; i < shape.rank(); ++i) {
    absl::StrAppend(&shape_text, i ? ", " : "", shape[i]);
  }
  shape_text += shape.rank() == 1 ? ",)" : ")";
  std::string dict =
      absl::StrCat("{'descr': '", descr, "', 'fortran_order': False, 'shape': ", shape_text, ", }");
  // Pad with spaces so that the data starts on a 64-byte boundary; '\n' ends the header.
  for (size_t length_size : {size_t{2}, size_t{4}}) {
    const size_t unpadded = kNpyPrefixSize + length_size + dict.size() + 1;
    const size_t padded = (unpadded + 63) / 64 * 64;
    const size_t dict_size = padded - kNpyPrefixSize - length_size;
    if (length_size == 2 && dict_size > 0xFFFF) continue;  // needs version 2.0
    std::string header(kNpyMagic, kNpyMagicSize);
    header += static_cast<char>(length_size == 2 ? 1 : 2);
    header += '\0';
    for (size_t i = 0; i < length_size; ++i) {
      header += static_cast<char>((dict_size >> (8 * i)) & 0xFF);
    }
    header += dict;
    header.append(dict_size - dict.size() - 1, ' ');
    header += '\n';
    return header;
  }
  return absl::InvalidArgumentError("encode_npy_header: the header does not fit");
}

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
  size_t data_offset = 0;
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

    zip_file_t* file = zip_fopen_index(zip, index, 0);
    if (file == nullptr) {
      return absl::DataLossError(absl::StrCat(where, ": cannot open the entry (",
                                              zip_strerror(zip), ")"));
    }
    const uint64_t size = stat.size;
    absl::StatusOr<NpyHeader> header = read_entry_header(file, size, where);
    zip_fclose(file);
    if (!header.ok()) return header.status();

    uint64_t nbytes = 0;
    if (!data_bytes(header->shape, header->dtype, &nbytes)) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": shape ", header->shape.str(),
                                                     " is too large"));
    }
    const uint64_t expected = header->data_offset + nbytes;
    if (size < expected) {
      return absl::DataLossError(absl::StrCat(
          where, ": truncated: a ", dtype_name(header->dtype), " array of shape ",
          header->shape.str(), " needs ", expected, " bytes, the entry holds ", size));
    }
    if (size > expected) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ": ", size - expected, " unexpected bytes after the data of a ",
          dtype_name(header->dtype), " array of shape ", header->shape.str()));
    }
    reader->arrays_.push_back({key, header->dtype, header->shape});
    reader->entries_.push_back({index, header->data_offset});
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
  std::string skipped(entry.data_offset, '\0');
  Tensor tensor = empty(info->shape, info->dtype);
  absl::Status status = read_exact(file, skipped.data(), skipped.size(), where);
  if (status.ok()) status = read_exact(file, tensor.mutable_raw_data(), tensor.nbytes(), where);
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

std::string temporary_path_for(const std::string& path) {
  static std::atomic<int> counter{0};
  return absl::StrCat(path, ".tmp-", getpid(), "-", counter++);
}

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

  const std::string temporary = temporary_path_for(path);
  auto fail = [&](const std::string& why) {
    std::remove(temporary.c_str());
    return absl::InternalError(absl::StrCat(path, ": cannot write the .npz: ", why));
  };
  if (arrays.empty()) {
    absl::Status status = write_empty_zip(temporary);
    if (!status.ok()) return fail(std::string(status.message()));
  } else {
    int code = 0;
    zip_t* zip = zip_open(temporary.c_str(), ZIP_CREATE | ZIP_EXCL, &code);
    if (zip == nullptr) return fail(zip_error_message(code));
    for (size_t i = 0; i < arrays.size(); ++i) {
      zip_buffer_fragment_t fragments[2] = {
          {reinterpret_cast<zip_uint8_t*>(headers[i].data()), headers[i].size()},
          {static_cast<zip_uint8_t*>(host_arrays[i].mutable_raw_data()), host_arrays[i].nbytes()},
      };
      zip_source_t* source = zip_source_buffer_fragment(zip, fragments, 2, 0);
      const std::string name = arrays[i].first + ".npy";
      zip_int64_t index = source == nullptr ? -1
                                            : zip_file_add(zip, name.c_str(), source,
                                                           ZIP_FL_ENC_UTF_8);
      if (index < 0) {
        if (source != nullptr) zip_source_free(source);
        const std::string why = absl::StrCat("entry '", name, "': ", zip_strerror(zip));
        zip_discard(zip);
        return fail(why);
      }
      const auto method = compression == NpzCompression::kDeflated ? ZIP_CM_DEFLATE : ZIP_CM_STORE;
      if (zip_set_file_compression(zip, static_cast<zip_uint64_t>(index), method, 0) != 0 ||
          zip_file_set_mtime(zip, static_cast<zip_uint64_t>(index), kFixedEntryTime, 0) != 0) {
        const std::string why = absl::StrCat("entry '", name, "': ", zip_strerror(zip));
        zip_discard(zip);
        return fail(why);
      }
    }
    if (zip_close(zip) != 0) {
      const std::string why = zip_strerror(zip);
      zip_discard(zip);
      return fail(why);
    }
  }
  // Flush the data before the rename publishes it, then make the rename itself durable.
  const int fd = ::open(temporary.c_str(), O_RDONLY | O_CLOEXEC);
  const bool flushed = fd >= 0 && ::fsync(fd) == 0;
  if (fd >= 0) ::close(fd);
  if (!flushed) return fail(absl::StrCat("flushing ", temporary, ": ", std::strerror(errno)));
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    return fail(absl::StrCat("renaming ", temporary, " failed: ", std::strerror(errno)));
  }
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash + 1);
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
  return absl::OkStatus();
}

}  // namespace bitgrad
