// Open MPI's collectives as MpiWorld makes them (dist/mpi_communicator.cc), under `mpirun -np 2`:
// the float and double all-reduce and the broadcast (NCCL's unique id goes out with it), from
// rank 0 and from rank 1. The test starts its own binary under mpirun with MPI_COLLECTIVES_RANKS
// set; each rank checks what it received and exits 1 on a mismatch, which mpirun's exit status
// carries back.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "dist/world.h"
#include "gtest/gtest.h"

namespace bitgrad {
namespace {

int run_as_rank() {
  absl::StatusOr<std::unique_ptr<Communicator>> world = join_world();
  if (!world.ok()) {
    std::fprintf(stderr, "join_world: %s\n", std::string(world.status().message()).c_str());
    return 2;
  }
  Communicator& w = **world;
  bool ok = w.size() == 2;
  float f[3] = {1.0f + w.rank(), 10.0f, -2.5f};
  w.all_reduce_sum(f, 3);
  ok = ok && f[0] == 3.0f && f[1] == 20.0f && f[2] == -5.0f;
  double d[2] = {0.25 * (w.rank() + 1), 1e300};
  w.all_reduce_sum(d, 1);  // the count is honoured: d[1] stays
  ok = ok && d[0] == 0.75 && d[1] == 1e300;
  std::vector<unsigned char> id(128);
  for (size_t i = 0; i < id.size(); ++i) {
    id[i] = w.is_root() ? static_cast<unsigned char>(i * 7) : 0;
  }
  w.broadcast(id.data(), static_cast<int64_t>(id.size()), 0);
  for (size_t i = 0; i < id.size(); ++i) ok = ok && id[i] == static_cast<unsigned char>(i * 7);
  // From rank 1 (an evaluation error only it saw), longer than rank 0's own text.
  ok = ok && w.broadcast_text(w.rank() == 1 ? "from rank 1" : "", 1) == "from rank 1";
  if (!ok) std::fprintf(stderr, "%s: a collective gave the wrong values\n", w.name().c_str());
  return ok ? 0 : 1;
}

TEST(MpiCollectivesTest, AllReduceAndBroadcastReachEveryRank) {
  char self[4096] = {};
  ASSERT_GT(readlink("/proc/self/exe", self, sizeof(self) - 1), 0);
  const char* mpirun = std::getenv("MPIRUN");
  const std::string dir = ::testing::TempDir();
  // Shared-memory files in this test's own folder (see data_parallel_test.cc).
  const std::string command =
      "MPI_COLLECTIVES_RANKS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 "
      "ASAN_OPTIONS=detect_leaks=0 OMPI_MCA_btl_vader_backing_directory=" + dir +
      " OMPI_MCA_orte_tmpdir_base=" + dir + " " + (mpirun ? mpirun : "mpirun") +
      " -np 2 --oversubscribe " + self + " > " + dir + "/ranks.log 2>&1";
  EXPECT_EQ(std::system(command.c_str()), 0) << "see " << dir << "/ranks.log";
}

}  // namespace
}  // namespace bitgrad

int main(int argc, char** argv) {
  if (std::getenv("MPI_COLLECTIVES_RANKS") != nullptr) return bitgrad::run_as_rank();
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
