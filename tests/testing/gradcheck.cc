#include "tests/testing/gradcheck.h"

#include <cmath>
#include <sstream>

#include "autograd/engine.h"
#include "autograd/grad_mode.h"
#include "core/random.h"

namespace bitgrad::testing {
namespace {

double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double total = 0;
  for (size_t i = 0; i < a.size(); ++i) total += a[i] * b[i];
  return total;
}

// L(inputs) = sum(w * fn(inputs)), without recording a graph.
double objective(const TensorFunction& fn, const std::vector<Tensor>& inputs,
                 const std::vector<double>& w) {
  NoGradGuard no_grad;
  return dot(fn(inputs).to_vector<double>(), w);
}

// The inputs with input `which` replaced by `values`.
std::vector<Tensor> with_values(const std::vector<Tensor>& inputs, size_t which,
                                const std::vector<double>& values) {
  std::vector<Tensor> out;
  for (const Tensor& t : inputs) out.push_back(t.defined() ? t.detach() : t);  // absent bias
  out[which] = from_vector(values, inputs[which].shape()).to(inputs[which].device());
  return out;
}

}  // namespace

::testing::AssertionResult gradcheck(const TensorFunction& fn, const std::vector<Tensor>& inputs,
                                     const GradcheckOptions& options) {
  BackendOverride backend(options.backend);
  Generator generator(options.seed);

  // Fresh leaves, so gradients from earlier calls do not mix in.
  std::vector<Tensor> leaves;
  for (const Tensor& input : inputs) {
    if (!input.defined()) {
      leaves.push_back(input);
      continue;
    }
    Tensor leaf = input.detach();
    if (input.requires_grad()) {
      if (input.dtype() != DType::kFloat64) {
        return ::testing::AssertionFailure() << "gradcheck needs float64 inputs, got "
                                             << dtype_name(input.dtype());
      }
      leaf.set_requires_grad();
    }
    leaves.push_back(leaf);
  }

  Tensor output = fn(leaves);
  if (!output.requires_grad()) {
    return ::testing::AssertionFailure() << "the function's output does not require grad";
  }
  Tensor w = randn(output.shape(), DType::kFloat64, Device::cpu(), generator);
  std::vector<double> w_values = w.to_vector<double>();
  backward(output, w.to(output.dtype()).to(output.device()));

  std::ostringstream failures;
  int failure_count = 0;
  auto compare = [&](size_t input, const std::string& where, double analytic, double numeric) {
    if (std::fabs(analytic - numeric) <= options.atol + options.rtol * std::fabs(numeric)) return;
    if (++failure_count <= 10) {
      failures << "\n  input " << input << " " << where << ": backward " << analytic
               << ", finite differences " << numeric;
    }
  };

  for (size_t i = 0; i < leaves.size(); ++i) {
    if (!leaves[i].defined() || !leaves[i].requires_grad()) continue;
    if (!leaves[i].grad().defined()) {
      return ::testing::AssertionFailure() << "input " << i << " requires grad but got none";
    }
    std::vector<double> x = leaves[i].to_vector<double>();
    std::vector<double> g = leaves[i].grad().to_vector<double>();
    auto difference = [&](const std::vector<double>& direction) {
      std::vector<double> plus = x, minus = x;
      for (size_t k = 0; k < x.size(); ++k) {
        plus[k] += options.eps * direction[k];
        minus[k] -= options.eps * direction[k];
      }
      return (objective(fn, with_values(leaves, i, plus), w_values) -
              objective(fn, with_values(leaves, i, minus), w_values)) /
             (2 * options.eps);
    };
    if (static_cast<int64_t>(x.size()) <= options.max_elementwise) {
      std::vector<double> unit(x.size(), 0.0);
      for (size_t k = 0; k < x.size(); ++k) {
        unit[k] = 1.0;
        compare(i, "element " + std::to_string(k), g[k], difference(unit));
        unit[k] = 0.0;
      }
    } else {
      for (int r = 0; r < options.random_directions; ++r) {
        std::vector<double> direction(x.size());
        for (double& v : direction) v = generator.normal();
        compare(i, "random direction " + std::to_string(r), dot(g, direction),
                difference(direction));
      }
    }
  }
  if (failure_count > 0) {
    return ::testing::AssertionFailure() << failure_count << " gradient mismatches"
                                         << failures.str();
  }
  return ::testing::AssertionSuccess();
}

}  // namespace bitgrad::testing
