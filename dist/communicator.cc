#include "dist/communicator.h"

#include "absl/strings/str_cat.h"

namespace bitgrad {

std::string Communicator::name() const { return absl::StrCat("rank ", rank(), " of ", size()); }

std::string Communicator::broadcast_text(const std::string& text, int root) {
  int64_t size = static_cast<int64_t>(text.size());
  broadcast(&size, sizeof(size), root);
  std::string received = rank() == root ? text : std::string(size, '\0');
  broadcast(received.data(), size, root);
  return received;
}

}  // namespace bitgrad
