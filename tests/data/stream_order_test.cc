#include "data/stream_order.h"

#include <algorithm>
#include <set>

#include "gtest/gtest.h"
#include "tests/testing/assertions.h"

namespace bitgrad {
namespace {

std::vector<int64_t> positions(const StreamOrder& order, int64_t begin, int64_t end) {
  std::vector<int64_t> out;
  for (int64_t p = begin; p < end; ++p) out.push_back(order.example(p));
  return out;
}

TEST(DeriveSeedTest, EveryArgumentChangesTheSeed) {
  const uint64_t base = derive_seed(1, SeedPurpose::kShuffle, 0);
  EXPECT_EQ(base, derive_seed(1, SeedPurpose::kShuffle, 0));
  EXPECT_NE(base, derive_seed(2, SeedPurpose::kShuffle, 0));
  EXPECT_NE(base, derive_seed(1, SeedPurpose::kAugment, 0));
  EXPECT_NE(base, derive_seed(1, SeedPurpose::kShuffle, 1));
}

// Over a grid of small arguments no two derived seeds are equal: seed 0's augmentation does not
// replay seed 3's shuffle, as seed ^ purpose mixed only once would make it.
TEST(DeriveSeedTest, SmallArgumentsNeverShareASeed) {
  std::set<uint64_t> seeds;
  size_t derived = 0;
  for (uint64_t seed = 0; seed < 8; ++seed) {
    for (SeedPurpose purpose : {SeedPurpose::kShuffle, SeedPurpose::kAugment,
                                SeedPurpose::kFewShot, SeedPurpose::kMixup}) {
      for (uint64_t index = 0; index < 8; ++index, ++derived) {
        seeds.insert(derive_seed(seed, purpose, index));
      }
    }
  }
  EXPECT_EQ(seeds.size(), derived);
}

TEST(StreamOrderTest, WithoutShuffleItIsFileOrderModuloN) {
  const StreamOrder order(5, /*shuffle=*/false, 9);
  EXPECT_EQ(positions(order, 3, 9), (std::vector<int64_t>{3, 4, 0, 1, 2, 3}));
}

TEST(StreamOrderTest, EachEpochIsAFreshPermutation) {
  const StreamOrder order(50, /*shuffle=*/true, 3);
  std::vector<int64_t> epoch0 = positions(order, 0, 50), epoch1 = positions(order, 50, 100);
  EXPECT_NE(epoch0, epoch1);
  std::vector<int64_t> identity(50);
  for (int64_t i = 0; i < 50; ++i) identity[i] = i;
  EXPECT_NE(epoch0, identity);
  std::sort(epoch0.begin(), epoch0.end());
  std::sort(epoch1.begin(), epoch1.end());
  EXPECT_EQ(epoch0, identity);
  EXPECT_EQ(epoch1, identity);
}

TEST(StreamOrderTest, APositionDependsOnlyOnSeedAndPosition) {
  const StreamOrder forward(7, true, 11);
  const std::vector<int64_t> expected = positions(forward, 0, 70);
  const StreamOrder backward(7, true, 11);  // asked far ahead first, then from the start
  for (int64_t p = 69; p >= 0; --p) EXPECT_EQ(backward.example(p), expected[p]) << p;
  EXPECT_NE(positions(StreamOrder(7, true, 12), 0, 70), expected);
}

TEST(StreamOrderTest, AnEmptySetAndANegativePositionAreErrors) {
  EXPECT_TRUE(testing::throws_error([] { StreamOrder(0, true, 1); }, {"data set is empty"}));
  for (bool shuffle : {false, true}) {
    const StreamOrder order(5, shuffle, 1);
    EXPECT_TRUE(testing::throws_error([&] { order.example(-1); }, {"negative position -1"}));
  }
}

}  // namespace
}  // namespace bitgrad
