// Fine-tunes a BiT ResNet-v2 with the BiT-HyperRule (docs/bit_finetune.md).
//
//   bazel run //examples:bit_finetune      # the embedded transfer experiment on Fashion-MNIST
//   bazel run //examples:bit_finetune -- --weights=BiT-M-R50x1.npz --dataset=folder:$HOME/pets
//       --examples_per_class=10 --batch=64 --out=/tmp/pets --save_weights=/tmp/pets/final.npz
//   (one command line)
//
// Every flag but --config is a field of train/run_config.proto; a --config textproto may set
// any of them, and flags set to other values than their defaults win.
//
// Data parallel over N processes (docs/scale_out.md): the same command under mpirun, e.g.
//   mpirun -np 2 bazel-bin/examples/bit_finetune --weights=... --dataset=... --out=/tmp/run
// Every process trains a replica on its share of each update; rank 0 prints and writes --out.
#include <exception>
#include <iostream>
#include <new>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/internal/parse.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/check.h"
#include "dist/world.h"
#include "examples/common/invocation.h"
#include "io/atomic_file.h"
#include "train/run.h"
#include "train/run_config.h"
#include "train/transfer_experiment.h"

ABSL_FLAG(std::string, config, "", "a RunConfig textproto (train/run_config.proto); flags win");
ABSL_FLAG(std::string, weights, "",
          "official BiT .npz, bitgrad checkpoint, or \"random\"; empty: the embedded transfer "
          "experiment on Fashion-MNIST");
ABSL_FLAG(std::string, model, bitgrad::kDefaultModel,
          "architecture for --weights=random; with a file, a check that it holds this one");
ABSL_FLAG(int64_t, base_width, 0,
          "root width before the width factor, for --weights=random or a narrowed model's .npz; "
          "0: the official 64");
ABSL_FLAG(int64_t, num_groups, 0,
          "GroupNorm groups, for --weights=random or a narrowed model's .npz; 0: the official 32");
ABSL_FLAG(bool, zero_head, false,
          "zero the head even when it already has the dataset's class count");
ABSL_FLAG(std::string, dataset, "fashion_mnist",
          "fashion_mnist[:DIR], mnist:DIR, cifar10:DIR, cifar100:DIR, folder:DIR or npz:FILE");
ABSL_FLAG(int64_t, examples_per_class, 0, "few-shot: training examples per class; 0: all");
ABSL_FLAG(double, test_fraction, 0,
          "with --dataset=folder:DIR holding the class folders itself (no train/, test/): the "
          "fraction of each class held out as the test split, picked by file name");
ABSL_FLAG(int64_t, batch, 512, "images per optimizer update");
ABSL_FLAG(int64_t, batch_split, 1, "micro-batches per update (gradients accumulate)");
ABSL_FLAG(int64_t, steps, 0, "optimizer updates; 0: the HyperRule's for the training-set size");
ABSL_FLAG(double, base_lr, 0.003, "learning rate after warmup");
ABSL_FLAG(std::string, schedule, "hyperrule",
          "hyperrule (stretched to --steps), upstream (BiT's upstream training: lr / 10 at 1/3, "
          "2/3 and 8/9 of --steps), or constant");
ABSL_FLAG(double, mixup_alpha, -1, "mixup Beta(alpha, alpha); negative: the HyperRule's");
ABSL_FLAG(double, weight_decay, 0,
          "L2 added to every gradient; 0 as in BiT fine-tuning (its upstream training: 1e-4)");
ABSL_FLAG(std::string, loss, "",
          "softmax cross-entropy, or sigmoid (one binary classifier per class, as BiT-M's upstream "
          "training); empty: softmax, or with --eval_only the loss a checkpoint's run trained "
          "with");
ABSL_FLAG(std::string, augment, "bit",
          "bit (resize, random crop, flip), shift (translate by up to 1/8, flip), flip, inception "
          "(BiT's upstream crops: 8-100% of the area, resized; flip), or none (the eval path)");
ABSL_FLAG(int64_t, resolution, 0, "model input size; 0: the HyperRule's (128 or 480)");
ABSL_FLAG(bool, shuffle, true, "a fresh order each epoch; false: file order");
ABSL_FLAG(uint64_t, seed, 0, "initialisation, few-shot draw, order, augmentation, mixup");
ABSL_FLAG(int32_t, workers, 2, "data loader threads");
ABSL_FLAG(double, bucket_mb, 25,
          "under mpirun: gradients are all-reduced in buckets of about this many MiB");
ABSL_FLAG(std::string, device, "cpu",
          "cpu, or cuda (the GPU of this process's local rank under mpirun, else the first)");
ABSL_FLAG(std::string, dtype, "fp32",
          "fp32, or bf16: bf16 autocast of the convolutions (a GPU, or a CPU with AMX)");
ABSL_FLAG(int64_t, eval_every, 0, "evaluate and checkpoint every N updates; 0: at the end");
ABSL_FLAG(int64_t, eval_batch, 0, "images per evaluation batch; 0: --batch");
ABSL_FLAG(bool, eval_flip, false,
          "evaluations also run each image mirrored left-right and average the two logits "
          "(test-time augmentation; twice the evaluation time)");
ABSL_FLAG(std::string, out, "", "run directory for metrics.jsonl and checkpoint.ckpt");
ABSL_FLAG(bool, resume, false, "continue the run in --out from its checkpoint");
ABSL_FLAG(std::string, save_weights, "", "write the final model as an official-layout .npz");
ABSL_FLAG(bool, eval_only, false,
          "no training: top-1, top-5 and loss of --weights on the test split of --dataset");

namespace bitgrad {
namespace {

absl::Status run_in(Communicator& world) {
  // Abseil 20220623 tells "given on the command line" (a --flagfile's lines included) only
  // through this internal function, valid once ParseCommandLine has run, as it has here.
  absl::StatusOr<RunConfig> config = run_config_from_flags(
      absl::GetFlag(FLAGS_config), [](const std::string& flag) {
        return absl::flags_internal::WasPresentOnCommandLine(flag);
      });
  if (!config.ok()) return config.status();
  // The one file read that RunConfig does not name (run_finetune checks the others).
  if (absl::Status status =
          check_outputs_overwrite_nothing({{"--config", absl::GetFlag(FLAGS_config)}},
                                          save_weights_outputs(config->save_weights()));
      !status.ok()) {
    return status;
  }
  if (absl::Status status = check_device(*config); !status.ok()) return status;
  if (absl::Status status = check_eval_only_flags(*config); !status.ok()) return status;
  if (config->weights().empty()) {
    if (world.size() > 1) {
      return absl::InvalidArgumentError(
          "--weights: the embedded transfer experiment runs as one process; give --weights (a "
          ".npz, a checkpoint or \"random\") to train with several");
    }
    if (absl::Status status = check_transfer_experiment_flags(*config); !status.ok()) {
      return status;
    }
    return run_transfer_experiment(*config, std::cout).status();
  }
  std::ostream silent(nullptr);  // only rank 0 reports
  return run_finetune(*config, world.is_root() ? std::cout : silent, &world).status();
}

absl::Status run() {
  absl::StatusOr<std::unique_ptr<Communicator>> world = join_world();
  if (!world.ok()) return world.status();
  absl::Status status;
  try {
    status = run_in(**world);
  } catch (const OutOfMemoryError& error) {
    status = absl::ResourceExhaustedError(error.what());
  } catch (const std::bad_alloc&) {
    status = absl::ResourceExhaustedError("out of memory");
  } catch (const std::exception& error) {  // bitgrad::Error and the standard library's
    status = absl::InternalError(error.what());
  }
  if (absl::IsResourceExhausted(status)) {
    status = absl::ResourceExhaustedError(absl::StrCat(
        status.message(), " (lower --batch or --eval_batch, raise --batch_split, or lower "
        "--resolution)"));
  }
  // One process failing must not leave the others waiting in a collective forever.
  if (!status.ok() && (*world)->size() > 1) (*world)->abort(std::string(status.message()));
  return status;
}

}  // namespace
}  // namespace bitgrad

int main(int argc, char** argv) {
  return bitgrad::run_program(
      argc, argv,
      "bit_finetune [--weights=BiT-M-R50x1.npz --dataset=folder:DIR] [--out=RUN_DIR] "
      "(no flags: the embedded Fashion-MNIST transfer experiment)",
      bitgrad::run);
}
