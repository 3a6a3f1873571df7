#include "dist/gradient_reducer.h"

#include <chrono>
#include <condition_variable>
#include <limits>
#include <mutex>
#include <thread>
#include <vector>

#include "autograd/engine.h"
#include "autograd/node.h"
#include "core/random.h"
#include "gtest/gtest.h"
#include "ops/elementwise.h"
#include "ops/reduce.h"
#include "tests/testing/assertions.h"
#include "tests/testing/parity.h"

namespace bitgrad {
namespace {

// Stands in for N processes that computed the same gradients: the sum is N times each. Records
// each all-reduce's size. `delay` makes each float sum take that long (a slow network).
class IdenticalProcesses final : public Communicator {
 public:
  explicit IdenticalProcesses(int size, std::chrono::milliseconds delay = {})
      : size_(size), delay_(delay) {}
  int rank() const override { return 0; }
  int size() const override { return size_; }
  void all_reduce_sum(float* values, int64_t count) override {
    std::this_thread::sleep_for(delay_);
    std::lock_guard<std::mutex> lock(mutex);
    for (int64_t i = 0; i < count; ++i) values[i] *= static_cast<float>(size_);
    sizes.push_back(count);
    reduced.notify_all();
  }
  void all_reduce_sum(double* values, int64_t count) override {
    for (int64_t i = 0; i < count; ++i) values[i] *= size_;
  }
  void broadcast(void*, int64_t, int) override {}  // identical processes hold the same bytes
  void abort(const std::string&) override {}

  std::mutex mutex;
  std::condition_variable reduced;
  std::vector<int64_t> sizes;

 private:
  int size_;
  std::chrono::milliseconds delay_;
};

// loss = sum(w1 * w1) + ... + sum(wn * wn): backward reaches wn's branch first, w1's last.
struct Chain {
  std::vector<Tensor> weights;
  explicit Chain(std::vector<int64_t> sizes) {
    for (int64_t n : sizes) weights.push_back(randn({n}).set_requires_grad());
  }
  Tensor loss() const {
    Tensor total = sum(weights[0] * weights[0]);
    for (size_t i = 1; i < weights.size(); ++i) total = total + sum(weights[i] * weights[i]);
    return total;
  }
};

TEST(GradientReducerTest, BucketsHoldWholeTensorsFromTheLastParameterBackwards) {
  manual_seed(1);
  Chain chain({10, 30, 20, 5});  // 40, 120, 80, 20 bytes
  IdenticalProcesses world(2);
  GradientReducer reducer(chain.weights, world, /*bucket_bytes=*/100);
  // From the end: {5, 20} = 100 bytes, {30} alone (120 > 100), {10}.
  EXPECT_EQ(reducer.num_buckets(), 3);
  EXPECT_EQ(reducer.stats().bytes_per_update, (10 + 30 + 20 + 5) * 4);
}

TEST(GradientReducerTest, SumsEveryGradientAndStartsBucketsDuringBackward) {
  manual_seed(2);
  Chain chain({7, 13, 9, 11});
  std::vector<Tensor> alone;  // one process's gradients: 2w
  for (const Tensor& w : chain.weights) alone.push_back(w * 2.0);
  IdenticalProcesses world(3);
  GradientReducer reducer(chain.weights, world, /*bucket_bytes=*/40);  // one tensor each
  ASSERT_EQ(reducer.num_buckets(), 4);
  int total_nodes = 0;
  BackwardOptions counting;
  counting.after_node = [&](const Node&) { ++total_nodes; };
  backward(chain.loss(), Tensor(), counting);
  for (Tensor& w : chain.weights) w.set_grad(Tensor());

  for (int update = 0; update < 2; ++update) {  // the reducer resets itself after finish()
    world.sizes.clear();
    // Before the last node runs, the first bucket must be on its way (it may take the thread
    // a moment to get there).
    int nodes_run = 0;
    bool started_before_the_end = false;
    BackwardOptions options = reducer.backward_options();
    options.after_node = [&](const Node&) {
      if (++nodes_run != total_nodes - 1) return;
      std::unique_lock<std::mutex> lock(world.mutex);
      started_before_the_end = world.reduced.wait_for(lock, std::chrono::seconds(10),
                                                      [&] { return !world.sizes.empty(); });
    };
    backward(chain.loss(), Tensor(), options);
    EXPECT_TRUE(started_before_the_end) << "update " << update;
    reducer.finish();
    for (size_t i = 0; i < chain.weights.size(); ++i) {
      EXPECT_TRUE(testing::all_close(chain.weights[i].grad(), alone[i] * 3.0, 1e-5, 1e-6))
          << "update " << update << ", parameter " << i;
      chain.weights[i].set_grad(Tensor());
    }
    EXPECT_EQ(world.sizes, (std::vector<int64_t>{11, 9, 13, 7}));  // last parameter first
  }
  EXPECT_EQ(reducer.stats().updates, 2);
}

TEST(GradientReducerTest, AParameterWithoutAGradientAddsZerosAndGetsTheSum) {
  manual_seed(3);
  Tensor used = randn({4}).set_requires_grad();
  Tensor unused = randn({3}).set_requires_grad();
  IdenticalProcesses world(2);
  GradientReducer reducer({unused, used}, world, /*bucket_bytes=*/1000);
  backward(sum(used * used), Tensor(), reducer.backward_options());
  reducer.finish();
  EXPECT_TRUE(testing::all_close(used.grad(), used * 4.0));
  ASSERT_TRUE(unused.grad().defined());
  EXPECT_TRUE(testing::all_close(unused.grad(), zeros({3})));
}

// Sums slower than backward: finish() must wait for every bucket of every update (the flags
// that say a bucket is summed are reset after each), and each sum's time counts in the stats.
TEST(GradientReducerTest, FinishWaitsForSlowSumsOnEveryUpdate) {
  manual_seed(4);
  Chain chain({6, 4, 8});
  const std::chrono::milliseconds per_sum(20);
  IdenticalProcesses world(2, per_sum);
  GradientReducer reducer(chain.weights, world, /*bucket_bytes=*/4);  // one tensor each
  const int updates = 2;
  for (int update = 0; update < updates; ++update) {
    backward(chain.loss(), Tensor(), reducer.backward_options());
    reducer.finish();
    for (size_t i = 0; i < chain.weights.size(); ++i) {
      EXPECT_TRUE(testing::all_close(chain.weights[i].grad(), chain.weights[i] * 4.0))
          << "update " << update << ", parameter " << i;
      chain.weights[i].set_grad(Tensor());
    }
  }
  const int64_t sums = updates * reducer.num_buckets();
  EXPECT_GE(reducer.stats().all_reduce_seconds, sums * 0.001 * per_sum.count());
}

// Backward also finishes leaves that are not parameters (an input that requires grad): the
// reducer ignores them, and their gradients stay this process's own.
TEST(GradientReducerTest, ALeafThatIsNotAParameterIsLeftAlone) {
  manual_seed(5);
  Tensor input = randn({4}).set_requires_grad();
  Tensor weight = randn({4}).set_requires_grad();
  IdenticalProcesses world(3);
  GradientReducer reducer({weight}, world);
  backward(sum(weight * input), Tensor(), reducer.backward_options());
  reducer.finish();
  EXPECT_TRUE(testing::all_close(weight.grad(), input * 3.0));
  EXPECT_TRUE(testing::all_close(input.grad(), weight));
}

// A .grad in a backend's blocked layout (set by hand; backward leaves them plain) is summed
// from its values, and replaced by a plain tensor, which the copy back needs.
TEST(GradientReducerTest, ABlockedGradIsSummedIntoAPlainOne) {
  manual_seed(6);
  Tensor weight = randn({1, 8, 2, 2}).set_requires_grad();
  const Tensor blocked = testing::blocked_input({1, 8, 2, 2});
  ASSERT_FALSE(blocked.is_plain());
  weight.set_grad(blocked);
  IdenticalProcesses world(2);
  GradientReducer reducer({weight}, world);
  reducer.finish();  // no backward: the .grad already there is this process's gradient
  ASSERT_TRUE(weight.grad().is_plain());
  EXPECT_TRUE(testing::all_close(weight.grad(), blocked.to_plain() * 2.0));
}

// A communicator whose peer went away: sums throw, on the reducer's thread; all of them, or
// the first `failing` (a link that comes back).
class BrokenLink final : public Communicator {
 public:
  explicit BrokenLink(int failing = std::numeric_limits<int>::max()) : failing_(failing) {}
  int rank() const override { return 0; }
  int size() const override { return 2; }
  void all_reduce_sum(float*, int64_t) override {
    if (failing_ > 0) {
      --failing_;
      throw Error("peer 1 closed the connection");
    }
  }
  void all_reduce_sum(double*, int64_t) override { throw Error("peer 1 closed the connection"); }
  void broadcast(void*, int64_t, int) override {}
  void abort(const std::string&) override {}

 private:
  int failing_;  // only the reducer's thread sums floats
};

TEST(GradientReducerTest, AFailedSumIsAnErrorFromFinishNotACrash) {
  Chain chain({3, 5});
  BrokenLink world;
  GradientReducer reducer(chain.weights, world, /*bucket_bytes=*/4);  // one bucket each
  backward(chain.loss(), Tensor(), reducer.backward_options());
  EXPECT_TRUE(testing::throws_error([&] { reducer.finish(); },
                                    {"summing gradient bucket", "across 2 processes failed",
                                     "peer 1 closed the connection"}));
}

// The later buckets' successful sums do not hide the first one's failure: the processes'
// gradients differ all the same.
TEST(GradientReducerTest, AFailedSumIsReportedThoughLaterOnesSucceed) {
  Chain chain({3, 5});
  BrokenLink world(/*failing=*/1);
  GradientReducer reducer(chain.weights, world, /*bucket_bytes=*/4);  // one bucket each
  backward(chain.loss(), Tensor(), reducer.backward_options());
  EXPECT_TRUE(testing::throws_error([&] { reducer.finish(); },
                                    {"summing gradient bucket 0", "peer 1 closed the connection"}));
}

TEST(GradientReducerTest, RefusesWhatItCannotSum) {
  Tensor doubles = randn({2}, DType::kFloat64).set_requires_grad();
  IdenticalProcesses world(2);
  EXPECT_TRUE(testing::throws_error([&] { GradientReducer reducer({doubles}, world); },
                                    {"parameter 0 is float64", "float32"}));
  Tensor floats = randn({2}).set_requires_grad();
  EXPECT_TRUE(testing::throws_error(
      [&] { GradientReducer reducer({floats}, world, /*bucket_bytes=*/0); },
      {"bucket_bytes must be positive, got 0"}));
}

}  // namespace
}  // namespace bitgrad
