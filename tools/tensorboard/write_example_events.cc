// Writes a small, fixed set of training scalars with train/tensorboard.h, for checking by hand
// that the real TensorBoard reads our files (check_roundtrip.sh). Prints every scalar as
// "tag step value", sorted like read_events.py prints what TensorBoard read back.
//
//   bazel run //tools/tensorboard:write_example_events -- /tmp/tb_example
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "train/tensorboard.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s LOG_DIR\n", argv[0]);
    return 2;
  }
  auto writer = bitgrad::TensorBoardWriter::open(argv[1]);
  if (!writer.ok()) {
    std::fprintf(stderr, "%s\n", writer.status().ToString().c_str());
    return 1;
  }
  std::fprintf(stderr, "writing %s\n", (*writer)->path().c_str());

  std::map<std::string, std::vector<std::pair<int64_t, float>>> written;
  for (int64_t step = 0; step <= 100; step += 20) {
    std::vector<std::pair<std::string, double>> scalars = {
        {"train/loss", 2.3 * std::exp(-0.02 * step)},
        {"train/lr", 0.1 * std::min<double>(1.0, (step + 1) / 50.0)},
        {"train/images_per_s", 250.0 + step * 0.5},
        {"eval/top1", 0.1 + 0.007 * step},
        {"eval/top5", 0.5 + 0.004 * step},
    };
    absl::Status status = (*writer)->add_scalars(scalars, step);
    if (!status.ok()) {
      std::fprintf(stderr, "%s\n", status.ToString().c_str());
      return 1;
    }
    for (const auto& [tag, value] : scalars) written[tag].push_back({step, float(value)});
  }
  // Also a lone add_scalar, at a step between the others.
  if (absl::Status status = (*writer)->add_scalar("train/loss", -1e-3, 50); !status.ok()) {
    std::fprintf(stderr, "%s\n", status.ToString().c_str());
    return 1;
  }
  written["train/loss"].push_back({50, -1e-3f});

  for (auto& [tag, points] : written) {
    std::sort(points.begin(), points.end());
    for (const auto& [step, value] : points) {
      std::printf("%s %lld %.9g\n", tag.c_str(), static_cast<long long>(step), value);
    }
  }
  return 0;
}
