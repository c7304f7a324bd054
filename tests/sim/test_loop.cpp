// The frame loop, arrow by arrow, with a tiny random-weight world (sim/world_model.h):
//   poll input -> actions (aggregation per latent frame), actions -> denoise block (shapes, seeds,
//   actions matter, equal to model/sampler.h's generate_block), commit state, decode (frame
//   counts), present and record (every shown frame, in order), then pacing on a virtual clock (even
//   intervals; slower generation lowers the rate evenly and never queues more) and the fixed number
//   of blocks in flight, inline and on the worker thread.
#include <gtest/gtest.h>

#include <chrono>

#include <ATen/ATen.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <unistd.h>

#include "envs/bindings.h"
#include "envs/vpt_actions.h"
#include "kernels/core/error.h"
#include "model/sampler.h"
#include "sim/loop.h"
#include "sim/pacer.h"
#include "sim/session.h"
#include "sim/world_model.h"

namespace wl {
namespace {

const WorldModel& tiny_world() {
  static std::unique_ptr<WorldModel> model = WorldModel::random_tiny("voxel", 1);
  return *model;
}

ActionTensor constant_actions(const ActionSpec& spec, int T, int pressed) {
  ActionTensor a{T, spec.width(), std::vector<float>(static_cast<size_t>(T) * spec.width(), 0.f)};
  for (int t = 0; t < T; ++t) {
    a.row(t)[kVoxelPitchDim] = a.row(t)[kVoxelYawDim] = kVptCameraNullBin;
    if (pressed >= 0) a.row(t)[pressed] = 1.f;
  }
  return a;
}

// [SECTION] input -> actions

TEST(LoopActions, AggregatesPerKind) {
  ActionSpec spec;
  spec.dims = {{"jump", ActionKind::Binary, 0, 1, {}}, {"steer", ActionKind::Continuous, -1, 1, {}},
               {"yaw", ActionKind::Discrete, 0, 10, {}}};
  std::vector<std::vector<float>> frames = {{0, 0.5f, 5}, {1, 1.f, 7}, {0, 0.f, 2}, {0, -0.5f, 5}};
  std::vector<float> row = aggregate_actions(spec, frames);
  EXPECT_EQ(row[0], 1.f);         // a tap in any frame counts
  EXPECT_FLOAT_EQ(row[1], 0.25f); // the mean
  EXPECT_EQ(row[2], 2.f);         // farthest from the centre 5 (|2-5| > |7-5|)
}

TEST(LoopActions, SplitsFramesIntoLatentRowsInOrderAndHoldsWhenIdle) {
  ActionSpec spec;
  spec.dims = {{"jump", ActionKind::Binary, 0, 1, {}}};
  ActionAggregator agg(spec);
  for (int i = 0; i < 12; ++i) agg.add({i == 5 ? 1.f : 0.f}, 0.1 * i);
  ActionTensor a = agg.take(3);
  ASSERT_EQ(a.frames, 3);
  EXPECT_EQ(a.values, (std::vector<float>{0, 1, 0}));   // frames 4-7 hold the tap
  EXPECT_NEAR(agg.last_event_time(), 0.5, 1e-12);
  agg.add({1.f}, 2.0);
  a = agg.take(3);   // one frame for three rows: the first row gets it, the others hold it
  EXPECT_EQ(a.values, (std::vector<float>{1, 1, 1}));
  a = agg.take(2);   // nothing new: hold the last row
  EXPECT_EQ(a.values, (std::vector<float>{1, 1}));
  EXPECT_LT(agg.last_event_time(), 0);
}

TEST(LoopActions, KeysReachTheBlockThroughTheBindings) {
  const WorldModel& model = tiny_world();
  MemoryDisplay display(64, 64);
  InputSnapshot w;
  w.keys.set(26);   // W (USB HID) = forward in the default voxel bindings
  for (int i = 0; i < 40; ++i) display.push_input(w);
  auto source = make_input_actions(default_bindings("voxel"));
  VirtualClock clock;
  FrameLoop loop({.model = &model, .display = &display, .actions = source.get(), .clock = &clock, .threaded = false});
  for (int i = 0; i < 20; ++i) loop.tick();
  ASSERT_GE(loop.block_actions().size(), 2u);
  const ActionTensor& second = loop.block_actions()[1];
  EXPECT_EQ(second.dims, model.action_spec().width());
  for (int t = 0; t < second.frames; ++t) EXPECT_EQ(second.row(t)[kForward], 1.f) << "latent row " << t;
}

// [SECTION] actions -> denoise block -> commit state -> decode

TEST(LoopModel, DenoiseBlockIsDeterministicAndFollowsActions) {
  const WorldModel& model = tiny_world();
  const ActionSpec& spec = model.action_spec();
  auto run = [&](uint64_t seed, int pressed) {
    Session s(model, StatePolicy{}, {seed});
    return s.denoise_block({constant_actions(spec, 3, pressed)}, sampler_for_steps(s.model().info(), 4)).latents;
  };
  at::Tensor a = run(7, kForward);
  EXPECT_EQ(a.sizes(), (std::vector<int64_t>{1, 16, 3, 8, 8}));
  EXPECT_TRUE(at::equal(a, run(7, kForward)));
  EXPECT_FALSE(at::equal(a, run(8, kForward)));
  EXPECT_FALSE(at::allclose(a, run(7, kJump), 1e-4, 1e-4)) << "actions must change what the model makes";
}

TEST(LoopModel, DenoiseThenCommitEqualsTheSamplersGenerateBlock) {
  const WorldModel& model = tiny_world();
  ActionTensor actions = constant_actions(model.action_spec(), 2, kJump);
  Session s(model, StatePolicy{}, {5});
  std::vector<at::Tensor> ours;
  for (int b = 0; b < 2; ++b) {
    LatentBlock block = s.denoise_block({actions}, SamplerConfig{});
    s.commit_state(block);
    ours.push_back(block.latents);
  }
  WorldState state = model.dit().new_state(1, 8, 8, StatePolicy{});
  NoiseSource noise(5);
  at::Tensor a = at::from_blob(actions.values.data(), {1, 2, actions.dims}, at::kFloat).clone();
  for (int b = 0; b < 2; ++b)
    EXPECT_TRUE(at::equal(ours[b], generate_block(model.dit(), model.caption(), state, a, 2, SamplerConfig{}, noise))) << b;
  EXPECT_EQ(s.noise().front().counter(), noise.counter());
}

TEST(LoopModel, CommitAdvancesTheStateAndDecodeMakesFourFramesPerLatent) {
  const WorldModel& model = tiny_world();
  Session s(model, StatePolicy{}, {1});
  LatentBlock block = s.denoise_block({constant_actions(model.action_spec(), 3, -1)}, sampler_for_steps(s.model().info(), 2));
  EXPECT_EQ(s.next_frame(), 0);
  s.commit_state(block);
  EXPECT_EQ(s.next_frame(), 3);
  EXPECT_EQ(s.state().blocks_committed(), 1);
  EXPECT_THROW(s.commit_state(block), Error) << "a block commits once";
  VideoBlock first = s.decode(block);
  EXPECT_EQ(first.frames.sizes(), (std::vector<int64_t>{1, 3, 9, 64, 64}));   // 4T - 3 for the stream's first
  LatentBlock next = s.denoise_block({constant_actions(model.action_spec(), 2, -1)}, sampler_for_steps(s.model().info(), 2));
  EXPECT_EQ(next.first_frame, 3);
  s.commit_state(next);
  VideoBlock second = s.decode(next);
  EXPECT_EQ(second.count(), 8);
  EXPECT_EQ(second.first_video_frame, 9);
  EXPECT_GT(s.state_bytes(), 0);
}

// [SECTION] present -> record, and pacing

struct Recorded {
  std::vector<double> times;
  std::vector<int64_t> indices;
  std::vector<uint64_t> hashes;
};

TEST(LoopPresent, EveryShownFrameIsPresentedAndRecordedInOrderAtEvenIntervals) {
  const WorldModel& model = tiny_world();
  MemoryDisplay display(64, 64);
  auto source = make_scripted_actions("sticky_random", "voxel", 3);
  VirtualClock clock;
  Recorded rec;
  LoopInfo info{.model = &model, .display = &display, .actions = source.get(), .clock = &clock, .threaded = false};
  info.record = [&](const FrameTarget& f, int64_t i) {
    rec.times.push_back(clock.now());
    rec.indices.push_back(i);
    rec.hashes.push_back(hash_bytes(f.pixels, static_cast<size_t>(f.height * f.row_pitch), 0));
  };
  FrameLoop loop(info);
  for (int i = 0; i < 60; ++i) EXPECT_EQ(loop.tick(), FrameStatus::Presented);
  LoopStats s = loop.stats();
  EXPECT_EQ(display.presented(), 60);
  EXPECT_EQ(s.frames_shown, 60);   // generation is instant on the virtual clock: never a repeat
  ASSERT_EQ(rec.indices.size(), 60u);
  for (size_t i = 0; i < rec.indices.size(); ++i) EXPECT_EQ(rec.indices[i], static_cast<int64_t>(i));
  for (size_t i = 1; i < rec.times.size(); ++i) EXPECT_NEAR(rec.times[i] - rec.times[i - 1], 1.0 / 20, 1e-9) << i;
  EXPECT_NE(rec.hashes[0], rec.hashes[30]) << "the picture changes";
  EXPECT_EQ(s.pacing.underruns, 0);
  EXPECT_FALSE(s.pacing.behind);
  EXPECT_LE(s.max_in_flight_seen, 2);
  EXPECT_EQ(s.stages.size(), 7u);
  EXPECT_EQ(s.stages[2].name, "denoise block");
  EXPECT_GT(s.stages[2].ms, 0.f);
  bool any = false;
  for (uint8_t p : display.pixels()) any |= p != 0;
  EXPECT_TRUE(any);
}

TEST(LoopPacing, PacerSpacesABlockEvenly) {
  Pacer pacer({.fps = 20});
  EXPECT_FALSE(pacer.due(0.0).has_value());
  pacer.add_block(12, 0.0, 0.0);
  std::vector<double> shown;
  for (double t = 0; t < 1.0; t += 0.001)
    if (pacer.due(t)) shown.push_back(t);
  ASSERT_EQ(shown.size(), 12u);
  for (size_t i = 1; i < shown.size(); ++i) EXPECT_NEAR(shown[i] - shown[i - 1], 0.05, 0.0011);
  EXPECT_EQ(pacer.stats().underruns, 1);   // it ran dry after the 12th
}

TEST(LoopPacing, SlowGenerationLowersTheFrameRateEvenlyAndQueuesNothingMore) {
  const WorldModel& model = tiny_world();
  MemoryDisplay display(64, 64);
  auto source = make_scripted_actions("sticky_random", "voxel", 3);
  VirtualClock clock;
  std::vector<double> times;
  LoopInfo info{.model = &model, .display = &display, .actions = source.get(), .clock = &clock, .threaded = false};
  info.simulated_generation_s = 1.2;   // a 12-frame block takes twice its 0.6 s of video
  info.record = [&](const FrameTarget&, int64_t) { times.push_back(clock.now()); };
  FrameLoop loop(info);
  for (int i = 0; i < 400; ++i) {
    loop.tick();
    EXPECT_LE(loop.blocks_in_flight(), 2);
  }
  LoopStats s = loop.stats();
  EXPECT_TRUE(s.pacing.behind);
  EXPECT_NEAR(s.pacing.display_fps, 12 / 1.2 / 1.05, 0.02 * 12 / 1.2);   // the rate it can sustain, with headroom
  EXPECT_LE(s.max_in_flight_seen, 2);
  ASSERT_GT(times.size(), 60u);
  // Frames are evenly spaced at the lowered rate: the interval only changes when a block lands (the
  // rate estimate moves), so nearly every interval equals the one before it, none is a stall, and
  // none is as short as the world's own 1/20 s.
  int same = 0, total = 0;
  for (size_t i = times.size() - 40; i < times.size(); ++i) {
    double dt = times[i] - times[i - 1], before = times[i - 1] - times[i - 2];
    ++total;
    if (std::abs(dt - before) < 1e-6) ++same;
    EXPECT_GT(dt, 1.0 / 20 * 1.5) << "frame " << i;
    EXPECT_LT(dt, 1.0 / s.pacing.display_fps * 1.1) << "frame " << i;
  }
  EXPECT_GE(same, total * 3 / 4) << "intervals within a block are equal";
  EXPECT_EQ(s.pacing.underruns, 0) << "the queue never ran dry once frames flowed";
  EXPECT_GT(display.presented(), static_cast<int64_t>(times.size())) << "the window keeps presenting while it waits";
}

// [SECTION] blocks in flight

TEST(LoopPipeline, NeverMoreThanTheFixedNumberOfBlocksInFlight) {
  const WorldModel& model = tiny_world();
  for (int limit : {1, 2, 3}) {
    for (auto [threaded, start_policy] : {std::pair{false, BlockStart::Eager}, {false, BlockStart::JustInTime},
                                          {true, BlockStart::Eager}, {true, BlockStart::JustInTime}}) {
      // Inline on a virtual clock (deterministic); threaded on the real clock (the worker takes real time).
      MemoryDisplay display(64, 64);
      auto source = make_scripted_actions("sticky_random", "voxel", 1);
      VirtualClock virtual_clock;
      SteadyLoopClock steady_clock;
      LoopClock* clock = threaded ? static_cast<LoopClock*>(&steady_clock) : &virtual_clock;
      FrameLoop loop({.model = &model, .display = &display, .actions = source.get(), .clock = clock, .threaded = threaded,
                      .max_blocks_in_flight = limit, .block_start = start_policy});
      // Threaded: tick until three blocks started (however busy the machine), at most 60 s.
      auto start = std::chrono::steady_clock::now();
      for (int i = 0; threaded ? loop.stats().blocks_started < 3 : i < 120; ++i) {
        loop.tick();
        ASSERT_LE(loop.blocks_in_flight(), limit) << "limit " << limit << (threaded ? " threaded" : " inline");
        ASSERT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(60)) << "the worker never delivered";
      }
      loop.drain();
      LoopStats s = loop.stats();
      EXPECT_LE(s.max_in_flight_seen, limit);
      EXPECT_GE(s.blocks_started, 2);
      if (!threaded && start_policy == BlockStart::Eager) {
        EXPECT_EQ(s.max_in_flight_seen, limit) << "the eager pipeline fills up to its limit";
      }
    }
  }
}

TEST(LoopPipeline, ThreadedOnTheSteadyClockShowsFramesAndMeasuresLatency) {
  const WorldModel& model = tiny_world();
  MemoryDisplay display(64, 64);
  auto source = make_scripted_actions("sticky_random", "voxel", 2);
  SteadyLoopClock clock;
  FrameLoop loop({.model = &model, .display = &display, .actions = source.get(), .clock = &clock});
  // Until 40 frames were shown, however busy the machine (at most 60 s).
  auto start = std::chrono::steady_clock::now();
  while (loop.stats().frames_shown < 40) {
    loop.tick();
    ASSERT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(60)) << "no frames within 60 s";
  }
  LoopStats s = loop.stats();
  EXPECT_GE(s.frames_shown, 40);
  EXPECT_LE(s.max_in_flight_seen, 2);
  EXPECT_GT(s.latency_median_ms, 0.0);
}

// [SECTION] the command line

TEST(LoopCli, HeadlessRandomTinyPlayWritesTheFramesAndIsDeterministic) {
  std::string dir = std::filesystem::temp_directory_path() / ("wl_play_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto play = [&](const std::string& args) {
    std::string out = dir + "/out.txt";
    std::string cmd = "'" WL_WORLDLOOP_EXE "' play --random-tiny --headless " + args + " >'" + out + "' 2>/dev/null";
    EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
    std::FILE* f = std::fopen(out.c_str(), "r");
    std::string text(4096, '\0');
    text.resize(f ? std::fread(text.data(), 1, text.size(), f) : 0);
    if (f) std::fclose(f);
    return text;
  };
#ifdef WL_WITH_RECORDING
  std::string a = play("--frames 40 --out '" + dir + "/a.mp4'");
#else
  std::string a = play("--frames 40");   // headless server builds have no FFmpeg
#endif
  EXPECT_NE(a.find("RANDOM WEIGHTS"), std::string::npos) << a;
  EXPECT_NE(a.find(": 40 frames"), std::string::npos) << a;
#ifdef WL_WITH_RECORDING
  EXPECT_NE(a.find("wrote " + dir + "/a.mp4: 40 frames"), std::string::npos) << a;
#endif
  auto hash = [](const std::string& text) { return text.substr(text.find("fnv1a64"), 24); };
  EXPECT_EQ(hash(a), hash(play("--frames 40"))) << "headless play is deterministic";
  EXPECT_NE(hash(a), hash(play("--frames 40 --seed 5")));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace wl
