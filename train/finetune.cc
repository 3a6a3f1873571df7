#include "train/finetune.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/stopwatch.h"
#include "data/loader.h"
#include "data/mixup.h"
#include "data/stream_order.h"
#include "dist/world.h"
#include "google/protobuf/text_format.h"
#include "models/train_state.h"
#include "optim/sgd.h"
#include "train/cpu_contention.h"
#include "train/metrics_log.h"
#include "train/model_init.h"
#include "train/progress.h"
#include "train/run_config.h"
#include "train/run_dir.h"
#include "train/stop_signals.h"
#include "train/update.h"

namespace bitgrad {
namespace {

using Clock = SteadyClock;

// A test hook: BITGRAD_TEST_MIN_UPDATE_MS=N makes every update take at least N ms, so that a test
// that kills a run after a given number of updates (tests/train/kill_test.cc) lands where it
// means to on a fast machine too, where the tiny test model's updates take a millisecond.
void pace_update_for_tests(const Clock::time_point& start) {
  static const int milliseconds = [] {
    const char* value = std::getenv("BITGRAD_TEST_MIN_UPDATE_MS");
    return value == nullptr ? 0 : std::atoi(value);
  }();
  if (milliseconds > 0) {
    std::this_thread::sleep_until(start + std::chrono::milliseconds(milliseconds));
  }
}

// `config` with its loss_name spelt out, so that an empty loss and "softmax" compare equal.
RunConfig with_loss_named(RunConfig config) {
  config.set_loss(loss_name(config));
  return config;
}

// The start of --resume's refusal of a checkpoint trained on other classes than the dataset's.
std::string resumed_on_other_classes(const RunConfig& config) {
  return absl::StrCat("--resume: ", checkpoint_path(config.out()),
                      " was trained on other classes than --dataset=", config.dataset(),
                      " holds now");
}

// Restores `state` from `checkpoint`, config.out's as already read (read here when not given;
// `path` labels messages), refusing a checkpoint of a different run: other settings, or other
// classes under the same --dataset (a file replaced, a relative path run elsewhere). Taken by
// value, so that its tensors are freed once copied.
absl::Status resume_from(std::optional<Checkpoint> checkpoint, const std::string& path,
                         const RunConfig& config, const std::vector<std::string>& class_names,
                         TrainState& state) {
  if (!checkpoint.has_value()) {
    absl::StatusOr<Checkpoint> read = read_checkpoint_to_resume(config.out());
    if (!read.ok()) return read.status();
    checkpoint = *std::move(read);
  }
  // --weights aside: the run's model is in its checkpoint, wherever it started from.
  const auto compared = [](RunConfig settings) {
    settings.clear_weights();
    return computed_settings(with_loss_named(settings));
  };
  const auto same_run = [&](const Checkpoint& checkpoint) -> absl::Status {
    absl::StatusOr<RunConfig> saved = parse_run_config(checkpoint.config, path);
    if (!saved.ok()) return saved.status();
    if (std::string differences = differing_settings(compared(*saved), compared(config));
        !differences.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--resume: ", path, " was written by a run with other settings: ", differences));
    }
    if (std::string other = class_names_difference(checkpoint.class_names, class_names);
        !other.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          resumed_on_other_classes(config), " (", other, "); resume it on the data it trained "
          "on, or start a new run (another --out) from it with --weights"));
    }
    return absl::OkStatus();
  };
  if (absl::Status status = restore_train_state(*checkpoint, path, state, same_run);
      !status.ok()) {
    return status;
  }
  state.config = run_config_text(config);
  return absl::OkStatus();
}

// The run fact of ImageSet::fingerprint. "_v2": it hashes pixels by words now, so the values
// of earlier checkpoints' "train_fingerprint" are not compared.
constexpr char kTrainFingerprint[] = "train_fingerprint_v2";

// What a run's numbers depend on besides its settings and checkpoint (TrainState::run_facts):
// the threads the kernels split their sums among, and the training set.
std::map<std::string, std::string> run_facts(const ImageSet& train, const Device& device) {
  std::map<std::string, std::string> facts = {
      {"train_examples", absl::StrCat(train.size())},
      {kTrainFingerprint, absl::StrCat(absl::Hex(train.fingerprint()))}};
  if (device.is_cpu()) facts["threads"] = absl::StrCat(omp_get_max_threads());
  return facts;
}

// Notes for a resumed run whose run_facts differ from its checkpoint's (`saved`; empty from
// older checkpoints): its losses then follow the uninterrupted run's only so far.
std::vector<std::string> resumed_run_differences(const std::map<std::string, std::string>& saved,
                                                 const std::map<std::string, std::string>& now) {
  const auto differs = [&](const std::string& key) {
    return saved.count(key) > 0 && saved.at(key) != now.at(key);
  };
  const auto threads = [](const std::string& count) {
    return absl::StrCat(count, count == "1" ? " thread" : " threads");
  };
  std::vector<std::string> notes;
  if (differs("threads") && now.count("threads") > 0) {
    notes.push_back(absl::StrCat(
        "--resume: this run computes with ", threads(now.at("threads")), ", the checkpoint's "
        "run used ", saved.at("threads"), " (OMP_NUM_THREADS, or the CPUs it may use): sums split "
        "among threads round differently, so the losses follow an uninterrupted run's only to "
        "rounding"));
  }
  if (differs("train_examples")) {
    notes.push_back(absl::StrCat(
        "--resume: the training set has ", now.at("train_examples"), " images, the checkpoint's "
        "run had ", saved.at("train_examples"), ": the batches from here on are not an "
        "uninterrupted run's"));
  } else if (differs(kTrainFingerprint)) {
    notes.push_back(absl::StrCat(
        "--resume: the training set's images or labels are not the checkpoint's run's (the same "
        "count, ", now.at("train_examples"), "): the batches from here on are not an "
        "uninterrupted run's"));
  }
  return notes;
}

// How an update's batch is cut: into `per_update` micro-batches, `per_process` of them for each
// process, this process's starting at `first`.
struct MicroBatching {
  int64_t per_update, per_process, first;
};

absl::StatusOr<MicroBatching> micro_batching(const RunConfig& config, const Communicator& world) {
  const int64_t processes = world.size();
  const int64_t per_update = (config.batch_split() + processes - 1) / processes * processes;
  if (config.batch() % per_update != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--batch=", config.batch(), " does not split into ", per_update, " micro-batches (",
        "--batch_split=", config.batch_split(), " rounded up to a multiple of the ", processes,
        " processes)"));
  }
  const int64_t per_process = per_update / processes;
  return MicroBatching{per_update, per_process, world.rank() * per_process};
}

// "all-reduce: 3.1 s of 60.2 s training, 0.4 s of it exposed (87% hidden behind backward)".
std::string all_reduce_line(const ReducerStats& stats, double train_seconds) {
  const double hidden = stats.all_reduce_seconds > 0
                            ? 1 - stats.exposed_seconds / stats.all_reduce_seconds
                            : 0;
  return absl::StrFormat(
      "all-reduce: %.2f s of %.2f s training (%d updates, %d buckets each), %.2f s of it exposed "
      "(%.0f%% hidden behind backward)",
      stats.all_reduce_seconds, train_seconds, stats.updates, stats.buckets_per_update,
      stats.exposed_seconds, 100 * std::max(0.0, hidden));
}

// Whether rank 0's metrics file `path` holds test results for `step`, told to every rank: a run
// stopped by a test image that did not decode checkpointed that step without them. Unreadable or
// absent counts as held (nothing to redo).
bool test_results_logged(Communicator& world, const std::string& path, int64_t step) {
  uint8_t logged = 1;
  if (world.is_root()) {
    absl::StatusOr<std::vector<std::pair<int64_t, Scalars>>> lines = read_metrics(path);
    logged = !lines.ok() ||
             std::any_of(lines->begin(), lines->end(), [step](const auto& line) {
               return line.first == step &&
                      std::any_of(line.second.begin(), line.second.end(),
                                  [](const auto& scalar) { return scalar.first == "test/top1"; });
             });
  }
  world.broadcast(&logged, 1, 0);
  return logged != 0;
}

}  // namespace

absl::StatusOr<FinetunePlan> plan_finetune(const RunConfig& config, const ImageSet& train) {
  absl::StatusOr<Resolution> resolution = resolution_for(train, config.resolution());
  if (!resolution.ok()) return resolution.status();
  const std::string& augment = config.augment();
  if (augment == "shift" || augment == "flip" || augment == "inception") {
    resolution->precrop = resolution->crop;
    if (augment == "shift") resolution->shift = std::max<int64_t>(1, resolution->crop / 8);
    if (augment == "inception") resolution->min_box_area = kInceptionMinBoxArea;
  }
  const int64_t n = train.size();
  const int64_t steps =
      config.steps() > 0 ? config.steps() : bit_hyperrule_schedule(n).total_steps();
  WarmupStaircase schedule = config.schedule() == "constant"
                                 ? WarmupStaircase(config.base_lr(), 0, {}, steps)
                             : config.schedule() == "upstream"
                                 ? bit_upstream_schedule(config.base_lr(), steps)
                                 : bit_hyperrule_schedule(n, config.base_lr(), steps);
  const double alpha =
      config.mixup_alpha() >= 0 ? config.mixup_alpha() : bit_hyperrule_mixup_alpha(n);
  return FinetunePlan{steps, alpha, *resolution, schedule};
}

EvalOptions eval_options(const RunConfig& config, int64_t resolution) {
  EvalOptions options;
  options.resolution = resolution;
  options.batch = config.eval_batch() > 0 ? config.eval_batch() : config.batch();
  options.workers = config.workers();
  options.loss_of = loss_function(config);
  options.flip = config.eval_flip();
  return options;
}

namespace {

// The loader of this process's micro-batches: the loader's steps are micro-batches, and this
// process takes its run of each update's, from the update `first_update` on.
absl::StatusOr<std::unique_ptr<Loader>> open_train_loader(const ImageSet& train,
                                                          const RunConfig& config,
                                                          const FinetunePlan& plan,
                                                          const MicroBatching& micro,
                                                          int64_t first_update) {
  LoaderOptions options;
  options.batch_size = config.batch() / micro.per_update;
  options.resolution = plan.resolution;
  options.augment = config.augment() != "none";
  options.shuffle = config.shuffle();
  options.seed = config.seed();
  options.shard = {micro.per_update, micro.first, micro.per_process};
  options.first_step = first_update * micro.per_update + micro.first;
  options.workers = config.workers();
  return Loader::open(train, options);
}

// What data parallelism adds to a run of several processes: the gradient all-reduce (through
// NCCL for a model on a GPU) and this process's part of each update. Not moved once started
// (the shard points at the reducer).
struct DataParallel {
  std::unique_ptr<DeviceAllReduce> gpu_sum;
  std::optional<GradientReducer> reducer;
  std::optional<DataParallelShard> shard;

  DataParallel() = default;
  DataParallel(const DataParallel&) = delete;
  DataParallel& operator=(const DataParallel&) = delete;

  absl::Status start(BitResNetV2& model, Communicator& world, const RunConfig& config,
                     const MicroBatching& micro) {
    if (model.device().is_cuda()) {
      absl::StatusOr<std::unique_ptr<DeviceAllReduce>> nccl =
          open_gpu_all_reduce(world, model.device().index);
      if (!nccl.ok()) {
        return absl::Status(nccl.status().code(),
                            absl::StrCat("--device=cuda with ", world.size(), " processes: ",
                                         nccl.status().message()));
      }
      gpu_sum = std::move(*nccl);
    }
    std::vector<Tensor> parameters;
    for (const auto& [name, parameter] : model.named_parameters()) parameters.push_back(parameter);
    const int64_t bucket_bytes = config.bucket_mb() > 0
                                     ? static_cast<int64_t>(config.bucket_mb() * (1 << 20))
                                     : kDefaultBucketBytes;
    reducer.emplace(std::move(parameters), world, bucket_bytes, gpu_sum.get());
    shard = DataParallelShard{&world, &*reducer, micro.first, micro.per_update};
    return absl::OkStatus();
  }
};

// One run of finetune(), from its setup to its result: what the training loop and the
// evaluations share. open() sets it up (the run directory, --resume, the metrics, the loader,
// data parallelism), then train() runs the loop.
class FinetuneRun {
 public:
  FinetuneRun(BitResNetV2& model, const Dataset& data, const RunConfig& config,
              const FinetunePlan& plan, const MicroBatching& micro, Communicator& world,
              std::ostream& out, std::optional<Checkpoint> resumed)
      : model_(model),
        data_(data),
        config_(config),
        plan_(plan),
        micro_(micro),
        world_(world),
        out_(out),
        sgd_(model.named_parameters(),
             SgdOptions{.lr = 0.0, .momentum = 0.9, .weight_decay = config.weight_decay()}),
        generator_(derive_seed(config.seed(), SeedPurpose::kMixup, 0)),
        mixup_(plan.mixup_alpha),
        state_{&model, &sgd_, &generator_, 0, run_config_text(config)},
        files_(!config.out().empty() && world.is_root()),
        checkpoint_(checkpoint_path(config.out())),
        metrics_file_(metrics_path(config.out())),
        knows_checkpoint_(files_),
        resumed_(std::move(resumed)) {}

  absl::Status open() {
    if (files_) {
      absl::StatusOr<RunDirectory> opened = RunDirectory::open(config_.out());
      if (!opened.ok()) return opened.status();
      run_dir_.emplace(*std::move(opened));
    }
    // Only the process that writes the checkpoints records them (a pass over every image for
    // the fingerprint), and it alone compares them with its checkpoint's.
    const std::map<std::string, std::string> facts =
        files_ ? run_facts(data_.train, model_.device()) : std::map<std::string, std::string>();
    if (config_.resume()) {
      if (absl::Status status = resume_from(std::exchange(resumed_, std::nullopt), checkpoint_,
                                            config_, data_.train.class_names, state_);
          !status.ok()) {
        return status;
      }
      out_ << "resumed " << checkpoint_ << " at step " << state_.step << "\n";
      if (files_) {
        for (const std::string& note : resumed_run_differences(state_.run_facts, facts)) {
          out_ << "note: " << note << "\n";
        }
      }
      saved_step_ = state_.step;
    }
    state_.run_facts = facts;
    // Also after --resume: older checkpoints lack them.
    state_.class_names = data_.train.class_names;
    state_.input_resolution = plan_.resolution.crop;
    absl::StatusOr<MetricsLog> metrics =
        MetricsLog::open(files_ ? metrics_file_ : "", config_.resume() ? state_.step : -1);
    if (!metrics.ok()) return metrics.status();
    metrics_.emplace(*std::move(metrics));
    for (const std::string& note : metrics_->notes()) out_ << "note: " << note << "\n";
    absl::StatusOr<std::unique_ptr<Loader>> loader =
        open_train_loader(data_.train, config_, plan_, micro_, state_.step);
    if (!loader.ok()) return loader.status();
    loader_ = *std::move(loader);
    if (world_.size() > 1) return data_parallel_.start(model_, world_, config_, micro_);
    return absl::OkStatus();
  }

  // What the run is, before its first progress line.
  void print_header() {
    const std::string micro_batches =
        micro_.per_update > 1 ? absl::StrFormat(" in %d micro-batches", micro_.per_update) : "";
    out_ << absl::StrFormat(
        "training: %d images, %d classes, %dx%d inputs (train path %s), batch %d%s, %d update%s, "
        "base lr %g (%s), mixup alpha %g, weight decay %g%s\n",
        data_.train.size(), data_.train.num_classes(), plan_.resolution.crop,
        plan_.resolution.crop, config_.augment(), config_.batch(), micro_batches, plan_.steps,
        plan_.steps == 1 ? "" : "s", config_.base_lr(), config_.schedule(), plan_.mixup_alpha,
        config_.weight_decay(), loss_name(config_) == kSigmoidLoss ? ", sigmoid loss" : "");
    if (files_) {
      const int64_t every = config_.eval_every();
      out_ << "checkpoint: " << checkpoint_
           << (every > 1    ? absl::StrFormat(" every %d updates and at the end\n", every)
               : every == 1 ? " after every update\n"
                            : " at the end only (--eval_every=N also writes one every N updates, "
                              "for --resume)\n");
    }
    if (data_parallel_.reducer) {
      out_ << absl::StrFormat(
          "data parallel: %d processes, %d micro-batch(es) of %d images each; gradients "
          "all-reduced in %d buckets (%.1f MiB per update)\n",
          world_.size(), micro_.per_process, config_.batch() / micro_.per_update,
          data_parallel_.reducer->num_buckets(),
          data_parallel_.reducer->stats().bytes_per_update / double(1 << 20));
    }
    out_ << std::flush;  // a log file shows what the run is before its first progress line
  }

  // The training loop: plan_.steps updates from the step the run starts at, evaluating and
  // checkpointing at each eval step.
  absl::StatusOr<FinetuneResult> train() {
    // mpirun hands its processes a terminal even when its own output goes to a file: lines then.
    const bool terminal = &out_ == &std::cout && stdout_is_terminal() && world_.size() == 1;
    ProgressMeter progress(plan_.steps, config_.batch(), terminal ? 0.5 : 10.0, out_);
    progress.set_one_line(terminal);
    progress_ = &progress;
    test_images_ = eval_image_cache(data_.test, plan_.resolution.crop);
    const int64_t first_step = state_.step;
    if (config_.resume() && is_eval_step(state_.step) &&
        !test_results_logged(world_, files_ ? metrics_file_ : "", state_.step)) {
      // The run stopped in that evaluation (a test image that did not decode, say).
      if (absl::Status status = evaluate_and_save(state_.step, true); !status.ok()) {
        return stopped(status);
      }
    }
    progress.restart(state_.step);
    progress.set_pauses_left(evaluations_after(state_.step));
    DataParallelShard* shard = data_parallel_.shard ? &*data_parallel_.shard : nullptr;
    // Only around the updates: a signal in the final evaluation ends the process as before.
    std::optional<StopOnSignals> signals;
    if (world_.size() == 1) signals.emplace();
    std::optional<CpuContentionWatch> contention;
    if (model_.device().is_cpu() && world_.is_root()) contention.emplace(omp_get_max_threads());
    for (int64_t step = state_.step; step < plan_.steps;) {
      const Clock::time_point start = Clock::now();
      std::vector<Batch> micro_batches;
      for (int64_t m = 0; m < micro_.per_process; ++m) {
        absl::StatusOr<Batch> batch = loader_->next();
        if (!batch.ok()) {  // an image that does not decode, say: fix it, then --resume
          progress.end_line();
          return stopped(batch.status());
        }
        micro_batches.push_back(*std::move(batch));
      }
      const double lr = *plan_.schedule.lr(step);
      absl::StatusOr<double> loss = train_update(model_, sgd_, lr, micro_batches, mixup_,
                                                 generator_, shard, loss_function(config_));
      pace_update_for_tests(start);
      ++step;
      if (!loss.ok()) {
        progress.end_line();
        // InvalidArgument: non-finite values (train/update.h); else out of memory, say.
        return stopped(absl::Status(loss.status().code(),
                                    absl::StrCat("step ", step, ": ", loss.status().message())),
                       absl::IsInvalidArgument(loss.status()));
      }
      result_.train_seconds += seconds_since(start);
      if (absl::Status s = metrics_->log(step, {{"train/loss", *loss}, {"train/lr", lr}});
          !s.ok()) {
        return stopped(s);
      }
      progress.update(step, *loss, lr);
      if (const std::string note = contention ? contention->poll() : ""; !note.empty()) {
        progress.end_line();
        out_ << "note: " << note << "\n";
      }
      if (is_eval_step(step)) {
        if (absl::Status status = evaluate_and_save(step, true); !status.ok()) {
          return stopped(status);
        }
        progress.end_pause();
      }
      if (const int signal = signals ? signals->received() : 0; signal != 0) {
        // After the last update too: its checkpoint has everything, and --resume finishes.
        progress.end_line();
        if (saved_step_ != step) {
          if (absl::Status saved = save(step); !saved.ok()) return stopped(saved);
        }
        return stopped(stopped_by_signal(
            signal, absl::StrCat("stopped by ", signal_name(signal), " after update ", step)));
      }
    }
    signals.reset();
    if (last_eval_ != plan_.steps) {  // resumed from the final checkpoint: its results are logged
      if (absl::Status status = evaluate_and_save(plan_.steps, false); !status.ok()) {
        return status;
      }
    }
    result_.steps = plan_.steps;
    result_.resumed_at = first_step;
    result_.resolution = plan_.resolution.crop;
    const int64_t images = (plan_.steps - first_step) * config_.batch();
    result_.images_per_second = result_.train_seconds > 0 ? images / result_.train_seconds : 0;
    if (data_parallel_.reducer) {
      result_.all_reduce = data_parallel_.reducer->stats();
      out_ << all_reduce_line(result_.all_reduce, result_.train_seconds) << "\n";
    }
    return result_;
  }

 private:
  bool is_eval_step(int64_t step) const {
    return step == plan_.steps ||
           (config_.eval_every() > 0 && step > 0 && step % config_.eval_every() == 0);
  }

  // The evaluations after update `step`: every eval_every-th update's, and the last update's.
  int64_t evaluations_after(int64_t step) const {
    if (step >= plan_.steps) return 0;
    const int64_t every = config_.eval_every();
    if (every <= 0) return 1;
    return plan_.steps / every - step / every + (plan_.steps % every != 0 ? 1 : 0);
  }

  // `status`, with what the failure leaves behind: rank 0's checkpoint, which it writes (the
  // others learn of it only where they wait for it). `diverged`: --resume would repeat the
  // failure, which only other settings avoid.
  absl::Status stopped(const absl::Status& status, bool diverged = false) const {
    const std::string next = diverged ? ", but the same settings would diverge again from it: "
                                        "start a new run (another --out) with a lower --base_lr"
                                      : ", --resume continues from it";
    const std::string kept =
        !knows_checkpoint_ ? "" : saved_step_ < 0 ? "; no checkpoint was written yet"
                                      : absl::StrCat("; ", checkpoint_, " (step ", saved_step_,
                                                     ") is intact", next);
    absl::Status with_kept(status.code(), absl::StrCat(status.message(), kept));
    status.ForEachPayload([&](absl::string_view url, const absl::Cord& payload) {
      with_kept.SetPayload(url, payload);  // the signal that stopped the run (stop_signals.h)
    });
    return with_kept;
  }

  // Evaluates at `step`; with `record`, logs the results and checkpoints (false when they are on
  // disk already).
  absl::Status evaluate_and_save(int64_t step, bool record) {
    progress_->end_line();
    EvalOptions options = eval_options(config_, plan_.resolution.crop);
    options.world = &world_;
    options.progress.out = world_.is_root() ? &out_ : nullptr;
    options.decoded = test_images_.get();
    absl::StatusOr<EvalResult> test = evaluate(model_, data_.test, options);
    if (!test.ok()) {
      // A test image that does not decode is met here first: keep the updates made, so that the
      // run resumes from them once it is fixed (and evaluates this step then).
      if (record) save(step).IgnoreError();  // the evaluation's error is the one to report
      if (world_.size() > 1) {  // every process failed (evaluate): none aborts before the save
        double saved = world_.is_root() ? static_cast<double>(saved_step_ + 1) : 0.0;
        world_.all_reduce_sum(&saved, 1);
        saved_step_ = static_cast<int64_t>(saved) - 1;  // so that each one's message says it
        knows_checkpoint_ = !config_.out().empty();
      }
      return test.status();
    }
    result_.test = *test;
    last_eval_ = step;
    out_ << absl::StrFormat("step %d: test %s, loss %.4f (%d images)\n", step,
                            accuracy_text(*test), test->loss, test->examples)
         << std::flush;  // in a log before the process can be killed, as the checkpoint is
    if (!record) return absl::OkStatus();
    absl::Status logged = metrics_->log(
        step, {{"test/top1", test->top1}, {"test/top5", test->top5}, {"test/loss", test->loss}});
    if (!logged.ok()) return logged;
    return save(step);
  }

  // Checkpoints the run after update `step`, once the lines logged before it are on the disk.
  absl::Status save(int64_t step) {
    if (!files_) return absl::OkStatus();
    if (absl::Status synced = metrics_->sync(); !synced.ok()) return synced;
    state_.step = step;
    if (absl::Status saved = save_train_state(checkpoint_, state_); !saved.ok()) return saved;
    saved_step_ = step;
    return absl::OkStatus();
  }

  BitResNetV2& model_;
  const Dataset& data_;
  const RunConfig& config_;
  const FinetunePlan& plan_;
  const MicroBatching micro_;
  Communicator& world_;
  std::ostream& out_;
  Sgd sgd_;
  Generator generator_;
  Mixup mixup_;
  TrainState state_;
  const bool files_;  // this process writes config.out: rank 0, when there is one
  const std::string checkpoint_, metrics_file_;
  std::optional<RunDirectory> run_dir_;  // held, and so locked, until the run ends
  std::optional<MetricsLog> metrics_;
  std::unique_ptr<Loader> loader_;
  DataParallel data_parallel_;
  ProgressMeter* progress_ = nullptr;  // train()'s
  std::unique_ptr<DecodedImageCache> test_images_;
  // What a failure leaves behind, for its message: rank 0's last checkpoint step (-1: none).
  int64_t saved_step_ = -1;
  bool knows_checkpoint_;
  std::optional<Checkpoint> resumed_;  // --resume's checkpoint as given, until open() restores it
  int64_t last_eval_ = -1;
  FinetuneResult result_;
};

}  // namespace

absl::StatusOr<FinetuneResult> finetune(BitResNetV2& model, const Dataset& data,
                                        const RunConfig& config, std::ostream& out,
                                        Communicator* world_or_null,
                                        std::optional<Checkpoint> resumed) {
  absl::StatusOr<FinetunePlan> plan = plan_finetune(config, data.train);
  if (!plan.ok()) return plan.status();
  if (model.config().head_size != data.train.num_classes()) {
    return absl::InvalidArgumentError(absl::StrCat(
        config.resume() ? resumed_on_other_classes(config) + ": its model's head has "
                        : "the model's head has ",
        model.config().head_size, " outputs, ", data.train.source, " has ",
        data.train.num_classes(), " classes"));
  }
  SingleProcess one_process;
  Communicator& world = world_or_null != nullptr ? *world_or_null : one_process;
  absl::StatusOr<MicroBatching> micro = micro_batching(config, world);
  if (!micro.ok()) return micro.status();
  if (!config.resume()) resumed.reset();  // not held through a run that does not resume
  FinetuneRun run(model, data, config, *plan, *micro, world, out, std::move(resumed));
  if (absl::Status status = run.open(); !status.ok()) return status;
  run.print_header();
  return run.train();
}

}  // namespace bitgrad
