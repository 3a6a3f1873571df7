#include "optim/lr_schedule.h"

#include <algorithm>
#include <cmath>

#include "core/check.h"

namespace bitgrad {

WarmupStaircase::WarmupStaircase(double base_lr, int64_t warmup_steps,
                                 std::vector<int64_t> decay_steps, int64_t total_steps)
    : base_lr_(base_lr), warmup_steps_(warmup_steps), decay_steps_(std::move(decay_steps)),
      total_steps_(total_steps) {
  BG_CHECK(base_lr >= 0 && warmup_steps >= 0 && total_steps > 0,
           "WarmupStaircase: need base_lr >= 0, warmup_steps >= 0 and total_steps > 0, got ",
           base_lr, ", ", warmup_steps, ", ", total_steps);
  BG_CHECK(std::is_sorted(decay_steps_.begin(), decay_steps_.end()),
           "WarmupStaircase: decay steps must be increasing");
}

std::optional<double> WarmupStaircase::lr(int64_t step) const {
  if (step >= total_steps_) return std::nullopt;
  if (step < warmup_steps_) return base_lr_ * static_cast<double>(step) / warmup_steps_;
  int64_t decays = std::count_if(decay_steps_.begin(), decay_steps_.end(),
                                 [&](int64_t boundary) { return boundary < step; });
  return base_lr_ / std::pow(10.0, static_cast<double>(decays));
}

namespace {

// The regime's [warmup end, decay 1, decay 2, decay 3, total].
std::vector<int64_t> hyperrule_supports(int64_t num_examples) {
  BG_CHECK(num_examples > 0, "bit_hyperrule_schedule: the dataset is empty");
  if (num_examples < 20000) return {100, 200, 300, 400, 500};
  if (num_examples < 500000) return {500, 3000, 6000, 9000, 10000};
  return {500, 6000, 12000, 18000, 20000};
}

}  // namespace

WarmupStaircase bit_hyperrule_schedule(int64_t num_examples, double base_lr) {
  return bit_hyperrule_schedule(num_examples, base_lr, hyperrule_supports(num_examples).back());
}

WarmupStaircase bit_hyperrule_schedule(int64_t num_examples, double base_lr, int64_t total_steps) {
  BG_CHECK(total_steps > 0, "bit_hyperrule_schedule: total_steps must be positive");
  std::vector<int64_t> s = hyperrule_supports(num_examples);
  const double scale = static_cast<double>(total_steps) / s.back();
  for (int64_t& step : s) step = std::llround(step * scale);
  return WarmupStaircase(base_lr, s[0], {s[1], s[2], s[3]}, total_steps);
}

WarmupStaircase bit_upstream_schedule(double base_lr, int64_t total_steps) {
  BG_CHECK(total_steps > 0, "bit_upstream_schedule: total_steps must be positive");
  // BiT-S's 5000 warmup steps are 16 of its 90 epochs (28125 steps of 4096 ILSVRC images).
  constexpr int64_t kWarmupSteps = 5000, kEpochs = 90, kWarmupEpochs = 16;
  auto at_epoch = [&](int64_t epoch) -> int64_t {
    return std::llround(static_cast<double>(total_steps) * epoch / kEpochs);
  };
  return WarmupStaircase(base_lr, std::min(kWarmupSteps, at_epoch(kWarmupEpochs)),
                         {at_epoch(30), at_epoch(60), at_epoch(80)}, total_steps);
}

double bit_hyperrule_mixup_alpha(int64_t num_examples) {
  return num_examples < 20000 ? 0.0 : 0.1;
}

}  // namespace bitgrad
