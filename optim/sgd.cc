#include "optim/sgd.h"

#include <algorithm>
#include <set>

#include "autograd/grad_mode.h"
#include "ops/sgd_update.h"

namespace bitgrad {

Sgd::Sgd(std::vector<NamedTensor> parameters, SgdOptions options) : options_(options) {
  BG_CHECK(options.lr >= 0 && options.momentum >= 0 && options.weight_decay >= 0,
           "Sgd: lr, momentum and weight_decay must be >= 0");
  BG_CHECK(!options.nesterov || (options.momentum > 0 && options.dampening == 0),
           "Sgd: nesterov needs momentum > 0 and dampening 0");
  std::set<std::string> names;
  for (auto& [name, param] : parameters) {
    BG_CHECK(param.defined() && param.is_leaf(), "Sgd: parameter '", name,
             "' must be a defined leaf tensor");
    BG_CHECK(names.insert(name).second, "Sgd: parameter name '", name, "' appears twice");
    for (const Slot& earlier : slots_) {
      BG_CHECK(!earlier.param.is_same(param), "Sgd: parameters '", earlier.name, "' and '", name,
               "' are one tensor, which each step would update twice");
    }
    slots_.push_back({name, param, Tensor()});
  }
}

std::optional<NamedTensor> Sgd::step() {
  NoGradGuard no_grad;
  // One SgdUpdate call for the parameters whose momentum buffer exists, one for those that get
  // theirs now (first_step): a backend updates each group in one pass.
  struct Group {
    std::vector<Tensor> params, grads, buffers;
    std::vector<size_t> slot_indices;  // in slots_, of each of params
  } groups[2];
  for (size_t s = 0; s < slots_.size(); ++s) {
    Slot& slot = slots_[s];
    Tensor grad = slot.param.grad();
    if (!grad.defined()) continue;
    const bool first_step = !slot.momentum_buffer.defined();
    if (first_step && options_.momentum != 0) slot.momentum_buffer = empty_like(slot.param);
    Group& group = groups[first_step];
    group.params.push_back(slot.param);
    group.grads.push_back(grad);
    if (options_.momentum != 0) group.buffers.push_back(slot.momentum_buffer);
    group.slot_indices.push_back(s);
  }
  size_t first_non_finite = slots_.size();
  for (bool first_step : {false, true}) {
    const Group& group = groups[first_step];
    if (group.params.empty()) continue;
    for (Tensor param : group.params) param.bump_version();  // first, as copy_ does
    const int64_t bad = call<SgdUpdate>(group.params, group.grads, group.buffers,
                                        SgdUpdateAttrs{options_, first_step});
    if (bad >= 0) first_non_finite = std::min(first_non_finite, group.slot_indices[bad]);
  }
  ++steps_taken_;
  if (first_non_finite == slots_.size()) return std::nullopt;
  const Slot& bad = slots_[first_non_finite];
  return NamedTensor{bad.name, bad.param};
}

void Sgd::zero_grad() {
  for (Slot& slot : slots_) slot.param.set_grad(Tensor());
}

std::vector<NamedTensor> Sgd::state() const {
  std::vector<NamedTensor> state;
  for (const Slot& slot : slots_) {
    if (slot.momentum_buffer.defined()) state.emplace_back(slot.name, slot.momentum_buffer);
  }
  return state;
}

void Sgd::load_state(const std::vector<NamedTensor>& state, int64_t steps_taken) {
  for (Slot& slot : slots_) slot.momentum_buffer = Tensor();
  for (const auto& [name, buffer] : state) {
    Slot* match = nullptr;
    for (Slot& slot : slots_) {
      if (slot.name == name) match = &slot;
    }
    BG_CHECK(match != nullptr, "Sgd::load_state: the state has a momentum buffer for '", name,
             "', which is not a parameter of this optimizer");
    BG_CHECK(buffer.shape() == match->param.shape(), "Sgd::load_state: momentum buffer '", name,
             "' has shape ", buffer.shape(), " but the parameter has shape ",
             match->param.shape());
    match->momentum_buffer = buffer.to(match->param.dtype()).to(match->param.device()).clone();
  }
  steps_taken_ = steps_taken;
}

}  // namespace bitgrad
