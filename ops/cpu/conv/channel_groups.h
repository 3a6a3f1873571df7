// Addressing 8-channel groups in channel-blocked activations (nChw8c or nChw16c), for the
// hand-written AVX2 kernels: an AVX2 vector holds 8 floats, so a kernel works on 8 channels at a
// time, and with 16-channel blocks (oneDNN's choice on AVX-512 CPUs) each pixel holds two groups.
#pragma once

#include <cstdint>

namespace bitgrad::cpu {

constexpr int64_t kGroupChannels = 8;  // channels of a group: one AVX2 vector

// Whether the kernels take activations with `block` channels per pixel.
inline bool is_group_block(int64_t block) { return block == 8 || block == 16; }

// Where channels 8g..8g+7 of image n start in an nChw<block>c buffer of `channels` channels (a
// multiple of block) and `pixels` pixels per map. The same channels of the next pixel are `block`
// floats further on.
inline int64_t group_offset(int64_t n, int64_t g, int64_t channels, int64_t pixels,
                            int64_t block) {
  const int64_t c = kGroupChannels * g;
  return (n * (channels / block) + c / block) * pixels * block + c % block;
}

}  // namespace bitgrad::cpu
