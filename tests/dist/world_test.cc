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

// The GPU a process takes: its index on its machine, from the launcher that started it.
TEST(WorldTest, TheLocalRankComesFromTheLaunchersVariable) {
  const char* const variables[] = {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID",
                                   "SLURM_LOCALID"};
  for (const char* variable : variables) unsetenv(variable);
  EXPECT_EQ(local_rank(), 0);
  for (const char* variable : variables) {
    setenv(variable, "3", 1);
    EXPECT_EQ(local_rank(), 3) << variable;
    unsetenv(variable);
  }
  // mpirun inside a Slurm batch job: its processes may inherit the batch step's SLURM_LOCALID,
  // the same for all of them; mpirun's own variable says which is which.
  setenv("SLURM_LOCALID", "0", 1);
  setenv("OMPI_COMM_WORLD_LOCAL_RANK", "1", 1);
  EXPECT_EQ(local_rank(), 1);
  unsetenv("SLURM_LOCALID");
  unsetenv("OMPI_COMM_WORLD_LOCAL_RANK");
}

}  // namespace
}  // namespace bitgrad
