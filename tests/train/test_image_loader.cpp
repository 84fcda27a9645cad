// The image path through the loader (data/image_source.h, train/prefetch.h) on a packed tree of
// JPEGs of assorted sizes the test writes: decoded and augmented batches are the same at 0, 1 and
// 3 loader threads across an epoch boundary, the global batch is the same at world 1 and 2, and a
// damaged image in the pack ends get() with kData naming the image's index and path; staging a
// pack (data.stage_dir) copies its index and shards once and the copy opens.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "data/image_codec.h"
#include "data/image_pack.h"
#include "data/image_source.h"
#include "data/stage.h"
#include "support/expect_error.h"
#include "support/tiny_run.h"
#include "train/batches.h"
#include "train/coordinator.h"
#include "train/prefetch.h"

namespace fs = std::filesystem;
using namespace ofa;

namespace {

// A packed tree: train/{a,b,c}/ with 12 JPEGs each (sizes 33..90 px, both orientations), val/ 2 each.
std::string packed_tree(const std::string& tag) {
  const fs::path root = fs::temp_directory_path() / ("ofa_image_loader_" + tag + "_" + std::to_string(::getpid()));
  fs::remove_all(root);
  data::ImageCodec codec;
  for (const std::string split : {"train", "val"}) {
    for (int k = 0; k < 3; ++k) {
      const fs::path dir = root / "tree" / split / std::string(1, char('a' + k));
      fs::create_directories(dir);
      for (int i = 0; i < (split == "train" ? 12 : 2); ++i) {
        data::Image img;
        img.width = 33 + (i * 7 + k * 11) % 58;
        img.height = 33 + (i * 13 + k * 5) % 58;
        img.rgb.resize(size_t(img.width) * img.height * 3);
        for (size_t p = 0; p < img.rgb.size(); ++p) img.rgb[p] = uint8_t((p * 31 + size_t(i) * 17 + size_t(k)) % 251);
        const auto jpeg = codec.encode_jpeg(img, 90);
        std::ofstream(dir / (std::to_string(i) + ".jpg"), std::ios::binary)
            .write(reinterpret_cast<const char*>(jpeg.data()), std::streamsize(jpeg.size()));
      }
    }
  }
  data::ImagePackOptions o;
  o.from = (root / "tree").string();
  o.out = (root / "packed").string();
  const auto plan = data::plan_image_pack(o);
  data::pack_image_shards(plan, 0, 1);
  data::finish_image_pack(plan);
  return o.out;
}

std::vector<int64_t> all_rows(int64_t n) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[size_t(i)] = i;
  return v;
}

std::shared_ptr<data::ImageSource> source(const std::string& prefix) {
  return std::make_shared<data::ImageSource>(std::make_shared<data::ImageDataset>(prefix, "train"),
                                             data::AugmentOptions{});
}

}  // namespace

TEST(Batches, DecodedBatchesAreTheSameAtAnyThreadCountAndWorldSize) {
  const std::string prefix = packed_tree("same");
  auto src = source(prefix);
  const auto rows = all_rows(src->size());  // 36 images: 36 / (2 shards x 5) -> 4 steps per epoch
  auto serial = dist::make_serial();
  const auto space = tiny_space();
  train::Coordinator coord(serial, space, 7, false);
  train::PhaseConfig phase;
  phase.resolutions = {24, 40};
  const std::vector<train::PhaseConfig> phases{phase};
  train::TrainBatches reference(src, rows, 1, 0, /*grad_accum=*/2, /*micro_batch=*/5, 7);
  const int64_t spe = reference.steps_per_epoch();
  for (int threads : {0, 1, 3}) {
    train::TrainBatches batches(source(prefix), rows, 1, 0, 2, 5, 7);
    train::BatchFeeder feeder(batches, coord, phases, {threads, 3});
    feeder.start_phase(0, spe + 2);
    for (int64_t s = 0; s < spe + 2; ++s) {
      const int res = coord.sample(0, phase, s).resolution;
      for (int m = 0; m < 2; ++m) {
        const auto got = feeder.get(0, s, m, res);
        const auto want = reference.get(reference.epoch_key(0, s), s % spe, m, res);
        ASSERT_EQ(got.images.sizes(), want.images.sizes());  // 5 images, 3 in an epoch's last batch
        ASSERT_EQ(got.images.sizes().slice(1), (std::vector<int64_t>{3, res, res}));
        EXPECT_TRUE(torch::equal(got.images, want.images)) << "threads " << threads << " step " << s << " micro " << m;
        EXPECT_TRUE(torch::equal(got.labels, want.labels));
      }
    }
  }
  // World 2, one micro-batch each = world 1, two micro-batches.
  train::TrainBatches r0(src, rows, 2, 0, 1, 5, 7), r1(src, rows, 2, 1, 1, 5, 7);
  for (int64_t s : {0, 2}) {
    EXPECT_TRUE(torch::equal(r0.get(0, s, 0, 32).images, reference.get(0, s, 0, 32).images));
    EXPECT_TRUE(torch::equal(r1.get(0, s, 0, 32).images, reference.get(0, s, 1, 32).images));
  }
  // The evaluation transform is deterministic: the same twice, different from training's.
  auto e1 = data::run_job(src->eval_job({0, 5}, 32)), e2 = data::run_job(src->eval_job({0, 5}, 32));
  EXPECT_TRUE(torch::equal(e1.images, e2.images));
  fs::remove_all(fs::path(prefix).parent_path());
}

TEST(Batches, ADamagedImageEndsGetWithItsIndexAndPath) {
  const std::string prefix = packed_tree("bad");
  // Overwrite the start of image 4's bytes (its JPEG signature) inside the train shard.
  auto set = std::make_shared<data::ImageDataset>(prefix, "train");
  const auto bytes = set->encoded(4);
  const std::string bad_path = set->path(4);
  set.reset();
  const std::string shard = prefix + "-train-00000.h5";
  std::string whole;
  {
    std::ifstream in(shard, std::ios::binary);
    whole.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  const size_t at = whole.find(std::string(bytes.begin(), bytes.end()));
  ASSERT_NE(at, std::string::npos) << "image 4's bytes not found in " << shard;
  {
    std::fstream f(shard, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(std::streamoff(at));
    f.write("XXXX", 4);
  }
  auto src = source(prefix);
  auto serial = dist::make_serial();
  const auto space = tiny_space();
  train::Coordinator coord(serial, space, 7, false);
  train::PhaseConfig phase;
  phase.resolutions = {24};
  const std::vector<train::PhaseConfig> phases{phase};
  // Batches of 6: the first (built on the spot) does not hold image 4 with this seed, a later
  // one (prefetched: decoded on a worker) does, and its error reaches get() on this thread.
  train::TrainBatches batches(src, all_rows(src->size()), 1, 0, 1, 6, 7);
  train::BatchFeeder feeder(batches, coord, phases, {2, 2});
  const int64_t steps = batches.steps_per_epoch();
  feeder.start_phase(0, steps);
  int64_t failed_at = -1;
  for (int64_t s = 0; s < steps && failed_at < 0; ++s) {
    try {
      feeder.get(0, s, 0, 24);
    } catch (const Error& e) {
      failed_at = s;
      EXPECT_EQ(int(e.kind()), int(ErrorKind::kData)) << e.what();
      EXPECT_NE(std::string(e.what()).find("image 4 ("), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(bad_path), std::string::npos) << e.what();
    }
  }
  EXPECT_GT(failed_at, 0) << "image 4 must be in a batch after the first (else change the seed)";
  EXPECT_EQ(feeder.built_sync(), 1) << "the failing batch was decoded by a worker";
  fs::remove_all(fs::path(prefix).parent_path());
}

TEST(Batches, StagingAPackCopiesIndexAndShardsOnce) {
  const std::string prefix = packed_tree("stage");
  const std::string dir = (fs::path(prefix).parent_path() / "stage").string();
  // Files that only share the prefix are not the pack's: not staged.
  std::ofstream(prefix + "-notes.txt") << "not a shard\n";
  std::ofstream(prefix + "-train-00001.h5.tmp") << "an interrupted pack's leftover\n";
  for (const std::string& named : {prefix, prefix + ".h5"}) {
    const auto first = data::stage_packed(named, dir, /*copy=*/true);
    EXPECT_EQ(first.copied + first.kept, 3) << named;  // PREFIX.h5, PREFIX-train-00000.h5, PREFIX-val-00000.h5
    const auto again = data::stage_packed(named, dir, true);
    EXPECT_EQ(again.copied, 0) << named;
    EXPECT_EQ(again.kept, 3) << named;
    EXPECT_EQ(data::ImageDataset(again.source, "train").size(), 36);
    EXPECT_EQ(data::stage_packed(named, dir, /*copy=*/false).source, again.source);
  }
  EXPECT_FALSE(fs::exists(fs::path(dir) / (fs::path(prefix).filename().string() + "-notes.txt")));
  fs::remove_all(fs::path(prefix).parent_path());
}
