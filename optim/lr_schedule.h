// Learning-rate schedules. BiT's fine-tuning schedule (the "BiT-HyperRule") is a linear warmup
// followed by a staircase that divides the rate by 10 at fixed steps.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace bitgrad {

// lr(s) for optimizer step s (0-based):
//   s < warmup_steps:   base_lr * s / warmup_steps             (so lr(0) = 0)
//   s >= total_steps:   nullopt (training is over)
//   otherwise:          base_lr / 10^k, k = how many decay_steps are strictly less than s
// The boundary steps themselves still use the higher rate, as in the official BiT code.
class WarmupStaircase {
 public:
  WarmupStaircase(double base_lr, int64_t warmup_steps, std::vector<int64_t> decay_steps,
                  int64_t total_steps);

  std::optional<double> lr(int64_t step) const;
  int64_t total_steps() const { return total_steps_; }

 private:
  double base_lr_;
  int64_t warmup_steps_;
  std::vector<int64_t> decay_steps_;
  int64_t total_steps_;
};

// The BiT-HyperRule schedule for a training set of `num_examples` (after any few-shot
// subsampling): under 20k examples, 500 steps with warmup 100 and decays at 200/300/400;
// under 500k, 10k steps (warmup 500; decays 3k/6k/9k); otherwise 20k (500; 6k/12k/18k).
WarmupStaircase bit_hyperrule_schedule(int64_t num_examples, double base_lr = 0.003);
// The same regime with its warmup and decay steps scaled to `total_steps` updates (rounded to
// nearest): what a --steps override means for the HyperRule, e.g. 50 steps of the small regime
// warm up for 10 and decay after 20, 30 and 40.
WarmupStaircase bit_hyperrule_schedule(int64_t num_examples, double base_lr, int64_t total_steps);
// BiT's upstream schedule (bit.md §3.4): 90 epochs with lr / 10 after epochs 30, 60 and 80,
// i.e. after 1/3, 2/3 and 8/9 of `total_steps` (rounded to nearest), following a linear warmup
// of 5000 steps, or of 16 epochs (16/90 of the run: BiT-S's share) when that is shorter, so that
// a short run is not all warmup.
WarmupStaircase bit_upstream_schedule(double base_lr, int64_t total_steps);
// BiT-HyperRule's mixup alpha: 0 (off) under 20k examples, else 0.1.
double bit_hyperrule_mixup_alpha(int64_t num_examples);

}  // namespace bitgrad
