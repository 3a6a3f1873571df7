// Writes the seed files that need code to make into tests/fuzz/corpus/: small valid inputs of
// each format, from which libFuzzer mutates. The .npy, .npz and image seeds are copies of the
// test fixtures (tests/io/testdata, tests/data/testdata). Run it from the workspace:
//   bazel run //tests/fuzz:make_seed_corpora
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "io/npz.h"
#include "models/bit_resnet_v2.h"
#include "models/checkpoint.h"
#include "models/train_state.h"
#include "tests/data/idx_bytes.h"
#include "train/run_config.h"

using namespace bitgrad;

namespace {

std::string corpus_dir;

void write(const std::string& path, const std::string& bytes) {
  std::ofstream out(corpus_dir + "/" + path, std::ios::binary | std::ios::trunc);
  out << bytes;
  if (!out) {
    std::fprintf(stderr, "cannot write %s/%s\n", corpus_dir.c_str(), path.c_str());
    std::exit(1);
  }
}

void exit_on_error(const absl::Status& status) {
  if (status.ok()) return;
  std::fprintf(stderr, "%s\n", std::string(status.message()).c_str());
  std::exit(1);
}

std::string little_endian32(uint32_t v) {
  return {char(v), char(v >> 8), char(v >> 16), char(v >> 24)};
}

// idx_fuzzer's input: the image file's length, the image file, the label file.
void write_idx_seed(const std::string& name, uint32_t count, uint32_t rows, uint32_t cols) {
  std::string pixels, label_bytes;
  for (uint32_t i = 0; i < count * rows * cols; ++i) pixels += char(i * 37);
  for (uint32_t i = 0; i < count; ++i) label_bytes += char(i % 10);
  const std::string images = bitgrad::testing::idx_images_file(count, rows, cols, pixels);
  const std::string labels = bitgrad::testing::idx_labels_file(label_bytes);
  write(name, little_endian32(images.size()) + images + labels);
}

// cifar_fuzzer's input: a kind byte (0: CIFAR-10, 1: CIFAR-100), then records.
void write_cifar_seed(const std::string& name, int kind, int records) {
  std::string bytes(1, char(kind));
  for (int r = 0; r < records; ++r) {
    if (kind == 1) bytes += char(r % 20);
    bytes += char(r % 10);
    for (int i = 0; i < 3072; ++i) bytes += char((i + r) % 251);
  }
  write(name, bytes);
}

void write_checkpoint_seed(const std::string& name, bool with_optimizer) {
  Checkpoint checkpoint;
  checkpoint.step = 7;
  checkpoint.parameters = {{"conv.weight", from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3})},
                           {"head.bias", from_vector<float>({0.5f, -0.5f}, {2})}};
  checkpoint.buffers = {{"steps", from_vector<int64_t>({3}, {1})}};
  checkpoint.rng_state = "seed 1";
  checkpoint.config = "batch: 8";
  checkpoint.metadata = {{"note", "fuzz seed"}};
  if (with_optimizer) {
    checkpoint.optimizer.kind = "sgd";
    checkpoint.optimizer.steps_taken = 7;
    checkpoint.optimizer.sgd.emplace();
    checkpoint.optimizer.sgd->set_lr(0.1);
    checkpoint.optimizer.sgd->set_momentum(0.9);
    checkpoint.optimizer.tensors = {{"momentum.conv.weight", zeros({2, 3})}};
  }
  exit_on_error(save_checkpoint(corpus_dir + "/" + name, checkpoint));
}

// A whole BiT as bit_finetune saves one (R50 wiring at base width 1, one group per GroupNorm, a
// 2-way head: 6k parameters), from which the fuzzer reaches load_bit_model_from_checkpoint.
void write_bit_checkpoint_seed(const std::string& name) {
  BitConfig config;
  config.base_width = 1;
  config.num_groups = 1;
  config.head_size = 2;
  BitResNetV2 model(config);
  TrainState state;
  state.model = &model;
  state.step = 3;
  state.class_names = {"cat", "dog"};
  state.input_resolution = 32;
  exit_on_error(save_train_state(corpus_dir + "/" + name, state));
}

// A dataset .npz (data/keras_npz.h) of 2x2 gray images: 3 for training, 2 for testing.
void write_dataset_npz_seed(const std::string& name) {
  Tensor x_train = from_vector<uint8_t>({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, {3, 2, 2});
  Tensor x_test = from_vector<uint8_t>({255, 254, 253, 252, 9, 8, 7, 6}, {2, 2, 2});
  exit_on_error(write_npz(corpus_dir + "/" + name,
                          {{"x_train", x_train},
                           {"y_train", from_vector<int64_t>({0, 1, 0}, {3})},
                           {"x_test", x_test},
                           {"y_test", from_vector<int64_t>({1, 0}, {2})}}));
}

}  // namespace

int main() {
  const char* workspace = std::getenv("BUILD_WORKSPACE_DIRECTORY");
  corpus_dir = std::string(workspace ? workspace : ".") + "/tests/fuzz/corpus";

  write_idx_seed("idx/three_4x4", 3, 4, 4);
  write_idx_seed("idx/one_1x2", 1, 1, 2);
  write_cifar_seed("cifar/cifar10_two", 0, 2);
  write_cifar_seed("cifar/cifar100_one", 1, 1);
  write_dataset_npz_seed("npz/dataset.npz");
  write_checkpoint_seed("checkpoint/weights_only", false);
  write_checkpoint_seed("checkpoint/with_sgd", true);
  write_bit_checkpoint_seed("checkpoint/bit_r50_base_width_1");
  write("labels/three", "tench\ngoldfish\ngreat white shark\n");
  write("labels/crlf_no_final_newline", "airplane\r\nautomobile\r\nbird");

  RunConfig config;
  config.set_weights("BiT-M-R50x1.npz");
  config.set_dataset("cifar10:/data/cifar-10-batches-bin");
  config.set_batch(64);
  config.set_batch_split(2);
  write("run_config/full", run_config_text(config));
  write("run_config/small", "batch: 8\nbase_lr: 0.01\nschedule: \"constant\"\n");
  std::printf("wrote the seeds into %s\n", corpus_dir.c_str());
  return 0;
}
