#include "data/idx_dataset.h"

#include <sys/stat.h>
#include <zlib.h>

#include <cstring>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "io/file_limits.h"

namespace bitgrad {
namespace {

constexpr uint32_t kImagesMagic = 0x00000803;  // unsigned bytes, 3 dims
constexpr uint32_t kLabelsMagic = 0x00000801;  // unsigned bytes, 1 dim

// gzread also reads uncompressed files, so one reader serves both.
class IdxFile {
 public:
  explicit IdxFile(const std::string& path) : path_(path), file_(gzopen(path.c_str(), "rb")) {}
  ~IdxFile() {
    if (file_ != nullptr) gzclose(file_);
  }

  absl::Status read_header(uint32_t expected_magic, std::vector<int64_t>* dims) {
    if (file_ == nullptr) return absl::NotFoundError(absl::StrCat("cannot open ", path_));
    uint32_t magic;
    if (auto s = read_big_endian(&magic); !s.ok()) return s;
    if (magic != expected_magic) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s is not an IDX file of the expected kind: magic 0x%08x, expected 0x%08x", path_,
          magic, expected_magic));
    }
    for (uint32_t d = 0; d < (magic & 0xff); ++d) {
      uint32_t extent;
      if (auto s = read_big_endian(&extent); !s.ok()) return s;
      dims->push_back(extent);
    }
    return check_declared_size(*dims);
  }

  absl::Status read_bytes(void* out, int64_t nbytes) {
    char* bytes = static_cast<char*>(out);
    while (nbytes > 0) {
      int chunk = static_cast<int>(std::min<int64_t>(nbytes, 1 << 30));
      int got = gzread(file_, bytes, chunk);
      if (got <= 0) {
        return absl::DataLossError(absl::StrCat(path_, " is truncated or corrupt"));
      }
      bytes += got;
      nbytes -= got;
    }
    return absl::OkStatus();
  }

 private:
  // Before allocating: the limit on any array from a file, and, for an uncompressed file, its size.
  absl::Status check_declared_size(const std::vector<int64_t>& dims) {
    uint64_t nbytes = 0;
    if (!checked_array_bytes(dims.data(), static_cast<int>(dims.size()), 1, &nbytes)) {
      return absl::InvalidArgumentError(absl::StrCat(path_, ": header claims too many elements"));
    }
    if (gzdirect(file_) == 1) {
      struct stat info;
      const uint64_t header_bytes = 4 + 4 * dims.size();
      if (stat(path_.c_str(), &info) == 0 &&
          nbytes > static_cast<uint64_t>(info.st_size) - header_bytes) {
        return absl::DataLossError(absl::StrCat(path_, ": truncated: the header declares ",
                                                nbytes, " bytes of data, the file holds ",
                                                info.st_size - header_bytes));
      }
    }
    return check_file_tensor_bytes(nbytes, path_);
  }

  absl::Status read_big_endian(uint32_t* value) {
    unsigned char b[4];
    if (auto s = read_bytes(b, 4); !s.ok()) return s;
    *value = (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | b[3];
    return absl::OkStatus();
  }

  std::string path_;
  gzFile file_;
};

}  // namespace

absl::StatusOr<LabeledImages> read_idx_dataset(const std::string& images_path,
                                               const std::string& labels_path) {
  IdxFile images_file(images_path), labels_file(labels_path);
  std::vector<int64_t> image_dims, label_dims;
  if (auto s = images_file.read_header(kImagesMagic, &image_dims); !s.ok()) return s;
  if (auto s = labels_file.read_header(kLabelsMagic, &label_dims); !s.ok()) return s;
  if (image_dims[0] != label_dims[0]) {
    return absl::InvalidArgumentError(absl::StrCat(images_path, " holds ", image_dims[0],
                                                   " images but ", labels_path, " holds ",
                                                   label_dims[0], " labels"));
  }
  LabeledImages data;
  data.images = empty(Shape(image_dims), DType::kUInt8);
  if (auto s = images_file.read_bytes(data.images.mutable_raw_data(), data.images.nbytes());
      !s.ok()) {
    return s;
  }
  Tensor raw_labels = empty(Shape(label_dims), DType::kUInt8);
  if (auto s = labels_file.read_bytes(raw_labels.mutable_raw_data(), raw_labels.nbytes());
      !s.ok()) {
    return s;
  }
  data.labels = raw_labels.to(DType::kInt64);
  return data;
}

absl::StatusOr<LabeledImages> load_fashion_mnist(const std::string& split,
                                                 const std::string& dir) {
  if (split != "train" && split != "test") {
    return absl::InvalidArgumentError(
        absl::StrCat("Fashion-MNIST split must be \"train\" or \"test\", got \"", split, "\""));
  }
  std::string prefix = absl::StrCat(dir, "/", split == "train" ? "train" : "t10k");
  absl::StatusOr<LabeledImages> data =
      read_idx_dataset(prefix + "-images-idx3-ubyte.gz", prefix + "-labels-idx1-ubyte.gz");
  if (!data.ok() && absl::IsNotFound(data.status())) {
    return absl::NotFoundError(absl::StrCat(data.status().message(),
                                            " (install it with: apt-get install "
                                            "dataset-fashion-mnist, or run ./setup.sh)"));
  }
  return data;
}

}  // namespace bitgrad
