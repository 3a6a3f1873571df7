#include "dist/communicator.h"

#include "absl/strings/str_cat.h"

namespace bitgrad {

std::string Communicator::name() const { return absl::StrCat("rank ", rank(), " of ", size()); }

}  // namespace bitgrad
