// `play --record DIR` and `worldloop replay`: a recorded CPU session (headless play, and a windowless
// loop with save, load and a mid-session recording start) regenerates bit-identically; a different
// model is refused with both hashes unless --force, which names the first differing frame; an edited
// frame hash is caught at that frame; an existing session directory is never overwritten.
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
  for (const char* f : {"video.mp4", "actions.jsonl", "blocks.jsonl", "session.json"})
    EXPECT_TRUE(fs::exists(fs::path(session) / f)) << f;
  SessionHeader header = read_session_json(session + "/session.json");
  EXPECT_TRUE(header.complete);
  EXPECT_EQ(header.frames, 24);
  EXPECT_EQ(header.model_hash, tiny_voxel().hash_hex());

  ReplayResult r = replay_session(session, tiny_voxel(), {});
  EXPECT_EQ(r.frames, 24);
  EXPECT_EQ(r.differing, 0) << "first differing frame " << r.first_mismatch;
  EXPECT_EQ(r.frames_fnv1a64, header.frames_fnv1a64);

  ASSERT_EQ(worldloop("replay '" + session + "' --out '" + dir.file("again.mp4") + "'", output, dir.path), 0) << output;
  EXPECT_NE(output.find("bit-identical"), std::string::npos) << output;
  EXPECT_TRUE(fs::exists(dir.file("again.mp4")));

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

}  // namespace
}  // namespace wl
