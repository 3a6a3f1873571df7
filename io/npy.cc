#include "io/npy.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "io/atomic_file.h"
#include "io/file_limits.h"

namespace bitgrad {
namespace {

constexpr char kNpyMagic[] = "\x93NUMPY";
constexpr size_t kNpyMagicSize = 6;
constexpr size_t kNpyPrefixSize = 8;  // magic + major + minor
// numpy's own np.load refuses headers over 10000 bytes; this leaves room for any real shape and
// keeps a crafted 4-byte length from allocating gigabytes.
constexpr size_t kMaxHeaderDictBytes = size_t{1} << 20;
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
                       kNpySupportedDescrs);
        }
        auto descr = parse_string();
        if (!descr.ok()) return descr.status();
        auto element = parse_npy_descr(*descr, where_);
        if (!element.ok()) return element.status();
        header.element = *element;
        header.dtype = npy_read_dtype(*element);
        has_descr = true;
      } else if (*key == "fortran_order") {
        auto fortran = parse_bool();
        if (!fortran.ok()) return fortran.status();
        header.fortran_order = *fortran;
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

  std::string_view text_;
  std::string where_;
  size_t pos_ = 0;
};

uint32_t read_le(const unsigned char* bytes, int count) {
  uint32_t value = 0;
  for (int i = count - 1; i >= 0; --i) value = (value << 8) | bytes[i];
  return value;
}

absl::Status check_dict_size(size_t dict_size, const std::string& where) {
  if (dict_size <= kMaxHeaderDictBytes) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(where, ": bad .npy header: it declares ",
                                                 dict_size, " bytes of header dict, over the ",
                                                 kMaxHeaderDictBytes, " any real array needs"));
}

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

// ------------------------------------------------------------------------------------------------
// Headers

absl::StatusOr<NpyHeader> parse_npy_header(const std::string& bytes, const std::string& where) {
  if (bytes.size() < kNpyPrefixSize || std::memcmp(bytes.data(), kNpyMagic, kNpyMagicSize) != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, ": bad .npy header: the entry does not start with the .npy magic \"\\x93NUMPY\""));
  }
  const auto* raw = reinterpret_cast<const unsigned char*>(bytes.data());
  const int major = raw[6], minor = raw[7];
  if (!((major == 1 || major == 2 || major == 3) && minor == 0)) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": bad .npy header: format version ",
                                                   major, ".", minor,
                                                   " is not 1.0, 2.0 or 3.0"));
  }
  const size_t length_size = major == 1 ? 2 : 4;
  if (bytes.size() < kNpyPrefixSize + length_size) {
    return absl::DataLossError(absl::StrCat(where, ": truncated .npy header"));
  }
  const size_t dict_size = read_le(raw + kNpyPrefixSize, static_cast<int>(length_size));
  if (absl::Status status = check_dict_size(dict_size, where); !status.ok()) return status;
  const size_t data_offset = kNpyPrefixSize + length_size + dict_size;
  if (bytes.size() < data_offset) {
    return absl::DataLossError(absl::StrCat(where, ": truncated .npy header: it declares ",
                                            dict_size, " bytes, ",
                                            bytes.size() - kNpyPrefixSize - length_size,
                                            " are present"));
  }
  const std::string_view dict =
      std::string_view(bytes).substr(kNpyPrefixSize + length_size, dict_size);
  HeaderDictParser parser(dict, where);
  auto header = parser.parse();
  if (!header.ok()) return header.status();
  header->data_offset = data_offset;
  return header;
}

absl::StatusOr<NpyHeader> read_npy_header(const ReadExactly& read, uint64_t size,
                                          const std::string& where) {
  // Magic, version and the 2-byte length of version 1.0: enough to know the header's size.
  std::string head(std::min<uint64_t>(size, kNpyPrefixSize + 2), '\0');
  if (absl::Status status = read(head.data(), head.size()); !status.ok()) return status;
  absl::StatusOr<NpyHeader> prefix = parse_npy_header(head, where);
  if (prefix.ok() || !absl::IsDataLoss(prefix.status())) return prefix;  // done, or not an .npy
  const size_t length_size = static_cast<unsigned char>(head[6]) == 1 ? 2 : 4;
  uint64_t full = kNpyPrefixSize + length_size;
  if (full > size) return prefix.status();  // the stream ends inside the length field
  if (length_size == 4) {
    head.resize(full);
    if (absl::Status status = read(head.data() + kNpyPrefixSize + 2, 2); !status.ok()) {
      return status;
    }
  }
  const size_t dict_size = read_le(
      reinterpret_cast<const unsigned char*>(head.data()) + kNpyPrefixSize,
      static_cast<int>(length_size));
  if (absl::Status status = check_dict_size(dict_size, where); !status.ok()) return status;
  full += dict_size;
  if (full > size) {
    return absl::DataLossError(absl::StrCat(where, ": truncated .npy header: it needs ", full,
                                            " bytes, there are ", size));
  }
  const size_t have = head.size();
  head.resize(full);
  if (absl::Status status = read(head.data() + have, full - have); !status.ok()) return status;
  return parse_npy_header(head, where);
}

absl::Status check_npy_data_size(const NpyHeader& header, uint64_t available,
                                 const std::string& where) {
  uint64_t nbytes = 0;
  if (!checked_array_bytes(header.shape.begin(), static_cast<int>(header.shape.rank()),
                           header.element.size, &nbytes)) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": shape ", header.shape.str(),
                                                   " is too large"));
  }
  if (available < nbytes) {
    return absl::DataLossError(absl::StrCat(
        where, ": truncated: a '", header.element.descr(), "' array of shape ",
        header.shape.str(), " needs ", nbytes, " bytes of data and holds ", available));
  }
  if (absl::Status status = check_file_tensor_bytes(nbytes, where); !status.ok()) return status;
  if (available > nbytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, ": ", available - nbytes, " unexpected bytes after the data of a '",
        header.element.descr(), "' array of shape ", header.shape.str()));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> encode_npy_header(DType dtype, const Shape& shape) {
  const char* descr = npy_descr_of(dtype);
  if (descr == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(".npy cannot store ", dtype_name(dtype), " arrays"));
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

absl::StatusOr<Tensor> read_npy_data(const NpyHeader& header, const ReadExactly& read,
                                     const std::string& where) {
  Shape file_shape;  // C order over the reversed shape is Fortran order over the shape
  for (int64_t k = 0; k < header.shape.rank(); ++k) {
    file_shape.push_back(header.shape[header.fortran_order ? header.shape.rank() - 1 - k : k]);
  }
  Tensor tensor = empty(file_shape, header.dtype);
  const NpyElement& element = header.element;
  const bool as_stored = element.descr() == npy_descr_of(header.dtype);  // no conversion
  if (as_stored) {
    if (absl::Status status = read(static_cast<char*>(tensor.mutable_raw_data()), tensor.nbytes());
        !status.ok()) {
      return status;
    }
  } else {
    std::string raw(static_cast<size_t>(tensor.numel()) * element.size, '\0');
    if (absl::Status status = read(raw.data(), raw.size()); !status.ok()) return status;
    if (absl::Status status = decode_npy_elements(element, raw.data(), tensor, where);
        !status.ok()) {
      return status;
    }
  }
  return header.fortran_order ? fortran_to_c_order(tensor) : tensor;
}

// ------------------------------------------------------------------------------------------------
// Files

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

namespace {

// The array of an .npy file, and its header in `header`.
absl::StatusOr<Tensor> read_npy_file(const std::string& path, NpyHeader& header) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return open_error(path);
  in.seekg(0, std::ios::end);
  const uint64_t file_size = static_cast<uint64_t>(in.tellg());
  in.seekg(0);
  if (file_size == 0) return absl::InvalidArgumentError(absl::StrCat(path, ": the file is empty"));
  char first[2] = {};
  in.read(first, 2);
  in.clear();
  in.seekg(0);
  if (first[0] == 'P' && first[1] == 'K') {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": this is an .npz archive (a zip), not a single .npy array"));
  }
  auto read = [&](char* out, size_t count) -> absl::Status {
    if (in.read(out, static_cast<std::streamsize>(count))) return absl::OkStatus();
    return absl::DataLossError(absl::StrCat(path, ": reading failed"));
  };
  absl::StatusOr<NpyHeader> parsed = read_npy_header(read, file_size, path);
  if (!parsed.ok()) return parsed.status();
  header = *parsed;
  absl::Status size_ok = check_npy_data_size(header, file_size - header.data_offset, path);
  if (!size_ok.ok()) return size_ok;
  return read_npy_data(header, read, path);
}

}  // namespace

absl::StatusOr<Tensor> read_npy(const std::string& path) {
  NpyHeader header;
  return read_npy_file(path, header);
}

absl::StatusOr<Tensor> read_npy(const std::string& path, DType dtype) {
  NpyHeader header;
  absl::StatusOr<Tensor> array = read_npy_file(path, header);
  if (!array.ok()) return array.status();
  return npy_array_as(*array, header.element, dtype, path);
}

}  // namespace bitgrad
