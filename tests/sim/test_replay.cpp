// `play --record DIR` and `worldloop replay`: a recorded CPU session (headless play, and a windowless
// loop with save, load and a mid-session recording start) regenerates bit-identically; a different
// model is refused with both hashes unless --force, which names the first differing frame; an edited
// frame hash is caught at that frame; an existing session directory is never overwritten.
// Branching: forks into K futures (the grid, a steered branch other than the first), continues from
// branch i, a second fork, a load that ends branching and a recording started while branching all
// replay bit-identically; the fidelity view is refused up front, naming the frame.
// Ground truth: `play --ground-truth --record DIR` (headless, and a recorder driven as the window
// drives it: started mid-episode, with a reset) replays bit-identically through the simulator.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "kernels/core/error.h"
#include "sim/loop.h"
#include "sim/replay.h"
#include "sim/session_log.h"
#include "sim/world_model.h"
#include "envs/policies.h"
#include "envs/world.h"
#include "tests/support/temp_dir.h"

namespace wl {
namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Runs worldloop; returns the exit code, stdout + stderr in `output`.
int worldloop(const std::string& args, std::string& output, const fs::path& scratch) {
  const std::string log = (scratch / "cli.log").string();
  int status = std::system(("WL_LOG=warn '" WL_WORLDLOOP_EXE "' " + args + " >'" + log + "' 2>&1").c_str());
  output = slurp(log);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Sessions hold video.mp4 only in a build with recording (FFmpeg); replay needs only the logs.
#ifdef WL_WITH_RECORDING
constexpr bool kVideo = true;
#else
constexpr bool kVideo = false;
#endif

const WorldModel& tiny_voxel() {
  static std::unique_ptr<WorldModel> model = WorldModel::random_tiny("voxel", 1);
  return *model;
}

TEST(Replay, HeadlessPlayRecordingReplaysBitIdentical) {
  test::TempDir dir("replay");
  const std::string session = dir.file("session");
  std::string output;
  ASSERT_EQ(worldloop("play --random-tiny --headless --frames 24 --block-frames 2 --record '" + session + "'", output,
                      dir.path), 0) << output;
  for (const char* f : {"actions.jsonl", "blocks.jsonl", "session.json"}) EXPECT_TRUE(fs::exists(fs::path(session) / f)) << f;
  EXPECT_EQ(fs::exists(fs::path(session) / "video.mp4"), kVideo) << "video.mp4 exactly when the build records";
  SessionHeader header = read_session_json(session + "/session.json");
  EXPECT_TRUE(header.complete);
  EXPECT_EQ(header.frames, 24);
  EXPECT_EQ(header.model_hash, tiny_voxel().hash_hex());

  ReplayResult r = replay_session(session, tiny_voxel(), {});
  EXPECT_EQ(r.frames, 24);
  EXPECT_EQ(r.differing, 0) << "first differing frame " << r.first_mismatch;
  EXPECT_EQ(r.frames_fnv1a64, header.frames_fnv1a64);

  if (kVideo) {
    ASSERT_EQ(worldloop("replay '" + session + "' --out '" + dir.file("again.mp4") + "'", output, dir.path), 0) << output;
    EXPECT_TRUE(fs::exists(dir.file("again.mp4")));
  } else {
    ASSERT_EQ(worldloop("replay '" + session + "'", output, dir.path), 0) << output;
  }
  EXPECT_NE(output.find("bit-identical"), std::string::npos) << output;

  // The same directory again: refused, nothing in it changed.
  std::string before = slurp(session + "/actions.jsonl");
  EXPECT_EQ(worldloop("play --random-tiny --headless --frames 8 --record '" + session + "'", output, dir.path), 1);
  EXPECT_NE(output.find("--record " + session + " already exists"), std::string::npos) << output;
  EXPECT_EQ(slurp(session + "/actions.jsonl"), before);
}

TEST(Replay, DifferentModelIsRefusedUnlessForced) {
  test::TempDir dir("replay");
  const std::string session = dir.file("session");
  std::string output;
  ASSERT_EQ(worldloop("play --random-tiny --headless --frames 12 --block-frames 2 --record '" + session + "'", output,
                      dir.path), 0) << output;
  std::unique_ptr<WorldModel> other = WorldModel::random_tiny("voxel", 2);
  try {
    replay_session(session, *other, {});
    FAIL() << "a replay with another model was not refused";
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("replay refused"), std::string::npos) << m;
    EXPECT_NE(m.find(tiny_voxel().hash_hex()), std::string::npos) << m;
    EXPECT_NE(m.find(other->hash_hex()), std::string::npos) << m;
    EXPECT_NE(m.find("--force"), std::string::npos) << m;
  }
  ReplayOptions force;
  force.force = true;
  ReplayResult r = replay_session(session, *other, force);
  EXPECT_FALSE(r.model_matches);
  EXPECT_EQ(r.first_mismatch, 0);   // other weights: the very first frame differs
  EXPECT_GT(r.differing, 0);
}

TEST(Replay, AnEditedFrameHashIsReportedAtThatFrame) {
  test::TempDir dir("replay");
  const std::string session = dir.file("session");
  std::string output;
  ASSERT_EQ(worldloop("play --random-tiny --headless --frames 16 --block-frames 2 --record '" + session + "'", output,
                      dir.path), 0) << output;
  std::vector<FrameLine> lines = read_frame_lines(session + "/actions.jsonl", tiny_voxel().action_spec());
  lines[9].fnv1a64 ^= 1;
  {
    std::ofstream out(session + "/actions.jsonl", std::ios::trunc);
    for (const FrameLine& l : lines) out << frame_line_json(tiny_voxel().action_spec(), l) << "\n";
  }
  ReplayResult r = replay_session(session, tiny_voxel(), {});
  EXPECT_EQ(r.differing, 1);
  EXPECT_EQ(r.first_mismatch, 9);
  EXPECT_EQ(worldloop("replay '" + session + "'", output, dir.path), 1);
  EXPECT_NE(output.find("the first is frame 9"), std::string::npos) << output;
}

// The loop itself, with the recorder as its observer: save, keep playing, start recording, load
// (a new epoch from the copied snapshot), reset (a fresh epoch), change the seed and steps.
TEST(Replay, LoopSessionWithLoadResetAndLateStartReplaysBitIdentical) {
  test::TempDir dir("replay");
  const WorldModel& model = tiny_voxel();
  auto actions = make_scripted_actions("sticky_random", "voxel", 3);
  MemoryDisplay display(64, 64);
  VirtualClock clock;
  SessionRecorder recorder(model, make_session_header(model, ModelSource{}, "cpu", 3, actions->name(), "play"), true);
  LoopInfo info;
  info.model = &model;
  info.display = &display;
  info.actions = actions.get();
  info.clock = &clock;
  info.threaded = false;
  info.seed = 3;
  info.snapshot_dir = dir.path.string();
  info.observer = &recorder;
  FrameLoop loop(info);
  loop.settings().block_size = 2;
  auto play = [&](int frames) {
    int64_t until = loop.stats().frames_shown + frames;
    while (loop.stats().frames_shown < until) loop.tick();
  };
  play(10);
  ASSERT_TRUE(loop.save("a"));
  play(9);
  recorder.start(dir.file("session"));   // mid-epoch: the blocks since its start go in too
  play(7);
  ASSERT_TRUE(loop.load("a"));
  play(11);
  loop.settings().seed = 5;
  loop.settings().denoise_steps = 2;
  play(6);
  loop.reset();
  play(8);
  recorder.stop();

  SessionHeader header = read_session_json(dir.file("session/session.json"));
  ASSERT_EQ(header.epochs.size(), 3u);
  EXPECT_EQ(header.epochs[1].origin, "snapshot");
  EXPECT_TRUE(fs::exists(dir.file("session/" + header.epochs[1].file)));
  EXPECT_GE(header.settings.size(), 2u);
  ReplayResult r = replay_session(dir.file("session"), model, {});
  EXPECT_EQ(r.frames, header.frames);
  EXPECT_GT(r.frames, 25);
  EXPECT_EQ(r.differing, 0) << "first differing frame " << r.first_mismatch << " (block " << r.mismatch_block << ")";
}

// [SECTION] branching

// A windowless loop on the virtual clock with the session recorder as its observer.
struct LoopRig {
  const WorldModel& model = tiny_voxel();
  std::unique_ptr<ActionSource> actions = make_scripted_actions("sticky_random", "voxel", 3);
  MemoryDisplay display{64, 64};
  VirtualClock clock;
  SessionRecorder recorder;
  std::unique_ptr<FrameLoop> loop;
  explicit LoopRig(const test::TempDir& dir)
      : recorder(model, make_session_header(model, ModelSource{}, "cpu", 3, "policy sticky_random", "play"), true) {
    LoopInfo info;
    info.model = &model;
    info.display = &display;
    info.actions = actions.get();
    info.clock = &clock;
    info.threaded = false;
    info.seed = 3;
    info.snapshot_dir = dir.path.string();
    info.observer = &recorder;
    loop = std::make_unique<FrameLoop>(info);
    loop->settings().block_size = 2;
  }
  void play(int frames) {
    int64_t until = loop->stats().frames_shown + frames;
    while (loop->stats().frames_shown < until) loop->tick();
  }
};

int count_kind(const SessionHeader& h, const std::string& kind) {
  return static_cast<int>(std::count_if(h.events.begin(), h.events.end(), [&](const SessionEvent& e) { return e.kind == kind; }));
}

TEST(Replay, ForkSteerContinueSaveLoadReplaysBitIdentical) {
  test::TempDir dir("replay");
  LoopRig rig(dir);
  rig.recorder.start(dir.file("session"));
  rig.play(9);
  rig.loop->fork(3);                            // three futures, shown as a grid
  rig.play(14);
  ASSERT_EQ(rig.loop->branches(), 3);
  rig.loop->settings().steered_branch = 2;      // the input drives the third one now
  rig.play(9);
  rig.loop->continue_branch(1);                 // on from the second (shown at once, the session follows)
  rig.play(11);
  ASSERT_EQ(rig.loop->branches(), 0);
  ASSERT_TRUE(rig.loop->save("b"));
  rig.play(7);
  rig.loop->fork(2);
  rig.play(10);
  ASSERT_EQ(rig.loop->branches(), 2);
  ASSERT_TRUE(rig.loop->load("b"));             // a load ends branching: a new epoch from the snapshot
  rig.play(8);
  rig.loop->fork(2);
  rig.play(8);
  rig.loop->continue_branch(0);
  rig.play(9);
  rig.recorder.stop();

  const std::string session = dir.file("session");
  SessionHeader header = read_session_json(session + "/session.json");
  EXPECT_EQ(count_kind(header, "fork"), 3);
  EXPECT_EQ(count_kind(header, "continue"), 2);
  EXPECT_EQ(count_kind(header, "load"), 1);
  std::vector<BlockLine> blocks = read_block_lines(session + "/blocks.jsonl");
  std::vector<FrameLine> frames = read_frame_lines(session + "/actions.jsonl", tiny_voxel().action_spec());
  auto has_block = [&](auto pred) { return std::any_of(blocks.begin(), blocks.end(), pred); };
  EXPECT_TRUE(has_block([](const BlockLine& b) { return b.rows.size() == 3 && b.row_seeds == std::vector<uint64_t>{3, 4, 5}; }));
  EXPECT_TRUE(has_block([](const BlockLine& b) { return b.continued_from == 1; }));
  // The steered branch takes the input as is, the others a perturbed copy.
  EXPECT_TRUE(has_block([](const BlockLine& b) {
    return b.rows.size() == 3 && b.rows[2].values == b.actions.values && b.rows[0].values != b.actions.values;
  }));
  auto has_frame = [&](int row) {
    return std::any_of(frames.begin(), frames.end(), [row](const FrameLine& f) { return f.row == row; });
  };
  EXPECT_TRUE(has_frame(-1)) << "no frame showed the grid";
  EXPECT_TRUE(has_frame(1)) << "no frame showed branch 2 of a batch";

  ReplayResult r = replay_session(session, tiny_voxel(), {});
  EXPECT_EQ(r.frames, header.frames);
  EXPECT_EQ(r.frames, 85);
  EXPECT_EQ(r.differing, 0) << "first differing frame " << r.first_mismatch << " (block " << r.mismatch_block << ")";
  EXPECT_EQ(r.frames_fnv1a64, header.frames_fnv1a64);

  std::string output;
  ASSERT_EQ(worldloop("replay '" + session + "'", output, dir.path), 0) << output;
  EXPECT_NE(output.find("bit-identical"), std::string::npos) << output;
}

TEST(Replay, RecordingStartedWhileBranchingReplaysBitIdentical) {
  test::TempDir dir("replay");
  LoopRig rig(dir);
  rig.play(7);
  rig.loop->fork(4);
  rig.play(10);
  rig.recorder.start(dir.file("session"));      // the blocks since the epoch began go in, branched ones too
  rig.play(9);
  rig.loop->continue_branch(3);
  rig.play(10);
  rig.recorder.stop();
  ReplayResult r = replay_session(dir.file("session"), tiny_voxel(), {});
  EXPECT_EQ(r.frames, 19);
  EXPECT_EQ(r.differing, 0) << "first differing frame " << r.first_mismatch << " (block " << r.mismatch_block << ")";
}

// A lost or edited branch record is an error naming the block, never a silent mismatch.
TEST(Replay, ABranchLogThatDoesNotFitIsNamed) {
  test::TempDir dir("replay");
  LoopRig rig(dir);
  rig.recorder.start(dir.file("session"));
  rig.play(5);
  rig.loop->fork(2);
  rig.play(8);
  rig.loop->continue_branch(1);
  rig.play(8);
  rig.recorder.stop();
  const std::string path = dir.file("session/blocks.jsonl");
  std::vector<BlockLine> blocks = read_block_lines(path);
  auto it = std::find_if(blocks.begin(), blocks.end(), [](const BlockLine& b) { return b.continued_from >= 0; });
  ASSERT_NE(it, blocks.end());
  const int64_t edited = it->block;
  it->continued_from = -1;   // as if the continue had not been logged
  {
    std::ofstream out(path, std::ios::trunc);
    for (const BlockLine& b : blocks) out << block_line_json(b) << "\n";
  }
  try {
    replay_session(dir.file("session"), tiny_voxel(), {});
    FAIL() << "a branch log that does not fit was replayed";
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("block " + std::to_string(edited)), std::string::npos) << m;
    EXPECT_NE(m.find("does not say which one it continued from"), std::string::npos) << m;
  }
}

TEST(Replay, FidelityViewIsRefusedUpFrontNamingTheFrame) {
  test::TempDir dir("replay");
  LoopRig rig(dir);
  rig.recorder.start(dir.file("session"));
  rig.play(6);
  rig.loop->settings().fidelity_view = true;
  rig.play(6);
  rig.recorder.stop();
  std::vector<FrameLine> frames = read_frame_lines(dir.file("session/actions.jsonl"), tiny_voxel().action_spec());
  auto first = std::find_if(frames.begin(), frames.end(), [](const FrameLine& f) { return f.side_by_side; });
  ASSERT_NE(first, frames.end());
  try {
    replay_session(dir.file("session"), tiny_voxel(), {});
    FAIL() << "a session shown in the fidelity view was replayed";
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("replay refused"), std::string::npos) << m;
    EXPECT_NE(m.find("frame " + std::to_string(first->frame) + " was shown in the fidelity view"), std::string::npos) << m;
  }
}

// [SECTION] ground truth

TEST(Replay, GroundTruthHeadlessRecordingReplaysBitIdentical) {
  test::TempDir dir("replay");
  const std::string session = dir.file("gt");
  std::string output;
  ASSERT_EQ(worldloop("play --ground-truth --headless --world driving --size 64 --frames 30 --seed 7 --record '" + session + "'",
                      output, dir.path), 0) << output;
  for (const char* f : {"actions.jsonl", "session.json"}) EXPECT_TRUE(fs::exists(fs::path(session) / f)) << f;
  EXPECT_EQ(fs::exists(fs::path(session) / "video.mp4"), kVideo) << "video.mp4 exactly when the build records";
  EXPECT_FALSE(fs::exists(fs::path(session) / "blocks.jsonl")) << "the simulator makes no blocks";
  SessionHeader header = read_session_json(session + "/session.json");
  EXPECT_EQ(header.kind, "ground_truth");
  EXPECT_EQ(header.world, "driving");
  EXPECT_EQ(header.player, "policy lane_keep");
  EXPECT_EQ(header.seed, 7u);
  EXPECT_EQ(header.frames, 30);
  EXPECT_TRUE(header.complete);
  ASSERT_EQ(header.epochs.size(), 1u);
  EXPECT_EQ(header.epochs[0].origin, "simulator");
  EXPECT_EQ(header.epochs[0].seed, 7u);

  ReplayResult r = replay_ground_truth(session);
  EXPECT_EQ(r.frames, 30);
  EXPECT_EQ(r.differing, 0) << "first differing frame " << r.first_mismatch;
  EXPECT_EQ(r.frames_fnv1a64, header.frames_fnv1a64);
  const std::string out = kVideo ? " --out '" + dir.file("again.mp4") + "'" : "";
  ASSERT_EQ(worldloop("replay '" + session + "'" + out, output, dir.path), 0) << output;
  EXPECT_NE(output.find("30 frames of the driving simulator bit-identical"), std::string::npos) << output;
  EXPECT_EQ(fs::exists(dir.file("again.mp4")), kVideo);
  EXPECT_EQ(worldloop("replay '" + session + "' --model voxel", output, dir.path), 1);
  EXPECT_NE(output.find("is a ground-truth session"), std::string::npos) << output;

  // An edited action changes every frame after it: reported at the first.
  std::unique_ptr<World> world = make_world("driving", {64, 64});
  std::vector<FrameLine> lines = read_frame_lines(session + "/actions.jsonl", world->action_spec());
  lines[11].action[0] = lines[11].action[0] > 0 ? -1.f : 1.f;
  {
    std::ofstream out(session + "/actions.jsonl", std::ios::trunc);
    for (const FrameLine& l : lines) out << frame_line_json(world->action_spec(), l) << "\n";
  }
  EXPECT_EQ(worldloop("replay '" + session + "'", output, dir.path), 1);
  EXPECT_NE(output.find("the first is frame 12"), std::string::npos) << output;

  // --record names a directory: an MP4 name is refused, and nothing is made.
  EXPECT_EQ(worldloop("play --ground-truth --headless --frames 3 --record '" + dir.file("clip.mp4") + "'", output, dir.path), 1);
  EXPECT_NE(output.find("names a session directory"), std::string::npos) << output;
  EXPECT_FALSE(fs::exists(dir.file("clip.mp4")));
}

// As the window drives it: play before recording (the pre-roll), record, reset with a new seed,
// stop, start again into a second directory.
TEST(Replay, GroundTruthRecordingStartedMidEpisodeWithAResetReplays) {
  test::TempDir dir("replay");
  std::unique_ptr<World> world = make_world("voxel", {32, 32});
  std::unique_ptr<Policy> policy = make_policy("sticky_random", "voxel");
  SimulatorRecorder recorder(make_ground_truth_header("voxel", 32, 20.0, 5, "you"), world->action_spec(), true);
  double time = 0.0;
  auto run = [&](int steps) {
    for (int i = 0; i < steps; ++i) {
      std::vector<float> a = policy->next(*world);
      InputSnapshot input;
      input.keys.set(26);
      input.mouse_dx = static_cast<float>(i);
      recorder.step(a, &input, world->step(a), time += 0.05);
    }
  };
  recorder.reset(5, world->reset(5), 0.0);
  policy->reset(5);
  run(7);
  recorder.start(dir.file("one"));
  run(10);
  recorder.reset(9, world->reset(9), time);
  run(6);
  EXPECT_TRUE(recorder.status().active);
  EXPECT_EQ(recorder.status().frames, 17);
  recorder.stop();
  run(4);
  recorder.start(dir.file("two"));
  run(3);
  recorder.stop();

  SessionHeader one = read_session_json(dir.file("one/session.json"));
  ASSERT_EQ(one.epochs.size(), 2u);
  EXPECT_EQ(one.epochs[0].preroll, 7);
  EXPECT_EQ(one.epochs[0].file, "preroll.jsonl");
  EXPECT_EQ(one.epochs[1].seed, 9u);
  EXPECT_EQ(one.frames, 18);
  std::vector<FrameLine> lines = read_frame_lines(dir.file("one/actions.jsonl"), world->action_spec());
  ASSERT_TRUE(lines[3].input.has_value());
  EXPECT_TRUE(lines[3].input->keys.test(26));
  ReplayResult r = replay_ground_truth(dir.file("one"));
  EXPECT_EQ(r.frames, 18);
  EXPECT_EQ(r.differing, 0) << "first differing frame " << r.first_mismatch;
  ReplayResult r2 = replay_ground_truth(dir.file("two"));
  EXPECT_EQ(r2.frames, 4);
  EXPECT_EQ(r2.differing, 0) << "first differing frame " << r2.first_mismatch;
  EXPECT_EQ(read_session_json(dir.file("two/session.json")).epochs[0].preroll, 6 + 4);

  // A pre-roll that lost a step no longer reaches the first frame.
  std::vector<FrameLine> pre = read_frame_lines(dir.file("one/preroll.jsonl"), world->action_spec());
  pre.pop_back();
  {
    std::ofstream out(dir.file("one/preroll.jsonl"), std::ios::trunc);
    for (const FrameLine& l : pre) out << frame_line_json(world->action_spec(), l) << "\n";
  }
  try {
    replay_ground_truth(dir.file("one"));
    FAIL() << "a short pre-roll was replayed";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("holds 6 steps, session.json's epoch 0 says 7"), std::string::npos) << e.what();
  }
}

// The window: a policy plays in real time under the test display (xvfb), F8's recorder records.
TEST(Replay, GroundTruthWindowRecordingReplays) {
#ifndef WL_WITH_WINDOW
  GTEST_SKIP() << "this build has no window";
#else
  if (!std::getenv("DISPLAY")) GTEST_SKIP() << "no display (the test command runs these under xvfb-run)";
  test::TempDir dir("replay");
  std::string output;
  ASSERT_EQ(worldloop("play --ground-truth --world robot --size 64 --policy sticky_random --frames 16 --record '" +
                          dir.file("w") + "'", output, dir.path), 0) << output;
  SessionHeader header = read_session_json(dir.file("w/session.json"));
  EXPECT_EQ(header.frames, 16);
  EXPECT_EQ(header.player, "policy sticky_random");
  ReplayResult r = replay_ground_truth(dir.file("w"));
  EXPECT_EQ(r.frames, 16);
  EXPECT_EQ(r.differing, 0) << "first differing frame " << r.first_mismatch;
#endif
}

}  // namespace
}  // namespace wl
