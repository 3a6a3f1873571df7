// Parameter initialisers shared by the layers. Every one draws from an explicit Generator, so a
// model built twice with the same seed holds the same numbers.
#pragma once

#include "core/random.h"
#include "core/tensor.h"

namespace bitgrad::nn {

// Kaiming-normal ("He") initialisation for a ReLU network, fan-in mode:
//   w ~ N(0, std^2), std = sqrt(2 / fan_in), fan_in = product of every dim but the first
// (in_channels/groups * KH * KW for an OIHW kernel, in_features for a linear weight).
// float32 on the CPU; modules are moved with Module::to afterwards.
Tensor kaiming_normal(const Shape& shape, Generator& generator);

}  // namespace bitgrad::nn
