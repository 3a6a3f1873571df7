// The processes of a data-parallel run, and the collective operations between them.
//
// Every process of a job holds a replica of the model; they agree through collectives that all of
// them call, in the same order (MPI's rule). A one-process run uses SingleProcess, whose
// collectives do nothing, so the training loop has one code path and needs no MPI at all.
#pragma once

#include <cstdint>
#include <string>


namespace bitgrad {

class Communicator {
 public:
  virtual ~Communicator() = default;

  virtual int rank() const = 0;  // 0 .. size() - 1; rank 0 writes files and prints progress
  virtual int size() const = 0;
  bool is_root() const { return rank() == 0; }

  // Replaces `values` on every process with their elementwise sum over all processes.
  // Thread-safe: calls from two threads are serialized (the gradient reducer's thread and the
  // training loop's).
  virtual void all_reduce_sum(float* values, int64_t count) = 0;
  virtual void all_reduce_sum(double* values, int64_t count) = 0;

  // Copies `bytes` bytes at `data` from process `root` to every other process (NCCL's unique id
  // goes out this way).
  virtual void broadcast(void* data, int64_t bytes, int root) = 0;
  // Process `root`'s `text` on every process (its size, then its bytes; the others' `text` is
  // not read).
  std::string broadcast_text(const std::string& text, int root);

  // Takes the whole job down from this process, after printing `message` to stderr with this
  // rank's name, so that no other process waits forever on a collective. Returns only in a
  // one-process run (where there is nothing to take down).
  virtual void abort(const std::string& message) = 0;

  // "rank 1 of 2", for messages.
  std::string name() const;
};

// The all-reduce of GPU memory between the processes (NCCL: dist/nccl_all_reduce.h).
class DeviceAllReduce {
 public:
  virtual ~DeviceAllReduce() = default;
  // Replaces `count` floats at `device_values` with their sum over the processes, in place,
  // queued on the GPU's stream (after the kernels before it, before those after it).
  virtual void sum(float* device_values, int64_t count) = 0;
};

// The one-process "job": every collective leaves its data as it is.
class SingleProcess final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void all_reduce_sum(float*, int64_t) override {}
  void all_reduce_sum(double*, int64_t) override {}
  void broadcast(void*, int64_t, int) override {}
  void abort(const std::string&) override {}
};

}  // namespace bitgrad
