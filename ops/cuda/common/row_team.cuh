// Kernels that reduce along rows (softmax, cross-entropy) give each row a team: the whole block
// for long rows, one thread for short ones. A row shorter than a warp, such as one of a (N, 10)
// batch of logits, would leave most of a block idle and still pay for its reductions. The row
// code is written once for both teams (RowTeam<kBlock>), and launch_rows picks one. nvcc only.
#pragma once

#include <cstdint>

#include <cuda_runtime.h>

#include "ops/cuda/common/device_utils.cuh"

namespace bitgrad::cuda_ops {

constexpr int kRowThreads = 256;          // threads of a block that takes whole rows
constexpr int64_t kBlockRowMinSize = 32;  // the shortest row that gets a block

// Blocks of a block-per-row launch: one a row up to the grid limit, then they loop.
inline int row_blocks(int64_t rows) {
  return static_cast<int>(rows < kMaxBlocks ? rows : kMaxBlocks);
}

// kBlock: the block's threads take a row together, each every blockDim.x-th element from
// threadIdx.x, and meet in block reductions (so every thread of the block must call them).
// Else one thread takes the whole row, and its reductions are its own values.
template <bool kBlock>
struct RowTeam {
  // The first row of this team, and the distance to its next one: a grid-stride loop over rows.
  __device__ static int64_t first_row() {
    return kBlock ? blockIdx.x : blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  }
  __device__ static int64_t row_step() {
    return kBlock ? gridDim.x : int64_t(gridDim.x) * blockDim.x;
  }
  // This thread's first element of a row, and the distance to its next one.
  __device__ static int64_t first() { return kBlock ? threadIdx.x : 0; }
  __device__ static int64_t step() { return kBlock ? blockDim.x : 1; }
  // The team's sum (max) of `value`, returned to every member.
  __device__ static double sum(double value) { return kBlock ? block_sum(value) : value; }
  __device__ static double max(double value) { return kBlock ? block_max(value) : value; }
  // Whether this thread writes the row's one-per-row results.
  __device__ static bool leader() { return !kBlock || threadIdx.x == 0; }
};

// for (r = this team's first row; r < rows; r += the grid's teams)
#define BG_FOR_EACH_ROW(kBlock, r, rows)                                     \
  for (int64_t r = RowTeam<kBlock>::first_row(); r < (rows); r += RowTeam<kBlock>::row_step())

// for (k = this thread's first element of the row; k < size; k += the team's threads)
#define BG_FOR_ROW_ELEMENT(kBlock, k, size)                                  \
  for (int64_t k = RowTeam<kBlock>::first(); k < (size); k += RowTeam<kBlock>::step())

// Launches a kernel over `rows` rows of `size` adjacent elements: by_block (its RowTeam<true>
// instance) with a block per row when size >= kBlockRowMinSize, else by_thread with a thread per
// row; either loops over BG_FOR_EACH_ROW. Returns the launch status.
template <typename... Params, typename... Args>
cudaError_t launch_rows(int64_t rows, int64_t size, cudaStream_t stream,
                        void (*by_block)(Params...), void (*by_thread)(Params...), Args... args) {
  if (size >= kBlockRowMinSize) {
    by_block<<<row_blocks(rows), kRowThreads, 0, stream>>>(args...);
  } else {
    by_thread<<<blocks_for(rows), kThreads, 0, stream>>>(args...);
  }
  return cudaGetLastError();
}

}  // namespace bitgrad::cuda_ops
