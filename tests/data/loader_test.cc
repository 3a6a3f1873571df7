#include "data/loader.h"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/random.h"
#include "data/bit_preprocess.h"
#include "data/image_io.h"
#include "data/stream_order.h"
#include "gtest/gtest.h"
#include "tests/testing/address_space.h"
#include "tests/testing/assertions.h"

namespace bitgrad {
namespace {

using testing::fails_naming;

// n gray 4x4 images; every pixel of image i is 10 * i; label i % 3.
ImageSet numbered(int64_t n) {
  ImageSet set;
  set.source = "numbered.bin";
  set.pixels = empty({n, 4, 4, 1}, DType::kUInt8);
  for (int64_t i = 0; i < n; ++i) {
    std::fill_n(set.pixels.mutable_data<uint8_t>() + i * 16, 16, static_cast<uint8_t>(10 * i));
    set.labels.push_back(i % 3);
  }
  set.class_names = {"a", "b", "c"};
  return set;
}

LoaderOptions train_options() {
  LoaderOptions options;
  options.batch_size = 4;
  options.resolution = {6, 3};
  options.seed = 42;
  return options;
}

// Evaluation: batches of 2, 8x8 through the eval path, each image once.
LoaderOptions single_pass_options() {
  LoaderOptions options;
  options.batch_size = 2;
  options.resolution = {8, 8};
  options.augment = false;
  options.single_pass = true;
  return options;
}

std::vector<Batch> take(Loader& loader, int count) {
  std::vector<Batch> out;
  for (int i = 0; i < count; ++i) {
    absl::StatusOr<Batch> batch = loader.next();
    EXPECT_TRUE(batch.ok()) << batch.status();
    if (batch.ok()) out.push_back(*std::move(batch));
  }
  return out;
}

std::vector<Batch> run(const ImageSet& set, const LoaderOptions& options, int count) {
  absl::StatusOr<std::unique_ptr<Loader>> loader = Loader::open(set, options);
  EXPECT_TRUE(loader.ok()) << loader.status();
  return take(**loader, count);
}

void expect_same(const std::vector<Batch>& a, const std::vector<Batch>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].step, b[i].step);
    EXPECT_EQ(a[i].examples, b[i].examples) << "step " << a[i].step;
    EXPECT_EQ(a[i].images.to_vector<float>(), b[i].images.to_vector<float>()) << a[i].step;
    EXPECT_EQ(a[i].labels.to_vector<int64_t>(), b[i].labels.to_vector<int64_t>()) << a[i].step;
  }
}

TEST(LoaderTest, PlainModeIsFileOrderModuloNThroughTheEvalPath) {
  LoaderOptions options;
  options.batch_size = 3;
  options.resolution = {4, 4};  // the images' own size: no resize
  options.augment = false;
  options.shuffle = false;
  const std::vector<Batch> batches = run(numbered(5), options, 3);
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_EQ(batches[1].examples, (std::vector<int64_t>{3, 4, 0}));
  EXPECT_EQ(batches[2].examples, (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(batches[1].labels.to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 0}));
  ASSERT_EQ(batches[1].images.shape(), Shape({3, 3, 4, 4}));
  EXPECT_FLOAT_EQ(batches[1].images.at<float>({0, 2, 3, 1}), static_cast<float>(30 / 127.5 - 1));
  EXPECT_FLOAT_EQ(batches[1].images.at<float>({1, 0, 0, 0}), static_cast<float>(40 / 127.5 - 1));
}

TEST(LoaderTest, BatchesDoNotDependOnTheNumberOfWorkers) {
  const ImageSet set = numbered(7);
  LoaderOptions one = train_options(), many = train_options();
  one.workers = 1;
  many.workers = 3;
  many.prefetch = 2;
  const std::vector<Batch> a = run(set, one, 6), b = run(set, many, 6);
  expect_same(a, b);
  EXPECT_NE(a[0].images.to_vector<float>(), a[1].images.to_vector<float>());
}

TEST(LoaderTest, WorkersFillingSlicesOfOneBatchGiveWhatOneThreadBuilds) {
  const ImageSet set = numbered(30);
  LoaderOptions options = train_options();
  options.batch_size = 21;  // three slices of at most 8 examples per batch
  options.workers = 3;
  options.prefetch = 1;
  const std::vector<Batch> batches = run(set, options, 4);
  const StreamOrder order(set.size(), options.shuffle, options.seed);
  std::vector<Batch> expected;
  for (int64_t step = 0; step < 4; ++step) {
    expected.push_back(*build_batch(set, options, order, step));
  }
  expect_same(batches, expected);
  EXPECT_EQ(batches[1].examples.size(), 21u);
}

TEST(LoaderTest, ResumingAtAStepGivesTheSameBatches) {
  const ImageSet set = numbered(7);
  const std::vector<Batch> all = run(set, train_options(), 6);
  LoaderOptions resumed = train_options();
  resumed.first_step = 4;
  expect_same(run(set, resumed, 2), {all[4], all[5]});
}

TEST(LoaderTest, AShardYieldsItsStepsOfTheStreamAndResumesInsideIt) {
  // Two of every three steps, starting at the second: 1, 2, 4, 5, 7, ...
  const ImageSet set = numbered(7);
  const std::vector<Batch> all = run(set, train_options(), 9);
  LoaderOptions sharded = train_options();
  sharded.shard = {.period = 3, .offset = 1, .count = 2};
  sharded.first_step = 1;
  sharded.workers = 3;
  expect_same(run(set, sharded, 5), {all[1], all[2], all[4], all[5], all[7]});
  sharded.first_step = 4;
  expect_same(run(set, sharded, 3), {all[4], all[5], all[7]});
  sharded.first_step = 3;  // not one of the shard's steps
  EXPECT_TRUE(fails_naming(Loader::open(set, sharded).status(), {"first step 3"}));
  sharded.first_step = 0;  // before the shard's offset in its period
  EXPECT_TRUE(fails_naming(Loader::open(set, sharded).status(), {"first step 0"}));
  sharded.shard = {.period = 2, .offset = 1, .count = 2};
  EXPECT_TRUE(fails_naming(Loader::open(set, sharded).status(), {"must fit in the period"}));
}

TEST(LoaderTest, ASinglePassShardCountsOnlyItsBatches) {
  // 5 images in batches of 2 are steps 0, 1, 2; the shard of offset 1 in every 2 has step 1.
  LoaderOptions options = single_pass_options();
  options.shard = {.period = 2, .offset = 1, .count = 1};
  options.first_step = 1;
  absl::StatusOr<std::unique_ptr<Loader>> loader = Loader::open(numbered(5), options);
  ASSERT_TRUE(loader.ok()) << loader.status();
  EXPECT_EQ((*loader)->num_steps(), 1);
  EXPECT_EQ(take(**loader, 1)[0].examples, (std::vector<int64_t>{2, 3}));
  options.shard.offset = 0;
  options.first_step = 0;
  loader = Loader::open(numbered(5), options);
  ASSERT_TRUE(loader.ok()) << loader.status();
  EXPECT_EQ((*loader)->num_steps(), 2);
  EXPECT_EQ(take(**loader, 2)[1].examples, (std::vector<int64_t>{4}));
}

// Steps 0-4 of 9 images in batches of 2; the shard of one in every three takes steps 0 and 3.
TEST(LoaderTest, ASinglePassShardCountsNoMoreThanItsShareOfTheLastPeriod) {
  LoaderOptions options = single_pass_options();
  options.shard = {.period = 3, .offset = 0, .count = 1};
  absl::StatusOr<std::unique_ptr<Loader>> loader = Loader::open(numbered(9), options);
  ASSERT_TRUE(loader.ok()) << loader.status();
  EXPECT_EQ((*loader)->num_steps(), 2);
  EXPECT_EQ(take(**loader, 2)[1].examples, (std::vector<int64_t>{6, 7}));
}

TEST(LoaderTest, TheSeedDecidesOrderAndAugmentation) {
  const ImageSet set = numbered(7);
  LoaderOptions other = train_options();
  other.seed = 43;
  const Batch a = run(set, train_options(), 1)[0], b = run(set, other, 1)[0];
  EXPECT_NE(a.examples, b.examples);
  for (float v : a.images.to_vector<float>()) {
    EXPECT_GE(v, -1.0f);
    EXPECT_LE(v, 1.0f);
  }
}

TEST(LoaderTest, SinglePassCoversTheSetOnceWithAShortLastBatch) {
  LoaderOptions options = single_pass_options();
  absl::StatusOr<std::unique_ptr<Loader>> loader = Loader::open(numbered(5), options);
  ASSERT_TRUE(loader.ok()) << loader.status();
  EXPECT_EQ((*loader)->num_steps(), 3);
  const std::vector<Batch> batches = take(**loader, 3);
  EXPECT_EQ(batches[2].examples, (std::vector<int64_t>{4}));
  EXPECT_EQ(batches[2].images.shape(), Shape({1, 3, 8, 8}));
  EXPECT_TRUE(testing::throws_error([&] { (void)(*loader)->next(); }, {"all 3 batches"}));
}

TEST(LoaderTest, JpegFilesAreDecodedNoLargerThanEachPathNeeds) {
  const std::string jpeg = "tests/data/testdata/rgb.jpg";  // 13x17
  const ImageSet set{"folder", Tensor(), {jpeg}, {0}, {"x"}};
  auto decoded = [&](DecodeSize at_least) {
    absl::StatusOr<Image> image = read_image(jpeg, at_least);
    EXPECT_TRUE(image.ok()) << image.status();
    return *image;
  };
  // Eval: resized to the crop, so decoded at 4x5 (1/4 scale) first.
  LoaderOptions eval = single_pass_options();
  eval.batch_size = 1;
  eval.resolution = {16, 4};  // the precrop is the training path's
  const std::vector<Batch> evaluated = run(set, eval, 1);
  ASSERT_EQ(evaluated.size(), 1u);
  EXPECT_EQ(evaluated[0].images.to_vector<float>(),
            preprocess_for_eval(decoded({4, 4}), 4).to_vector<float>());
  EXPECT_NE(evaluated[0].images.to_vector<float>(),
            preprocess_for_eval(decoded({}), 4).to_vector<float>());
  // Train: resized to the precrop, then cropped.
  LoaderOptions train = train_options();
  train.batch_size = 1;
  train.resolution = {6, 4};
  const std::vector<Batch> trained = run(set, train, 1);
  ASSERT_EQ(trained.size(), 1u);
  Generator generator(derive_seed(train.seed, SeedPurpose::kAugment, 0));
  const Image precrop_sized = decoded({6, 6});
  const Augmentation augmentation = draw_augmentation(train.resolution, precrop_sized.height,
                                                      precrop_sized.width, generator);
  EXPECT_EQ(trained[0].images.to_vector<float>(),
            preprocess_for_train(precrop_sized, train.resolution, augmentation)
                .to_vector<float>());
  // An inception box may be half of each side (a quarter of the area): decoded at 8 first.
  train.resolution = {.precrop = 4, .crop = 4, .min_box_area = 0.25};
  const std::vector<Batch> boxed = run(set, train, 1);
  ASSERT_EQ(boxed.size(), 1u);
  const Image box_sized = decoded({8, 8});
  Generator box_generator(derive_seed(train.seed, SeedPurpose::kAugment, 0));
  const Augmentation box = draw_augmentation(train.resolution, box_sized.height,
                                             box_sized.width, box_generator);
  EXPECT_GT(box.box_height, 0);
  EXPECT_EQ(boxed[0].images.to_vector<float>(),
            preprocess_for_train(box_sized, train.resolution, box).to_vector<float>());
}

// Four image files of tests/data/testdata, in two classes.
ImageSet four_files() {
  const std::string dir = "tests/data/testdata/";
  return {"files",
          Tensor(),
          {dir + "rgb.jpg", dir + "rgb8.png", dir + "gray.jpg", dir + "cmyk.jpg"},
          {0, 1, 0, 1},
          {"a", "b"}};
}

// Augmentation is drawn per position in the stream, not per place in a batch: an image seen
// again in a later epoch, at the same place in its batch, is cropped and flipped anew.
TEST(LoaderTest, EachEpochAugmentsTheSameImageAnew) {
  LoaderOptions options = train_options();
  options.shuffle = false;
  const std::vector<Batch> epochs = run(four_files(), options, 2);
  ASSERT_EQ(epochs.size(), 2u);
  EXPECT_EQ(epochs[0].examples, epochs[1].examples);
  EXPECT_NE(epochs[0].images.to_vector<float>(), epochs[1].images.to_vector<float>());
}

TEST(LoaderTest, CachedDecodesGiveTheSameBatches) {
  const ImageSet files = four_files();
  LoaderOptions cached = train_options();
  cached.batch_size = 3;  // 3 epochs over 4 images in 4 steps: every image comes back
  LoaderOptions uncached = cached;
  uncached.decoded_cache_bytes = 0;
  expect_same(run(files, cached, 4), run(files, uncached, 4));
}

TEST(LoaderTest, SinglePassesShareADecodedCacheThatOutlivesThem) {
  const ImageSet files = four_files();
  const LoaderOptions plain = single_pass_options();
  DecodedImageCache shared(files, decode_size(plain), int64_t{1} << 20);
  LoaderOptions sharing = plain;
  sharing.shared_decoded = &shared;
  const std::vector<Batch> first = run(files, sharing, 2);
  EXPECT_GT(shared.bytes(), 0);
  EXPECT_EQ(shared.hits(), 0);
  const std::vector<Batch> second = run(files, sharing, 2);  // a later evaluation
  EXPECT_EQ(shared.hits(), 4);
  expect_same(first, run(files, plain, 2));
  expect_same(second, first);
  // A cache made for another decode size, or another set, is refused.
  DecodedImageCache other_size(files, {16, 16}, 0);
  sharing.shared_decoded = &other_size;
  EXPECT_TRUE(fails_naming(Loader::open(files, sharing).status(),
                           {"shared decoded-image cache", "16x16", "needs 8x8"}));
  const ImageSet numbers = numbered(4);  // the cache refers to its set
  DecodedImageCache other_set(numbers, decode_size(plain), 0);
  sharing.shared_decoded = &other_set;
  EXPECT_TRUE(fails_naming(Loader::open(files, sharing).status(), {"numbered.bin"}));
}

TEST(LoaderTest, DecodingErrorsNameTheFile) {
  // A file that vanished after the folder was listed.
  const ImageSet set{"folder", Tensor(), {"/nonexistent/missing.png"}, {0}, {"x"}};
  absl::StatusOr<std::unique_ptr<Loader>> loader = Loader::open(set, train_options());
  ASSERT_TRUE(loader.ok());
  EXPECT_TRUE(fails_naming((*loader)->next().status(), {"/nonexistent/missing.png"}));
}

// The batch is allocated on a worker thread: a size no machine can hold must come back from
// next() as an error that gives the size, not end the process.
TEST(LoaderTest, ABatchTooLargeForMemoryIsAnErrorFromNext) {
  LoaderOptions options = single_pass_options();
  options.resolution = {int64_t{1} << 27, int64_t{1} << 27};  // 2^56 floats: past any address space
  absl::StatusOr<std::unique_ptr<Loader>> loader = Loader::open(numbered(3), options);
  ASSERT_TRUE(loader.ok()) << loader.status();
  const absl::Status status = (*loader)->next().status();
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted) << status;
  EXPECT_TRUE(fails_naming(status, {"step 0", "no memory for a batch of 2 images of "
                                    "3x134217728x134217728 floats", "out of CPU memory"}));
  // Past int64 elements, the shape itself is refused: an error too, not std::terminate.
  options.resolution = {int64_t{1} << 31, int64_t{1} << 31};
  loader = Loader::open(numbered(3), options);
  ASSERT_TRUE(loader.ok()) << loader.status();
  EXPECT_TRUE(fails_naming((*loader)->next().status(),
                           {"a batch of 2 images of 3x2147483648x2147483648 floats",
                            "more than 2^63 elements"}));
}

// Opens a loader of 1000 workers with only 512 MiB of address space left (8 MiB of stack
// each), prints open()'s status and exits 0 when it is Unavailable.
[[noreturn]] void open_loader_without_room_for_its_threads() {
  if (!testing::limit_address_space_to_current_plus(size_t{512} << 20)) std::_Exit(2);
  LoaderOptions options = train_options();
  options.workers = 1000;
  const absl::Status status = Loader::open(numbered(2), options).status();
  std::fprintf(stderr, "%s\n", status.ToString().c_str());
  std::_Exit(absl::IsUnavailable(status) ? 0 : 1);
}

// Threads that cannot all start make open() return an error, not end the process through
// std::terminate.
TEST(LoaderTest, WorkerThreadsThatCannotStartAreAnError) {
  if (!testing::address_space_limits_work()) GTEST_SKIP() << "no address-space limit fits";
  EXPECT_EXIT(open_loader_without_room_for_its_threads(), ::testing::ExitedWithCode(0),
              "numbered.bin: could not start 1000 worker threads");
}

TEST(LoaderTest, BadOptionsAreRefused) {
  LoaderOptions options = train_options();
  options.resolution = {3, 6};
  EXPECT_TRUE(fails_naming(Loader::open(numbered(2), options).status(),
                           {"numbered.bin", "precrop size 3 is smaller than the crop 6"}));
  options = train_options();
  options.batch_size = 0;
  EXPECT_TRUE(fails_naming(Loader::open(numbered(2), options).status(), {"batch size 0"}));
  options = train_options();
  options.workers = 0;
  EXPECT_TRUE(fails_naming(Loader::open(numbered(2), options).status(), {"0 workers"}));
  options = train_options();
  options.resolution.min_box_area = 1.5;
  EXPECT_TRUE(fails_naming(Loader::open(numbered(2), options).status(),
                           {"minimum box area 1.5", "[0, 1]"}));
  options = train_options();
  options.prefetch = 0;  // no batch could ever be built
  EXPECT_TRUE(fails_naming(Loader::open(numbered(2), options).status(), {"0 prefetched"}));
  EXPECT_TRUE(fails_naming(Loader::open(numbered(0), train_options()).status(),
                           {"numbered.bin holds no images"}));
}

}  // namespace
}  // namespace bitgrad
