// Stochastic gradient descent with momentum, with PyTorch's semantics (torch.optim.SGD), which
// is what the BiT fine-tuning recipe uses: buf = momentum * buf + g; p -= lr * buf.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"
#include "ops/sgd_update.h"  // SgdOptions

namespace bitgrad {

using NamedTensor = std::pair<std::string, Tensor>;

class Sgd {
 public:
  // `parameters` are updated in place; names key the optimizer state in checkpoints.
  Sgd(std::vector<NamedTensor> parameters, SgdOptions options);

  // One update from the parameters' .grad; parameters without a gradient are skipped. Returns the
  // first updated parameter (in the order given) that holds a NaN or an infinity afterwards, or
  // nullopt: the update kernel sees each value as it writes it, so the check needs no extra pass.
  std::optional<NamedTensor> step();
  // Drops every parameter's gradient (PyTorch's zero_grad(set_to_none=True)).
  void zero_grad();

  double lr() const { return options_.lr; }
  void set_lr(double lr) { options_.lr = lr; }
  const SgdOptions& options() const { return options_; }
  int64_t steps_taken() const { return steps_taken_; }

  // Momentum buffers by parameter name (absent until a parameter's first update), and the
  // step count: everything needed to resume exactly.
  std::vector<NamedTensor> state() const;
  void load_state(const std::vector<NamedTensor>& state, int64_t steps_taken);

 private:
  struct Slot {
    std::string name;
    Tensor param;
    Tensor momentum_buffer;
  };
  std::vector<Slot> slots_;
  SgdOptions options_;
  int64_t steps_taken_ = 0;
};

}  // namespace bitgrad
