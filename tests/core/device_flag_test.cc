// check_device_flag: the one check behind every program's --device flag.
#include "core/storage.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace bitgrad {
namespace {

using ::testing::HasSubstr;

TEST(DeviceFlagTest, CpuIsAlwaysUsable) { EXPECT_TRUE(check_device_flag("cpu").ok()); }

TEST(DeviceFlagTest, UnknownDeviceNamesTheFlagAndTheChoices) {
  for (const char* value : {"tpu", "", "CUDA", "cuda:0"}) {
    for (const absl::Status& status : {check_device_flag(value), check_device_name(value)}) {
      EXPECT_TRUE(absl::IsInvalidArgument(status)) << value;
      EXPECT_THAT(std::string(status.message()),
                  HasSubstr(std::string("--device: expected cpu or cuda, got \"") + value + "\""));
    }
  }
}

// The name check alone accepts cuda on any machine: configs are checked before a run.
TEST(DeviceFlagTest, TheNameCheckDoesNotLookAtTheMachine) {
  EXPECT_TRUE(check_device_name("cpu").ok());
  EXPECT_TRUE(check_device_name("cuda").ok());
}

// What an accepted value names: a config's "" is the CPU; under a launcher each process names
// its own GPU.
TEST(DeviceFlagTest, AnAcceptedValueNamesItsDevice) {
  EXPECT_EQ(Device::from_flag("cpu"), Device::cpu());
  EXPECT_EQ(Device::from_flag(""), Device::cpu());
  EXPECT_EQ(Device::from_flag("cpu", 3), Device::cpu());
  EXPECT_EQ(Device::from_flag("cuda"), Device::cuda(0));
  EXPECT_EQ(Device::from_flag("cuda", 3), Device::cuda(3));
}

// This test binary links no CUDA runtime, as on a machine built without CUDA.
TEST(DeviceFlagTest, CudaWithoutTheRuntimeSaysWhyAndWhatToUse) {
  absl::Status status = check_device_flag("cuda");
  EXPECT_TRUE(absl::IsFailedPrecondition(status));
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("--device=cuda: this machine has no usable GPU"));
  EXPECT_THAT(std::string(status.message()), HasSubstr("built without CUDA"));
  EXPECT_THAT(std::string(status.message()), HasSubstr("use --device=cpu"));
}

}  // namespace
}  // namespace bitgrad
