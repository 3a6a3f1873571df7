// Image folders with one sub-folder per class, as torchvision's ImageFolder reads them:
//
//   root/cat/001.jpg, root/cat/002.png, root/cat/2019/a.jpeg, root/dog/b.jpeg, ...
//
// Classes are the sub-folder names in sorted (byte) order, class i being the i-th; the images are
// the .jpg, .jpeg, .png and .webp files (any letter case) in each and in the folders below it, in
// torchvision's order: folders sorted by path, each one's files by name; decoded on demand.
// Hidden files and folders (".DS_Store", ".ipynb_checkpoints/") are left out; links to folders
// are followed, as torchvision follows them, each folder read once (a link back up would make a
// cycle). Files in the root itself, in no class folder, are passed over. Other files, and
// files named as images whose first bytes are no PNG, JPEG or WebP (a HEIF photo saved as
// .jpg), are passed over and listed in ImageSet::skipped_files, which skipped_files_note reports.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "data/image_set.h"

namespace bitgrad {

// The file names read as images (any letter case), for messages.
inline constexpr char kImageFileNames[] = ".jpg, .jpeg, .png or .webp";

// Appends to `images` the .jpg, .jpeg, .png and .webp files (any letter case) in `dir` and the
// folders below it that are not hidden (links followed, each folder once), in the order a class
// folder's are read (torchvision's walk: a folder's files by name, then each sub-folder's, the
// folders sorted by path), as paths under `dir`; and to `others` the files passed over, hidden
// ones aside (macOS leaves "._name.jpg" files that are no images): those named otherwise, and
// those named as images whose first bytes are no PNG, JPEG or WebP (a HEIF photo saved as .jpg),
// so that they are noted before the work rather than stop it. A class folder's images, and
// those bit_predict takes from a folder. Fails naming a folder that cannot be listed.
absl::Status list_image_files(const std::string& dir, std::vector<std::string>& images,
                              std::vector<SkippedFile>& others);

// The error for folder `dir` (`what`: "class folder", "a folder") when list_image_files found
// no images in it: up to three of `others` (its files passed over) that are named as images but
// hold none, else that it has no image files.
absl::Status no_images_error(const std::string& dir, const std::string& what,
                             const std::vector<SkippedFile>& others);

// Errors name the folder: missing, unreadable, no class sub-folders, a class sub-folder without
// images.
absl::StatusOr<ImageSet> read_image_folder(const std::string& root);

// None when nothing was passed over in `source`; else a line for the files in no class folder,
// one for those named otherwise than as images and one for those named as images that hold none
// bitgrad reads, each counting them and naming the first few (relative to `source`), so that
// images in a format bitgrad does not read (.bmp, .gif, a HEIF photo saved as .jpg, ...) do not
// drop out unseen.
std::vector<std::string> skipped_files_lines(const std::string& source,
                                             const std::vector<SkippedFile>& skipped);
// The same for `set`, each line as "note: ...\n" ("" when there is none).
std::string skipped_files_note(const ImageSet& set);

// root/train and root/test (or root/val when there is no root/test). Both must list the same
// classes, so that label i means the same class in both. A root without them is an error that
// lists what it holds instead, unless `test_fraction` is above 0: then root holds the class
// folders itself, and that fraction of each class's images (rounded; at least one, never all)
// is held out as the test split. Which ones depends only on their paths below root (lowest
// FNV-1a hash first), not on a seed, so a later run (--eval_only, --resume) with any --seed
// holds out the same images. Dataset::notes names images that are one file under two paths
// (links, hard links): read under each, they weigh double, hold two labels, or are tested on
// after training.
absl::StatusOr<Dataset> load_image_folders(const std::string& root, double test_fraction = 0);

// OK for load_image_folders' `test_fraction`: a fraction in [0, 1); else an error naming the flag.
absl::Status check_test_fraction(double test_fraction);

}  // namespace bitgrad
