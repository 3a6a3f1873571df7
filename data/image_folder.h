// Image folders with one sub-folder per class, as torchvision's ImageFolder reads them:
//
//   root/cat/001.jpg, root/cat/002.png, root/dog/a.jpeg, ...
//
// Classes are the sub-folder names in sorted (byte) order, class i being the i-th; the images are
// the .jpg, .jpeg and .png files (any letter case) in each, sorted by name, decoded on demand.
// Other files and nested folders are ignored.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "data/image_set.h"

namespace bitgrad {

// The .jpg, .jpeg and .png files (any letter case) directly in `dir`, sorted by name, as paths
// under `dir`; what read_image_folder takes from each class folder.
std::vector<std::string> image_files_in(const std::string& dir);

// Errors name the folder: missing, no class sub-folders, a class sub-folder without images.
absl::StatusOr<ImageSet> read_image_folder(const std::string& root);

// root/train and root/test (or root/val when there is no root/test). Both must list the same
// classes, so that label i means the same class in both. A root without them is an error that
// lists what it holds instead.
absl::StatusOr<Dataset> load_image_folders(const std::string& root);

}  // namespace bitgrad
