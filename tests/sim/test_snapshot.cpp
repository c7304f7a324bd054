// Save-states and branching with a tiny random-weight world:
//   a saved and re-loaded session continues bit-identically (latents and decoded frames, CPU);
//   a truncated file, a flipped byte anywhere, another model, another geometry, a file that is not
//   a snapshot: each refused with a clear wl::Error, and the loop's running session untouched;
//   K = 4 branches from one state give four different futures, and branch i continued alone equals
//   branch i of the batch.
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "envs/vpt_actions.h"
#include "kernels/core/error.h"
#include "model/checkpoint.h"
#include "sim/loop.h"
#include "sim/snapshot.h"
#include "sim/world_model.h"

namespace wl {
namespace {

namespace fs = std::filesystem;

const WorldModel& tiny_world() {
  static std::unique_ptr<WorldModel> model = WorldModel::random_tiny("voxel", 1);
  return *model;
}

ActionTensor actions_for(const ActionSpec& spec, int T, int salt) {
  ActionTensor a{T, spec.width(), std::vector<float>(static_cast<size_t>(T) * spec.width(), 0.f)};
  for (int t = 0; t < T; ++t) {
    a.row(t)[(t + salt) % kVptButtonCount] = 1.f;
    a.row(t)[kVoxelPitchDim] = static_cast<float>((t + salt) % kVptCameraBins);
    a.row(t)[kVoxelYawDim] = kVptCameraNullBin;
  }
  return a;
}

struct Continuation {
  at::Tensor latents, frames;
};

// `blocks` more blocks of 2 latent frames, actions depending on the block index.
Continuation run(Session& s, int blocks, int first_salt) {
  std::vector<at::Tensor> latents, frames;
  for (int b = 0; b < blocks; ++b) {
    std::vector<ActionTensor> actions;
    for (int64_t i = 0; i < s.batch(); ++i) actions.push_back(actions_for(s.model().action_spec(), 2, first_salt + b + 3 * i));
    LatentBlock block = s.denoise_block(actions, sampler_for_steps(s.model().info(), 4));
    s.commit_state(block);
    latents.push_back(block.latents);
    frames.push_back(s.decode(block).frames);
  }
  return {at::cat(latents, 2), at::cat(frames, 2)};
}

fs::path temp_dir(const std::string& name) {
  fs::path p = fs::temp_directory_path() / ("wl_snapshot_" + std::to_string(::getpid()) + "_" + name);
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write(const fs::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary | std::ios::trunc).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// [SECTION] round trip

TEST(Snapshot, RoundTripContinuesBitIdentically) {
  const WorldModel& model = tiny_world();
  fs::path dir = temp_dir("roundtrip");
  for (int before : {1, 5}) {   // 5 blocks: the decoder context (8 latents) is full and rolling
    Session a(model, StatePolicy::parse("sink+window:2"), {42});
    run(a, before, 0);
    std::string path = (dir / "s.wlsnap").string();
    save_snapshot(path, a, {4, 2});
    Continuation want = run(a, 3, 100);

    Snapshot snap = read_snapshot(path, model);
    EXPECT_EQ(snap.settings.block_frames, 2);
    Session b = apply_snapshot(snap, model);
    EXPECT_EQ(b.next_frame(), 2 * before);
    EXPECT_EQ(b.state().policy().name(), "sink+window:2");
    Continuation got = run(b, 3, 100);
    EXPECT_TRUE(at::equal(want.latents, got.latents)) << "latents after " << before << " blocks";
    EXPECT_TRUE(at::equal(want.frames, got.frames)) << "decoded frames after " << before << " blocks, max diff "
                                                    << (want.frames - got.frames).abs().max().item<float>();
  }
  fs::remove_all(dir);
}

// [SECTION] refusals

TEST(Snapshot, EveryDamagedOrForeignFileIsRefusedWithAClearError) {
  const WorldModel& model = tiny_world();
  fs::path dir = temp_dir("refused");
  Session s(model, StatePolicy{}, {3});
  run(s, 2, 0);
  fs::path good = dir / "good.wlsnap";
  save_snapshot(good.string(), s, {});
  const std::string bytes = slurp(good);
  ASSERT_GT(bytes.size(), 1000u);
  auto refused = [&](const std::string& content, const std::string& why, const std::string& expect) {
    fs::path p = dir / "bad.wlsnap";
    write(p, content);
    try {
      read_snapshot(p.string(), model);
      ADD_FAILURE() << why << ": accepted";
    } catch (const Error& e) {
      std::string m = e.what();
      EXPECT_NE(m.find(p.string()), std::string::npos) << why << ": " << m;
      if (!expect.empty()) {
        EXPECT_NE(m.find(expect), std::string::npos) << why << ": " << m;
      }
    }
  };
  EXPECT_NO_THROW(read_snapshot(good.string(), model));

  for (size_t n : {size_t{0}, size_t{7}, size_t{100}, bytes.size() / 2, bytes.size() - 1})
    refused(bytes.substr(0, n), str("truncated to ", n), "damaged");
  // A flipped byte: every header byte, then every 97th byte of the data.
  uint64_t header = 0;
  std::memcpy(&header, bytes.data(), 8);
  for (size_t i = 0; i < bytes.size(); i += (i < 8 + header ? 1 : 97)) {
    for (uint8_t mask : {uint8_t{0x01}, uint8_t{0x80}}) {
      std::string flipped = bytes;
      flipped[i] = static_cast<char>(flipped[i] ^ mask);
      refused(flipped, str("byte ", i, " ^ ", int(mask)), "");
    }
  }
  auto other = WorldModel::random_tiny("voxel", 2);
  EXPECT_THROW(
      {
        try {
          read_snapshot(good.string(), *other);
        } catch (const Error& e) {
          EXPECT_NE(std::string(e.what()).find("another model or config"), std::string::npos) << e.what();
          throw;
        }
      },
      Error);
  auto smaller = WorldModel::random_tiny("voxel", 1, {}, 4);   // same weights, another latent grid
  EXPECT_THROW(read_snapshot(good.string(), *smaller), Error);
  fs::path not_snapshot = dir / "model.safetensors";
  save_dit_checkpoint(not_snapshot.string(), model.dit().weights(), model.dit().config());
  refused(slurp(not_snapshot), "a model file", "not a worldloop snapshot");
  fs::remove_all(dir);
}

TEST(Snapshot, TheLoopRefusesABadFileAndKeepsPlaying) {
  const WorldModel& model = tiny_world();
  fs::path dir = temp_dir("loop");
  auto play = [&](bool corrupt_load) {
    MemoryDisplay display(64, 64);
    auto source = make_scripted_actions("sticky_random", "voxel", 9);
    VirtualClock clock;
    std::vector<uint64_t> hashes;
    LoopInfo info{.model = &model, .display = &display, .actions = source.get(), .clock = &clock, .threaded = false,
                  .snapshot_dir = dir.string()};
    info.record = [&](const FrameTarget& f, int64_t) {
      hashes.push_back(hash_bytes(f.pixels, static_cast<size_t>(f.height * f.row_pitch), 0));
    };
    FrameLoop loop(info);
    for (int i = 0; i < 20; ++i) loop.tick();
    if (corrupt_load) {
      EXPECT_TRUE(loop.save("slot0"));
      std::string bytes = slurp(dir / "slot0.wlsnap");
      bytes[bytes.size() - 5] ^= 0x10;
      write(dir / "slot0.wlsnap", bytes);
      EXPECT_FALSE(loop.load("slot0"));
      EXPECT_NE(loop.last_message().find("damaged"), std::string::npos) << loop.last_message();
      EXPECT_FALSE(loop.load("no_such_slot"));
    }
    for (int i = 0; i < 40; ++i) loop.tick();
    return hashes;
  };
  EXPECT_EQ(play(false), play(true)) << "a refused load changes nothing that is shown";
  fs::remove_all(dir);
}

TEST(Snapshot, QuickSaveAndLoadThroughTheLoopRewind) {
  const WorldModel& model = tiny_world();
  fs::path dir = temp_dir("quick");
  MemoryDisplay display(64, 64);
  InputSnapshot f5, f9;
  f5.keys_pressed.set(62);
  f9.keys_pressed.set(66);
  for (int i = 0; i < 10; ++i) display.push_input({});
  display.push_input(f5);
  for (int i = 0; i < 20; ++i) display.push_input({});
  display.push_input(f9);
  auto source = make_scripted_actions("sticky_random", "voxel", 4);
  VirtualClock clock;
  FrameLoop loop({.model = &model, .display = &display, .actions = source.get(), .clock = &clock, .threaded = false,
                  .snapshot_dir = dir.string()});
  int64_t saved_at = -1;
  for (int i = 0; i < 40; ++i) {
    loop.tick();
    if (i == 10) saved_at = loop.session().next_frame();
  }
  EXPECT_TRUE(fs::exists(dir / "quick.wlsnap"));
  EXPECT_NE(loop.last_message().find("loaded quick"), std::string::npos) << loop.last_message();
  EXPECT_GE(saved_at, 0);
  fs::remove_all(dir);
}

// [SECTION] branching

TEST(Branching, FourFuturesDifferAndEachEqualsItselfRunAlone) {
  const WorldModel& model = tiny_world();
  Session root(model, StatePolicy{}, {7});
  run(root, 2, 0);
  Session batch = root.fork({100, 101, 102, 103});
  ASSERT_EQ(batch.batch(), 4);
  std::vector<Session> alone;
  for (int i = 0; i < 4; ++i) alone.push_back(batch.branch(i));
  Continuation together = run(batch, 3, 10);   // branch i gets actions salted 10 + b + 3i
  for (int i = 0; i < 4; ++i) {
    for (int j = 0; j < i; ++j)
      EXPECT_FALSE(at::allclose(together.latents[i], together.latents[j], 1e-3, 1e-3)) << "branches " << i << " and " << j;
    // Alone, branch i must see the actions it had in the batch: salt 10 + b + 3i.
    std::vector<at::Tensor> latents, frames;
    for (int b = 0; b < 3; ++b) {
      LatentBlock block = alone[i].denoise_block({actions_for(model.action_spec(), 2, 10 + b + 3 * i)}, sampler_for_steps(alone[i].model().info(), 4));
      alone[i].commit_state(block);
      latents.push_back(block.latents);
      frames.push_back(alone[i].decode(block).frames);
    }
    at::Tensor l = at::cat(latents, 2), f = at::cat(frames, 2);
    EXPECT_TRUE(at::allclose(l[0], together.latents[i], 1e-5, 1e-5))
        << "branch " << i << " latents, max diff " << (l[0] - together.latents[i]).abs().max().item<float>();
    // Frames are in [0, 1]; batched convolutions round differently, well under one 8-bit step.
    EXPECT_TRUE(at::allclose(f[0], together.frames[i], 0, 1.0 / 255 / 2))
        << "branch " << i << " frames, max diff " << (f[0] - together.frames[i]).abs().max().item<float>();
  }
  // A branch taken out continues like the root would with the same seed: branch 0 of a fork seeded
  // with the root's own seed is the root.
  Session same = root.fork({7}).branch(0);
  Continuation x = run(same, 1, 50), y = run(root, 1, 50);
  EXPECT_TRUE(at::equal(x.latents, y.latents));
}

}  // namespace
}  // namespace wl
