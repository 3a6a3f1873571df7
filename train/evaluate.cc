#include "train/evaluate.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <numeric>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "autograd/grad_mode.h"
#include "core/stopwatch.h"
#include "data/loader.h"
#include "io/utf8.h"
#include "models/predict.h"
#include "ops/loss.h"
#include "train/progress.h"

namespace bitgrad {
namespace {

// The label's rank among `row`'s K logits in top_k's order (ranks_before), 0 = top: equal
// logits rank in class order, so a constant row (a zeroed head) is right for class 0 alone, not
// for every label. A row holding a NaN has no rank (kUnranked), wrong at every k, even k > K: a
// diverged model scores 0%.
constexpr int64_t kUnranked = std::numeric_limits<int64_t>::max();
int64_t rank_of_label(const float* row, int64_t num_classes, int64_t label) {
  if (std::any_of(row, row + num_classes, [](float v) { return std::isnan(v); })) {
    return kUnranked;
  }
  int64_t rank = 0;
  for (int64_t c = 0; c < num_classes; ++c) rank += ranks_before(row, c, label);
  return rank;
}

// The eval path over `set` once, in file order.
LoaderOptions eval_loader_options(int64_t resolution, int64_t batch, int workers) {
  LoaderOptions options;
  options.batch_size = batch;
  options.resolution = {resolution, resolution};
  options.augment = false;
  options.single_pass = true;
  options.workers = workers;
  return options;
}

// "  (as Pullover 21.30%, Coat 14.10%)": the two classes `label`'s examples were most often
// taken for (fewer when fewer were), as fractions of its examples; "" for none.
template <typename NameOf>
std::string mistaken_for(int64_t label, const EvalResult& result, const NameOf& name) {
  const int64_t k = static_cast<int64_t>(result.class_examples.size());
  const int64_t* row = result.confusion.data() + label * k;
  std::vector<int64_t> others;
  for (int64_t c = 0; c < k; ++c) {
    if (c != label && row[c] > 0) others.push_back(c);
  }
  std::stable_sort(others.begin(), others.end(), [&](int64_t a, int64_t b) {
    return row[a] > row[b];
  });
  if (others.size() > 2) others.resize(2);
  std::vector<std::string> parts;
  for (int64_t c : others) {
    parts.push_back(absl::StrFormat("%s %.2f%%", name(c),
                                    100.0 * row[c] / result.class_examples[label]));
  }
  return parts.empty() ? "" : absl::StrCat("  (as ", absl::StrJoin(parts, ", "), ")");
}

// `status` of process `root`, as every process gets it.
absl::Status shared_status(Communicator& world, int root, const absl::Status& status) {
  int64_t code = static_cast<int64_t>(status.code());
  world.broadcast(&code, sizeof(code), root);
  return absl::Status(static_cast<absl::StatusCode>(code),
                      world.broadcast_text(std::string(status.message()), root));
}

}  // namespace

std::unique_ptr<DecodedImageCache> eval_image_cache(const ImageSet& set, int64_t resolution) {
  const LoaderOptions options = eval_loader_options(resolution, 1, 1);
  return std::make_unique<DecodedImageCache>(set, decode_size(options),
                                             options.decoded_cache_bytes);
}

absl::StatusOr<EvalResult> evaluate(BitResNetV2& model, const ImageSet& set,
                                    const EvalOptions& options) {
  LoaderOptions loading = eval_loader_options(options.resolution, options.batch, options.workers);
  loading.shared_decoded = options.decoded;
  Communicator* const world = options.world;
  if (world != nullptr) {
    loading.shard = {world->size(), world->rank(), 1};
    loading.first_step = world->rank();
  }
  absl::StatusOr<std::unique_ptr<Loader>> loader = Loader::open(set, loading);
  absl::Status failed = loader.status();  // or a test image that does not decode, below

  NoGradGuard no_grad;
  model.eval();
  EvalResult result;
  result.head_classes = model.config().head_size;
  result.flip = options.flip;
  const int64_t num_classes = set.num_classes();
  result.class_examples.assign(num_classes, 0);
  result.class_top1.assign(num_classes, 0);
  if (num_classes <= kMaxConfusionClasses) result.confusion.assign(num_classes * num_classes, 0);
  double loss_sum = 0;
  int64_t top5 = 0, seen = 0;  // top-1 and the totals follow from the counts by class
  const int64_t steps = loader.ok() ? (*loader)->num_steps() : 0;
  const SteadyClock::time_point start = SteadyClock::now();
  SteadyClock::time_point last_line = start;
  for (int64_t step = 0; step < steps; ++step) {
    absl::StatusOr<Batch> b = (*loader)->next();
    if (!b.ok()) {
      failed = b.status();
      break;
    }
    const Tensor logits = batch_logits(model, b->images, options.flip);
    const int64_t n = logits.shape()[0], k = logits.shape()[1];
    loss_sum += options.loss_of(logits, b->labels.to(logits.device())).item<double>() * n;
    const std::vector<float> values = logits.to_vector<float>();
    const std::vector<int64_t> labels = b->labels.to_vector<int64_t>();
    for (int64_t i = 0; i < n; ++i) {
      const int64_t rank = rank_of_label(values.data() + i * k, k, labels[i]);
      top5 += rank < 5;
      result.class_examples[labels[i]] += 1;
      result.class_top1[labels[i]] += rank < 1;
      if (!result.confusion.empty() && rank != kUnranked) {  // a NaN row predicts no class
        const float* row = values.data() + i * k;  // the first maximum, as in the rank
        const int64_t top = std::max_element(row, row + k) - row;
        if (top < num_classes) ++result.confusion[labels[i] * num_classes + top];
      }
    }
    seen += n;
    if (options.progress.out != nullptr && step + 1 < steps &&
        seconds_since(last_line) >= options.progress.every_seconds) {
      const double elapsed = seconds_since(start);
      *options.progress.out << absl::StrFormat(
          "eval: batch %d/%d, %.1f images/s, ETA %s\n", step + 1, steps,
          seen / elapsed, format_duration(seconds_left(elapsed, step + 1, steps)));
      last_line = SteadyClock::now();
    }
  }
  model.train();
  if (world == nullptr && !failed.ok()) return failed;
  if (world != nullptr) {  // the totals over the processes, and which processes failed
    std::vector<double> sums(world->size(), 0.0);
    if (!failed.ok()) sums[world->rank()] = 1;
    sums.insert(sums.end(), {loss_sum, static_cast<double>(top5)});
    std::vector<int64_t>* const counts[] = {&result.class_examples, &result.class_top1,
                                            &result.confusion};
    for (const std::vector<int64_t>* count : counts) {
      sums.insert(sums.end(), count->begin(), count->end());
    }
    world->all_reduce_sum(sums.data(), static_cast<int64_t>(sums.size()));
    // Every process returns the first failing one's error, so that none waits for another in a
    // collective, rank 0 can checkpoint first (train/finetune.cc), and whichever process's
    // message ends the job names the file.
    const auto first_failed = std::find(sums.begin(), sums.begin() + world->size(), 1.0);
    if (first_failed != sums.begin() + world->size()) {
      return shared_status(*world, static_cast<int>(first_failed - sums.begin()), failed);
    }
    loss_sum = sums[world->size()];
    top5 = static_cast<int64_t>(sums[world->size() + 1]);
    size_t next = world->size() + 2;
    for (std::vector<int64_t>* count : counts) {
      for (int64_t& value : *count) value = static_cast<int64_t>(sums[next++]);
    }
  }
  result.examples = std::accumulate(result.class_examples.begin(), result.class_examples.end(),
                                    int64_t{0});
  const int64_t top1 =
      std::accumulate(result.class_top1.begin(), result.class_top1.end(), int64_t{0});
  if (result.examples > 0) {
    result.top1 = static_cast<double>(top1) / result.examples;
    result.top5 = static_cast<double>(top5) / result.examples;
    result.loss = loss_sum / result.examples;
  }
  return result;
}

std::string accuracy_text(const EvalResult& result) {
  std::string text = absl::StrFormat("top-1 %.2f%%", 100 * result.top1);
  if (result.head_classes > 5) absl::StrAppendFormat(&text, ", top-5 %.2f%%", 100 * result.top5);
  if (result.flip) text += " (flip-averaged)";
  return text;
}

std::string per_class_report(const EvalResult& result, const std::vector<std::string>& class_names,
                             int most) {
  std::vector<int64_t> classes;  // those with examples, weakest first, ties in class order
  for (size_t c = 0; c < result.class_examples.size(); ++c) {
    if (result.class_examples[c] > 0) classes.push_back(static_cast<int64_t>(c));
  }
  const auto accuracy = [&](int64_t c) {
    return static_cast<double>(result.class_top1[c]) / result.class_examples[c];
  };
  std::stable_sort(classes.begin(), classes.end(),
                   [&](int64_t a, int64_t b) { return accuracy(a) < accuracy(b); });
  const size_t shown = std::min(classes.size(), static_cast<size_t>(std::max(most, 0)));
  if (shown == 0) return "";
  const auto name = [&](int64_t c) {
    const bool named = c < static_cast<int64_t>(class_names.size());
    return named ? class_names[c] : absl::StrCat("class ", c);
  };
  size_t width = 0;
  for (size_t i = 0; i < shown; ++i) width = std::max(width, utf8_characters(name(classes[i])));
  std::string report = "top-1 by class, weakest first";
  if (shown < classes.size()) {
    absl::StrAppend(&report, " (", shown, " of ", classes.size(), " shown)");
  }
  report += ":\n";
  const int64_t k = static_cast<int64_t>(result.class_examples.size());
  for (size_t i = 0; i < shown; ++i) {
    const int64_t c = classes[i];
    absl::StrAppendFormat(&report, "  %s%s  %6.2f%%  of %d", name(c),
                          std::string(width - utf8_characters(name(c)), ' '), 100 * accuracy(c),
                          result.class_examples[c]);
    if (result.confusion.size() == static_cast<size_t>(k * k)) {
      report += mistaken_for(c, result, name);
    }
    report += "\n";
  }
  return report;
}

}  // namespace bitgrad
