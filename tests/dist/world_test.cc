#include "dist/world.h"

#include <cstdlib>

#include "gtest/gtest.h"

namespace bitgrad {
namespace {

TEST(WorldTest, WithoutALauncherItIsOneProcessAndNeedsNoMpi) {
  unsetenv("OMPI_COMM_WORLD_SIZE");
  unsetenv("PMIX_RANK");
  unsetenv("PMI_SIZE");
  ASSERT_FALSE(launched_by_mpi());
  absl::StatusOr<std::unique_ptr<Communicator>> world = join_world();
  ASSERT_TRUE(world.ok()) << world.status();
  EXPECT_EQ((*world)->size(), 1);
  EXPECT_TRUE((*world)->is_root());
  EXPECT_EQ((*world)->name(), "rank 0 of 1");
  double values[2] = {1.5, -2};
  (*world)->all_reduce_sum(values, 2);  // a sum over one process
  EXPECT_EQ(values[0], 1.5);
  EXPECT_EQ(values[1], -2);
}

TEST(WorldTest, EachLaunchersVariableMarksAnMpiStart) {
  for (const char* variable : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE"}) {
    setenv(variable, "2", 1);
    EXPECT_TRUE(launched_by_mpi()) << variable;
    unsetenv(variable);
  }
  EXPECT_FALSE(launched_by_mpi());
}

}  // namespace
}  // namespace bitgrad
