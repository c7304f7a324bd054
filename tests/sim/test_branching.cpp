// The loop's interactive features with a tiny random-weight world, inline on a virtual clock:
//   branching: K = 4 futures from one state differ, and continuing branch i shows and holds exactly
//   what a reference built from the Session API alone (fork, perturbed rows, branch(i)) makes;
//   just-in-time block start: never more blocks in flight than the limit, later starts and lower
//   latency than the eager policy, no stalls; the fidelity view's halves at the expected pixels,
//   with the simulator driven by the model's own action rows; pause and step; the resets.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "envs/world.h"
#include "render/overlay.h"
#include "sim/branching.h"
#include "sim/fidelity.h"
#include "sim/loop.h"
#include "sim/pacer.h"
#include "sim/session.h"
#include "sim/world_model.h"

namespace wl {
namespace {

constexpr int kSize = 64;                  // the tiny world's frames: 8x8 latents
constexpr int kPeriodKey = 55;             // "." steps one block while paused

const WorldModel& tiny_world() {
  static std::unique_ptr<WorldModel> model = WorldModel::random_tiny("voxel", 1);
  return *model;
}

// One shown frame as RGBA8, [64, 64, 4].
using Pixels = std::vector<uint8_t>;

struct Harness {
  MemoryDisplay display{kSize, kSize};
  std::unique_ptr<ActionSource> source = make_scripted_actions("sticky_random", "voxel", 3);
  VirtualClock clock;
  std::vector<Pixels> recorded;
  std::unique_ptr<FrameLoop> loop;

  explicit Harness(BlockStart start = BlockStart::JustInTime, double generation_s = 0.0) {
    LoopInfo info{.model = &tiny_world(), .display = &display, .actions = source.get(), .clock = &clock, .threaded = false};
    info.block_start = start;
    info.simulated_generation_s = generation_s;
    info.record = [this](const FrameTarget& f, int64_t) {
      recorded.emplace_back(f.pixels, f.pixels + static_cast<size_t>(f.height) * f.row_pitch);
    };
    loop = std::make_unique<FrameLoop>(info);
  }
  void tick_until_blocks(int64_t blocks) {
    for (int i = 0; i < 2000 && loop->stats().blocks_started < blocks; ++i) loop->tick();
    ASSERT_GE(loop->stats().blocks_started, blocks);
  }
};

// The cell of a grid view in the displayed RGBA frame.
Pixels cell(const Pixels& frame, const ViewRect& r) {
  Pixels out;
  for (int y = r.y; y < r.y + r.height; ++y)
    out.insert(out.end(), frame.begin() + (y * kSize + r.x) * 4, frame.begin() + (y * kSize + r.x + r.width) * 4);
  return out;
}

Pixels write(const Session& s, const VideoBlock& v, int64_t b, int64_t f) {
  Pixels p(kSize * kSize * 4);
  s.write_frame(v, b, f, FrameTarget{p.data(), kSize, kSize, 4 * kSize, false});
  return p;
}

void expect_same_state(const Session& a, const Session& b, int64_t row) {
  std::map<std::string, at::Tensor> x = a.state().to_tensors(), y = b.state().to_tensors();
  ASSERT_EQ(x.size(), y.size());
  for (auto& [name, t] : x) {
    at::Tensor u = y.at(name);
    if (u.dim() >= 3) u = u.narrow(0, row, 1);
    EXPECT_TRUE(at::equal(t, u)) << name;
  }
  EXPECT_TRUE(at::equal(a.recent_latents(), b.recent_latents().narrow(0, row, 1)));
  EXPECT_EQ(a.noise().front().counter(), b.noise()[row].counter());
  EXPECT_EQ(a.noise().front().seed(), b.noise()[row].seed());
}

// [SECTION] branching

TEST(LoopBranching, PerturbedActionsStayInRangeDifferPerBranchAndRepeat) {
  const ActionSpec& spec = tiny_world().action_spec();
  ActionTensor a = sticky_random_actions(spec, 3, 5);
  ActionTensor p = perturb_actions(spec, a, 101, 0);
  EXPECT_EQ(p.values, perturb_actions(spec, a, 101, 0).values);
  EXPECT_NE(p.values, a.values);
  EXPECT_NE(p.values, perturb_actions(spec, a, 102, 0).values);
  EXPECT_NE(p.values, perturb_actions(spec, a, 101, 1).values);
  for (int t = 0; t < p.frames; ++t)
    for (int d = 0; d < spec.width(); ++d) {
      EXPECT_GE(p.row(t)[d], spec.dims[d].min);
      EXPECT_LE(p.row(t)[d], spec.dims[d].max);
    }
  EXPECT_EQ(branch_seeds(7, 4), (std::vector<uint64_t>{7, 8, 9, 10}));
}

TEST(LoopBranching, FourFuturesFromOneStateShowAsFourDifferentCells) {
  Harness h;
  h.tick_until_blocks(2);
  h.loop->fork(4);
  const int64_t fork_block = h.loop->stats().blocks_started;
  h.tick_until_blocks(fork_block + 1);
  h.loop->drain();
  const Session& s = h.loop->session();
  ASSERT_EQ(s.batch(), 4);
  EXPECT_EQ(h.loop->branches(), 4);
  // recent_latents: the last 8 latent frames; the newest block (3) was made by the four branches,
  // the 5 before it by the one sequence they were forked from.
  at::Tensor recent = s.recent_latents();
  ASSERT_EQ(recent.size(2), 8);
  for (int i = 1; i < 4; ++i) {
    EXPECT_TRUE(at::equal(recent[i].narrow(1, 0, 5), recent[0].narrow(1, 0, 5))) << "the same past, branch " << i;
    for (int j = 0; j < i; ++j)
      EXPECT_FALSE(at::allclose(recent[i].narrow(1, 5, 3), recent[j].narrow(1, 5, 3), 1e-3, 1e-3)) << i << " vs " << j;
  }
  // Tick until a frame of the batch block is on screen: a 2x2 grid of four different pictures.
  for (int i = 0; i < 40; ++i) h.loop->tick();
  std::vector<ViewRect> cells = view_grid(4, kSize, kSize);
  ASSERT_EQ(cells.size(), 4u);
  EXPECT_EQ(cells[3], (ViewRect{32, 32, 32, 32}));
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < i; ++j) EXPECT_NE(cell(h.display.pixels(), cells[i]), cell(h.display.pixels(), cells[j])) << i << j;
  EXPECT_FALSE(h.loop->save("slot0")) << "a batch of futures is not a save-state";
}

TEST(LoopBranching, ContinuingBranchIEqualsBranchIOfTheBatchBitForBit) {
  const WorldModel& model = tiny_world();
  const int kBranch = 2;
  Harness h;
  h.loop->settings().steered_branch = kBranch;   // your input drives branch 2; 0, 1, 3 get perturbed copies
  h.tick_until_blocks(2);
  const int64_t fork_block = h.loop->stats().blocks_started;
  h.loop->fork(4);
  h.tick_until_blocks(fork_block + 2);
  const int64_t continue_block = h.loop->stats().blocks_started;
  const size_t recorded_before = h.recorded.size();
  h.loop->continue_branch(kBranch);   // key 3 / a click on cell 3 do the same
  h.tick_until_blocks(continue_block + 2);
  h.loop->drain();
  for (int i = 0; i < 60; ++i) h.loop->tick();   // show what was made
  ASSERT_EQ(h.loop->session().batch(), 1);
  EXPECT_EQ(h.loop->branches(), 0);

  // The reference: the Session API alone, fed the loop's own actions (block_actions holds the
  // steered stream), forked and taken back out at the same blocks.
  const std::vector<ActionTensor>& actions = h.loop->block_actions();
  const int64_t blocks = h.loop->stats().blocks_started;
  ASSERT_EQ(static_cast<int64_t>(actions.size()), blocks);
  Session s(model, StatePolicy::parse(model.info().state_policy), {0});
  std::vector<uint64_t> seeds = branch_seeds(0, 4);
  std::vector<Pixels> stream;   // every frame the loop should have shown, full size, in order
  for (int64_t n = 0; n < blocks; ++n) {
    if (n == fork_block) s = s.fork(seeds);
    if (n == continue_block) s = s.branch(kBranch);
    std::vector<ActionTensor> rows;
    for (int64_t i = 0; i < s.batch(); ++i)
      rows.push_back(s.batch() == 1 || i == kBranch ? actions[n] : perturb_actions(model.action_spec(), actions[n], seeds[i], n - fork_block));
    LatentBlock block = s.denoise_block(rows, sampler_for_steps(model.info(), 4));
    s.commit_state(block);
    VideoBlock video = s.decode(block);
    for (int64_t f = 0; f < video.count(); ++f) stream.push_back(write(s, video, s.batch() == 1 ? 0 : kBranch, f));
  }
  expect_same_state(h.loop->session(), s, 0);
  // Every frame recorded since the continue (queued batch frames now shown as branch 2, then the
  // blocks made by branch 2 alone) equals the reference's, bit for bit.
  ASSERT_GT(h.recorded.size(), recorded_before + 24);
  ASSERT_LE(h.recorded.size(), stream.size());
  for (size_t r = recorded_before; r < h.recorded.size(); ++r) ASSERT_EQ(h.recorded[r], stream[r]) << "frame " << r;
  // Before the fork the loop showed the one sequence, also equal.
  for (size_t r = 0; r < 9; ++r) ASSERT_EQ(h.recorded[r], stream[r]) << "frame " << r;
}

// [SECTION] just-in-time block start

TEST(LoopPipeline, JustInTimeStartsLaterThanEagerWithinTheSameLimitAndNeverStalls) {
  // Generation takes 0.25 s of the 0.6 s a 12-frame block is on screen (virtual clock).
  Harness eager(BlockStart::Eager, 0.25), jit(BlockStart::JustInTime, 0.25);
  std::vector<double> jit_times;
  for (int i = 0; i < 240; ++i) {
    eager.loop->tick();
    jit.loop->tick();
    ASSERT_LE(eager.loop->blocks_in_flight(), 2);
    ASSERT_LE(jit.loop->blocks_in_flight(), 2);
  }
  LoopStats e = eager.loop->stats(), j = jit.loop->stats();
  EXPECT_LE(e.max_in_flight_seen, 2);
  EXPECT_LE(j.max_in_flight_seen, 2);
  const std::vector<double>& es = eager.loop->block_start_times();
  const std::vector<double>& js = jit.loop->block_start_times();
  ASSERT_GE(js.size(), 10u);
  // Block n starts no earlier than under the eager policy, and from the third on clearly later
  // once the estimate settles (eager starts 0.6 s before the deadline, just in time ~0.32 s).
  const size_t n = std::min(es.size(), js.size());
  for (size_t k = 0; k < n; ++k) EXPECT_GE(js[k], es[k] - 1e-9) << "block " << k;
  for (size_t k = 4; k < n; ++k) EXPECT_GT(js[k] - es[k], 0.1) << "block " << k;
  EXPECT_LT(j.latency_median_ms, e.latency_median_ms - 150) << "later starts sample later input";
  // And still in time: frames kept coming at 20 fps, no underrun once the first block was up.
  EXPECT_EQ(j.pacing.underruns, e.pacing.underruns);
  EXPECT_FALSE(j.pacing.behind);
  EXPECT_NEAR(j.generation_estimate_s, 0.25, 0.02);
  EXPECT_GE(j.frames_shown, e.frames_shown - 12);
}

TEST(LoopPipeline, BlockStartPlannerWaitsForTheLatestTickThatMakesTheDeadline) {
  BlockStartPlanner p({.smoothing = 0.25, .deviations = 2.0, .margin_s = 0.02});
  EXPECT_TRUE(p.due(0.0, -INFINITY, 0.05)) << "nothing queued: at once";
  EXPECT_EQ(p.estimate(), 0.0);
  for (int i = 0; i < 50; ++i) p.add(0.2);
  EXPECT_NEAR(p.estimate(), 0.2, 1e-6);
  // Deadline 1.0: the ideal start is 1.0 - 0.02 - 0.2 = 0.78; ticking every 0.05, start at the
  // last tick before it, from 0.73 on.
  EXPECT_NEAR(p.start_time(1.0, 0.05), 0.73, 1e-6);
  EXPECT_FALSE(p.due(0.70, 1.0, 0.05));
  EXPECT_TRUE(p.due(0.75, 1.0, 0.05));
  p.scale(4);   // a fork into four: blocks cost four times as much
  EXPECT_NEAR(p.estimate(), 0.8, 1e-6);
  p.add(2.0);   // a slow block raises the estimate by more than its share of the mean
  EXPECT_GT(p.estimate(), 0.8 + 0.25 * 1.2);
}

// [SECTION] pause, step and resets

TEST(LoopCommands, PauseThenStepAdvancesExactlyOneBlock) {
  Harness h;
  h.tick_until_blocks(3);
  h.loop->settings().paused = true;
  for (int i = 0; i < 80; ++i) h.loop->tick();   // what was made plays out, nothing new starts
  h.loop->drain();
  const int64_t blocks = h.loop->stats().blocks_started, frame = h.loop->session().next_frame();
  for (int i = 0; i < 80; ++i) h.loop->tick();
  EXPECT_EQ(h.loop->stats().blocks_started, blocks);
  InputSnapshot step;
  step.keys_pressed.set(kPeriodKey);
  h.display.push_input(step);
  for (int i = 0; i < 80; ++i) h.loop->tick();
  h.loop->drain();
  EXPECT_EQ(h.loop->stats().blocks_started, blocks + 1);
  EXPECT_EQ(h.loop->session().next_frame(), frame + 3);   // one block of 3 latent frames
  h.loop->settings().paused = false;
  for (int i = 0; i < 40; ++i) h.loop->tick();
  EXPECT_GT(h.loop->stats().blocks_started, blocks + 1) << "unpaused, blocks flow again";
}

TEST(LoopCommands, ResetWithNewSeedStartsAFreshStateAndSimulatorSeedingNeedsAnEncoder) {
  Harness h;
  h.tick_until_blocks(2);
  h.loop->fork(3);
  h.tick_until_blocks(4);
  const int old_seed = h.loop->settings().seed;
  h.loop->reset_with_new_seed();
  EXPECT_NE(h.loop->settings().seed, old_seed);
  EXPECT_EQ(h.loop->session().next_frame(), 0);
  EXPECT_EQ(h.loop->session().batch(), 1) << "a reset ends branching";
  EXPECT_EQ(h.loop->session().noise().front().seed(), static_cast<uint64_t>(h.loop->settings().seed));
  h.tick_until_blocks(6);
  // The random-weight world decodes with TAEHV, which has no encoder: refused, session untouched.
  const int64_t frame = h.loop->session().next_frame();
  EXPECT_FALSE(h.loop->reset_from_simulator());
  EXPECT_NE(h.loop->last_message().find("no encoder"), std::string::npos) << h.loop->last_message();
  EXPECT_EQ(h.loop->session().next_frame(), frame);
}

// [SECTION] fidelity view

TEST(LoopFidelity, ComposesModelAndSimulatorHalvesAtTheExpectedPixels) {
  const WorldModel& model = tiny_world();
  Session s(model, StatePolicy{}, {1});
  FidelityView view(model, 9);
  // A model frame whose 2x2 blocks are constant, so halving it is exact: value p in 0..255 per
  // block, in the decoder's range (TAEHV's is [0, 1]: p / 255).
  at::Tensor p = at::arange(32 * 32 * 3, at::kFloat).remainder(256).view({1, 3, 1, 32, 32});
  at::Tensor frame = p.repeat_interleave(2, 3).repeat_interleave(2, 4) / 255.0;   // [1, 3, 1, 64, 64]
  auto P = p.accessor<float, 5>();
  VideoBlock video{0, frame};
  Pixels out(kSize * kSize * 4, 7);
  float psnr = view.compose(s, video, 0, 0, FrameTarget{out.data(), kSize, kSize, 4 * kSize, false});
  const Frame& sim = view.frame();
  double mse = 0;
  for (int y = 0; y < kSize; ++y)
    for (int x = 0; x < kSize; ++x) {
      const uint8_t* px = out.data() + (y * kSize + x) * 4;
      if (y < 16 || y >= 48) {   // above and below the halves: black
        EXPECT_EQ(px[0] + px[1] + px[2], 0) << x << "," << y;
        continue;
      }
      const int u = x % 32, v = y - 16;
      for (int c = 0; c < 3; ++c) {
        if (x < 32) {   // model, halved: exactly its block value
          EXPECT_EQ(px[c], static_cast<int>(P[0][c][0][v][u])) << "model " << x << "," << y << " c" << c;
        } else {        // simulator, halved: the mean of its 2x2 block, rounded
          double mean = 0;
          for (int dy = 0; dy < 2; ++dy)
            for (int dx = 0; dx < 2; ++dx) mean += sim.rgb[((2 * v + dy) * kSize + 2 * u + dx) * 3 + c] / 4.0;
          EXPECT_NEAR(px[c], mean, 0.51) << "simulator " << x << "," << y << " c" << c;
        }
      }
    }
  for (int y = 0; y < kSize; ++y)
    for (int x = 0; x < kSize; ++x)
      for (int c = 0; c < 3; ++c) {
        double d = P[0][c][0][y / 2][x / 2] / 255.0 - sim.rgb[(y * kSize + x) * 3 + c] / 255.0;
        mse += d * d / (kSize * kSize * 3);
      }
  EXPECT_NEAR(psnr, 10 * std::log10(1 / mse), 0.01);
  EXPECT_EQ(latent_row(0, 9, 3), 0);    // a stream's first block: latent 0 makes frame 0 alone
  EXPECT_EQ(latent_row(4, 9, 3), 1);
  EXPECT_EQ(latent_row(5, 9, 3), 2);
  EXPECT_EQ(latent_row(3, 12, 3), 0);
  EXPECT_EQ(latent_row(4, 12, 3), 1);
  EXPECT_EQ(latent_row(2, 3, 3), 2);    // our autoencoder: one frame per latent
}

TEST(LoopFidelity, TheSimulatorFollowsTheModelsActionRowsFrameByFrame) {
  Harness h;
  h.loop->settings().fidelity_view = true;   // F7 / the overlay's checkbox
  for (int i = 0; i < 70; ++i) h.loop->tick();
  const LoopStats st = h.loop->stats();
  ASSERT_GT(st.frames_shown, 30);
  // The simulator on its own: seed 0 (the loop's), one step per shown frame with the action row
  // of the latent that frame came from.
  std::unique_ptr<World> world = make_world("voxel", WorldConfig{kSize, kSize});
  world->reset(0);
  int64_t shown = 0;
  for (size_t n = 0; n < h.loop->block_actions().size() && shown < st.frames_shown; ++n) {
    const ActionTensor& a = h.loop->block_actions()[n];
    const int64_t F = n == 0 ? 4 * a.frames - 3 : 4 * a.frames;
    for (int64_t k = 0; k < F && shown < st.frames_shown; ++k, ++shown)
      world->step(std::span<const float>(a.row(latent_row(k, F, a.frames)), static_cast<size_t>(a.dims)));
  }
  ASSERT_EQ(shown, st.frames_shown);
  const Frame& want = world->frame();
  std::array<ViewRect, 2> halves = side_by_side(kSize, kSize);
  const Pixels& got = h.recorded.back();
  for (int y = 0; y < halves[1].height; ++y)
    for (int x = 0; x < halves[1].width; ++x)
      for (int c = 0; c < 3; ++c) {
        double mean = 0;
        for (int d = 0; d < 4; ++d) mean += want.rgb[((2 * y + d / 2) * kSize + 2 * x + d % 2) * 3 + c] / 4.0;
        ASSERT_NEAR(got[((halves[1].y + y) * kSize + halves[1].x + x) * 4 + c], mean, 0.51) << x << "," << y;
      }
  EXPECT_GT(st.psnr_db, 0.f);
  EXPECT_LT(st.psnr_db, 100.f) << "random weights do not draw the simulator";
}

}  // namespace
}  // namespace wl
