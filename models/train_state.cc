#include "models/train_state.h"

#include <set>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "autograd/grad_mode.h"
#include "models/name_mismatch.h"
#include "ops/non_finite.h"

namespace bitgrad {
namespace {

constexpr char kSgdKind[] = "sgd";

std::string describe(const Tensor& tensor) {
  return absl::StrCat(dtype_name(tensor.dtype()), " ", tensor.shape().str());
}

const Tensor* find_named(const NamedTensors& tensors, const std::string& name) {
  for (const auto& [key, tensor] : tensors) {
    if (key == name) return &tensor;
  }
  return nullptr;
}

// Compares what the checkpoint holds (`saved`) with what the live objects have (`live`), by
// name; appends one line per problem. `what` is "parameter", "buffer", ...
void compare_tensors(const char* what, const NamedTensors& live, const NamedTensors& saved,
                     std::vector<std::string>* problems) {
  NameMismatch mismatch;
  for (const auto& [name, tensor] : live) {
    const Tensor* found = find_named(saved, name);
    if (found == nullptr) {
      mismatch.missing.push_back(absl::StrCat(name, " (", describe(tensor), ")"));
    } else if (found->shape() != tensor.shape() || found->dtype() != tensor.dtype()) {
      mismatch.mismatched.push_back(absl::StrCat(
          name, ": ", describe(*found), " in the checkpoint, the model has ", describe(tensor)));
    }
  }
  for (const auto& [name, tensor] : saved) {
    if (find_named(live, name) == nullptr) {
      mismatch.unexpected.push_back(absl::StrCat(name, " (", describe(tensor), ")"));
    }
  }
  for (std::string& line : mismatch.describe(what)) problems->push_back(std::move(line));
}

// A NaN weight would not stop a forward pass (the ReLUs after it map NaN to 0), so a checkpoint
// holding one is refused rather than used.
absl::Status check_finite_parameters(const Checkpoint& checkpoint, const std::string& path) {
  std::vector<Tensor> floating;
  std::vector<const std::string*> names;
  for (const auto& [name, tensor] : checkpoint.parameters) {
    if (tensor.dtype() != DType::kFloat32 && tensor.dtype() != DType::kFloat64) continue;
    floating.push_back(tensor);
    names.push_back(&name);
  }
  const std::optional<NonFinite> bad = find_non_finite(floating);
  if (!bad) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "checkpoint ", path, ": parameter '", *names[bad->tensor], "' holds ", bad->value,
      " (element ", bad->element, " of ", floating[bad->tensor].shape().str(),
      "); expected finite weights"));
}

absl::Status check_module_state(const Module& module, const Checkpoint& checkpoint,
                                const std::string& path) {
  std::vector<std::string> problems;
  compare_tensors("parameter", module.named_parameters(), checkpoint.parameters, &problems);
  compare_tensors("buffer", module.named_buffers(), checkpoint.buffers, &problems);
  if (problems.empty()) return check_finite_parameters(checkpoint, path);
  return absl::InvalidArgumentError(absl::StrCat("checkpoint ", path, " does not fit the ",
                                                 module.type_name(), ": ",
                                                 absl::StrJoin(problems, ". ")));
}

// Copies every saved tensor into the live one of the same name; names, shapes and dtypes have
// been checked.
void copy_named(const NamedTensors& live, const NamedTensors& saved) {
  NoGradGuard no_grad;
  for (const auto& [name, tensor] : live) {
    Tensor target = tensor;
    target.copy_(*find_named(saved, name));
  }
}

proto::SgdOptions sgd_options_to_proto(const SgdOptions& options) {
  proto::SgdOptions record;
  record.set_lr(options.lr);
  record.set_momentum(options.momentum);
  record.set_dampening(options.dampening);
  record.set_weight_decay(options.weight_decay);
  record.set_nesterov(options.nesterov);
  return record;
}

// The hyperparameters a restored optimizer must share with the saved one (all but lr).
std::vector<std::pair<const char*, double>> fixed_hyperparameters(const SgdOptions& options) {
  return {{"momentum", options.momentum},
          {"dampening", options.dampening},
          {"weight_decay", options.weight_decay},
          {"nesterov", options.nesterov ? 1.0 : 0.0}};
}

absl::Status check_optimizer_state(const Sgd& optimizer, const Module& model,
                                   const Checkpoint& checkpoint, const std::string& path) {
  auto saved = saved_sgd_options(checkpoint, path);
  if (!saved.ok()) return saved.status();
  const auto have = fixed_hyperparameters(optimizer.options());
  const auto want = fixed_hyperparameters(*saved);
  for (size_t i = 0; i < want.size(); ++i) {
    const auto& [key, value] = want[i];
    if (have[i].second != value) {
      return absl::InvalidArgumentError(absl::StrCat(
          "checkpoint ", path, ": the optimizer was saved with ", key, " = ", value,
          ", this optimizer has ", key, " = ", have[i].second,
          " (build it with saved_sgd_options)"));
    }
  }
  // Momentum buffers are named by parameter and have its shape and dtype.
  const NamedTensors parameters = model.named_parameters();
  NameMismatch mismatch;  // none can be missing: SGD makes a buffer at a parameter's first step
  for (const auto& [name, buffer] : checkpoint.optimizer.tensors) {
    const Tensor* parameter = find_named(parameters, name);
    if (parameter == nullptr) {
      mismatch.unexpected.push_back(
          absl::StrCat(name, " (", describe(buffer), "), which no parameter of the model has"));
    } else if (parameter->shape() != buffer.shape() || parameter->dtype() != buffer.dtype()) {
      mismatch.mismatched.push_back(absl::StrCat(name, ": ", describe(buffer),
                                                 " in the checkpoint, the parameter is ",
                                                 describe(*parameter)));
    }
  }
  if (!mismatch.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("checkpoint ", path, ": momentum buffers do not fit the model: ",
                     absl::StrJoin(mismatch.describe("momentum buffer"), "; ")));
  }
  return absl::OkStatus();
}

// Loads the optimizer's buffers and step count, or leaves it as it was and says why.
absl::Status load_optimizer_state(Sgd& optimizer, const Checkpoint& checkpoint,
                                  const std::string& path) {
  const std::vector<NamedTensor> previous = optimizer.state();
  const int64_t previous_steps = optimizer.steps_taken();
  try {
    optimizer.load_state(checkpoint.optimizer.tensors, checkpoint.optimizer.steps_taken);
  } catch (const Error& error) {
    optimizer.load_state(previous, previous_steps);
    return absl::InvalidArgumentError(absl::StrCat("checkpoint ", path, ": ", error.what()));
  }
  optimizer.set_lr(checkpoint.optimizer.sgd->lr());  // checked by check_optimizer_state
  return absl::OkStatus();
}

absl::Status check_rng_state(const Checkpoint& checkpoint, const std::string& path) {
  if (checkpoint.rng_state.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "checkpoint ", path, " holds no RNG state (it was saved without a generator)"));
  }
  try {
    Generator probe;
    probe.set_state(checkpoint.rng_state);
  } catch (const Error& error) {
    return absl::DataLossError(absl::StrCat("checkpoint ", path, ": the RNG state is unreadable: ",
                                            error.what()));
  }
  return absl::OkStatus();
}

}  // namespace

// ------------------------------------------------------------------------------------------------

proto::BitConfig bit_config_to_proto(const BitConfig& config) {
  proto::BitConfig record;
  record.set_depth(config.depth);
  record.set_width_factor(config.width_factor);
  record.set_head_size(config.head_size);
  record.set_zero_head(config.zero_head);
  record.set_seed(config.seed);
  record.set_base_width(config.base_width);
  record.set_num_groups(config.num_groups);
  return record;
}

absl::StatusOr<BitConfig> bit_config_from_checkpoint(const Checkpoint& checkpoint,
                                                     const std::string& path) {
  if (!checkpoint.bit_config) {
    return absl::InvalidArgumentError(absl::StrCat(
        "checkpoint ", path, " has no bit_config: it does not describe a BiT model (was it ",
        "saved by save_train_state?)"));
  }
  const proto::BitConfig& record = *checkpoint.bit_config;
  BitConfig config;
  config.depth = record.depth();
  config.width_factor = record.width_factor();
  config.head_size = record.head_size();
  config.zero_head = record.zero_head();
  config.seed = record.seed();
  config.base_width = record.base_width();
  config.num_groups = record.num_groups();
  try {
    check_bit_config(config);
  } catch (const Error& error) {
    return absl::InvalidArgumentError(absl::StrCat("checkpoint ", path, ": ", error.what()));
  }
  return config;
}

absl::StatusOr<SgdOptions> saved_sgd_options(const Checkpoint& checkpoint,
                                             const std::string& path) {
  const OptimizerCheckpoint& saved = checkpoint.optimizer;
  if (saved.kind.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "checkpoint ", path, " holds no optimizer state (it was saved without an optimizer)"));
  }
  if (saved.kind != kSgdKind) {
    return absl::InvalidArgumentError(absl::StrCat("checkpoint ", path, " holds the state of a '",
                                                   saved.kind, "' optimizer, not '", kSgdKind,
                                                   "'"));
  }
  if (!saved.sgd) {
    return absl::InvalidArgumentError(
        absl::StrCat("checkpoint ", path, ": the sgd state has no settings (no 'sgd' message)"));
  }
  SgdOptions options;
  options.lr = saved.sgd->lr();
  options.momentum = saved.sgd->momentum();
  options.dampening = saved.sgd->dampening();
  options.weight_decay = saved.sgd->weight_decay();
  options.nesterov = saved.sgd->nesterov();
  return options;
}

void save_module_state(const Module& module, Checkpoint* checkpoint) {
  checkpoint->parameters = module.named_parameters();
  checkpoint->buffers = module.named_buffers();
}

absl::Status restore_module_state(Module& module, const Checkpoint& checkpoint,
                                  const std::string& path) {
  if (auto status = check_module_state(module, checkpoint, path); !status.ok()) return status;
  copy_named(module.named_parameters(), checkpoint.parameters);
  copy_named(module.named_buffers(), checkpoint.buffers);
  module.invalidate_caches();
  return absl::OkStatus();
}

absl::Status save_train_state(const std::string& path, const TrainState& state) {
  if (state.model == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("save_train_state(", path, "): no model"));
  }
  const BitConfig& config = state.model->config();
  if (std::string mismatch = class_names_mismatch(state.class_names, config.head_size);
      !mismatch.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("save_train_state(", path, "): ", mismatch));
  }
  Checkpoint checkpoint;
  checkpoint.model_name = state.model_name.empty() ? bit_arch_name(config) : state.model_name;
  checkpoint.step = state.step;
  checkpoint.config = state.config;
  checkpoint.bit_config = bit_config_to_proto(config);
  checkpoint.class_names = state.class_names;
  checkpoint.input_resolution = state.input_resolution;
  checkpoint.metadata = state.run_facts;
  save_module_state(*state.model, &checkpoint);
  if (state.optimizer != nullptr) {
    checkpoint.optimizer.kind = kSgdKind;
    checkpoint.optimizer.steps_taken = state.optimizer->steps_taken();
    checkpoint.optimizer.sgd = sgd_options_to_proto(state.optimizer->options());
    checkpoint.optimizer.tensors = state.optimizer->state();
  }
  if (state.generator != nullptr) checkpoint.rng_state = state.generator->state();
  return save_checkpoint(path, checkpoint);
}

namespace {

absl::Status no_model_error(const std::string& path) {
  return absl::InvalidArgumentError(absl::StrCat("restore_train_state(", path, "): no model"));
}

}  // namespace

absl::Status restore_train_state(
    const std::string& path, TrainState& state,
    const std::function<absl::Status(const Checkpoint&)>& check_first) {
  if (state.model == nullptr) return no_model_error(path);  // before reading the file
  absl::StatusOr<Checkpoint> checkpoint = load_checkpoint(path);
  if (!checkpoint.ok()) return checkpoint.status();
  return restore_train_state(*checkpoint, path, state, check_first);
}

absl::Status restore_train_state(
    const Checkpoint& checkpoint, const std::string& path, TrainState& state,
    const std::function<absl::Status(const Checkpoint&)>& check_first) {
  if (state.model == nullptr) return no_model_error(path);
  if (check_first) {
    if (absl::Status status = check_first(checkpoint); !status.ok()) return status;
  }

  // Check everything first.
  absl::StatusOr<BitConfig> saved_config = bit_config_from_checkpoint(checkpoint, path);
  if (saved_config.ok()) {
    const std::string saved = bit_arch_description(*saved_config);
    const std::string wanted = bit_arch_description(state.model->config());
    if (saved != wanted) {
      return absl::InvalidArgumentError(absl::StrCat(
          "checkpoint ", path, " holds a BiT-", saved, ", the model is a BiT-", wanted));
    }
  }
  if (auto s = check_module_state(*state.model, checkpoint, path); !s.ok()) return s;
  if (state.optimizer != nullptr) {
    auto s = check_optimizer_state(*state.optimizer, *state.model, checkpoint, path);
    if (!s.ok()) return s;
  }
  if (state.generator != nullptr) {
    if (auto s = check_rng_state(checkpoint, path); !s.ok()) return s;
  }

  // Then change things; only the optimizer can still refuse (a buffer for a parameter it does
  // not hold), and it is first, so a refusal leaves everything as it was.
  if (state.optimizer != nullptr) {
    if (auto s = load_optimizer_state(*state.optimizer, checkpoint, path); !s.ok()) return s;
  }
  copy_named(state.model->named_parameters(), checkpoint.parameters);
  copy_named(state.model->named_buffers(), checkpoint.buffers);
  state.model->invalidate_caches();
  if (state.generator != nullptr) state.generator->set_state(checkpoint.rng_state);
  state.step = checkpoint.step;
  state.config = checkpoint.config;
  state.model_name = checkpoint.model_name;
  state.class_names = checkpoint.class_names;
  state.input_resolution = checkpoint.input_resolution;
  state.run_facts = checkpoint.metadata;
  return absl::OkStatus();
}

absl::StatusOr<LoadedBitModel> load_bit_model_from_checkpoint(const std::string& path,
                                                              const std::string& model_name) {
  absl::StatusOr<Checkpoint> checkpoint = load_checkpoint(path);
  if (!checkpoint.ok()) return checkpoint.status();
  return bit_model_from_checkpoint(*checkpoint, path, model_name);
}

absl::StatusOr<LoadedBitModel> bit_model_from_checkpoint(const Checkpoint& checkpoint,
                                                         const std::string& path,
                                                         const std::string& model_name) {
  absl::StatusOr<BitConfig> config = bit_config_from_checkpoint(checkpoint, path);
  if (!config.ok()) return config.status();
  if (!model_name.empty()) {
    absl::StatusOr<BitConfig> named = bit_config_from_name(model_name);
    if (!named.ok()) return named.status();
    if (bit_arch_name(*named) != bit_arch_name(*config)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "checkpoint ", path, " holds a BiT-", bit_arch_name(*config), ", not the requested ",
          requested_arch(model_name, *named)));
    }
  }
  if (checkpoint.parameters.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("checkpoint ", path, " holds no parameters"));
  }
  if (std::string mismatch = class_names_mismatch(checkpoint.class_names, config->head_size);
      !mismatch.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("checkpoint ", path, " holds ", mismatch));
  }
  const DType dtype = checkpoint.parameters.front().second.dtype();
  if (!is_floating(dtype)) {
    return absl::InvalidArgumentError(absl::StrCat("checkpoint ", path, ": parameter '",
                                                   checkpoint.parameters.front().first,
                                                   "' is ", dtype_name(dtype),
                                                   ", not a floating dtype"));
  }
  // The file's tensors were read, so they exist; a bit_config that claims more than they hold
  // would have the model allocate that much before the shapes are compared.
  const int64_t saved_count = count_elements(checkpoint.parameters);
  if (const int64_t count = bit_param_count(*config); count != saved_count) {
    return absl::InvalidArgumentError(absl::StrCat(
        "checkpoint ", path, ": its bit_config describes a BiT-", bit_arch_description(*config),
        " of ", count, " parameter elements, but the file holds ", saved_count));
  }
  LoadedBitModel loaded;
  loaded.model = std::make_shared<BitResNetV2>(*config);  // the config was checked
  loaded.model->to(dtype);
  if (auto s = restore_module_state(*loaded.model, checkpoint, path); !s.ok()) return s;
  loaded.class_names = checkpoint.class_names;
  loaded.input_resolution = checkpoint.input_resolution;
  loaded.run_config = checkpoint.config;
  // A narrowed model (bit_finetune's default experiment's) says so: it is no R50x1 of BiT's.
  loaded.message = absl::StrCat(
      "loaded ", checkpoint.parameters.size(), " parameters from checkpoint ", path, " (",
      checkpoint.model_name, ", step ", checkpoint.step, ") into BiT-",
      config->is_narrowed() ? bit_arch_description(*config) : bit_arch_name(*config), " (head ",
      config->head_size, ")");
  return loaded;
}

}  // namespace bitgrad
