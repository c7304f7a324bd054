// `worldloop rollout` (sim/rollout.h) with the random-weight tiny driving world: three rollouts of
// three kinds of action source run as one batch equal the same three run one at a time, bit for
// bit; branches forked from a snapshot likewise; a run with a half-written and a missing rollout
// resumes to the same bytes; bad input (unreadable action file, unknown policy, an --out holding
// another run) is one clear error that damages nothing.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <nlohmann/json.hpp>

#include "kernels/core/error.h"
#include "sim/replay.h"
#include "sim/rollout.h"
#include "sim/session.h"
#include "sim/snapshot.h"
#include "sim/world_model.h"
#include "tests/support/temp_dir.h"

namespace wl {
namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Every file under `dir` (relative path -> bytes), summary.json left out (it holds wall times).
std::map<std::string, std::string> tree(const fs::path& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file() && e.path().filename() != "summary.json" && e.path().extension() != ".mp4")
      out[fs::relative(e.path(), dir).string()] = slurp(e.path());
  return out;
}

struct Fixture {
  test::TempDir dir{"rollout"};
  std::string actions, trajectory;
  Fixture() {
    actions = dir.file("drive.jsonl");
    std::ofstream a(actions);
    for (int t = 0; t < 9; ++t)
      a << R"({"frame": )" << t << R"(, "time": 0, "action": {"steer": )" << (t % 3 - 1) * 0.5 << R"(, "throttle": 0.8, "brake": 0}})"
        << "\n";
    trajectory = dir.file("curve.jsonl");
    std::ofstream(trajectory) << "{\"frames\": 6, \"speed\": 12, \"curvature\": 0.02}\n{\"frames\": 6, \"speed\": 5, \"curvature\": -0.01}\n";
  }
  RolloutOptions options(const std::string& out, int batch) const {
    RolloutOptions o;
    o.random_tiny = true;
    o.world = "driving";
    o.policies = {"lane_keep"};
    o.action_files = {actions};
    o.trajectories = {trajectory};
    o.seed = 4;
    o.frames = 14;
    o.block_frames = 2;
    o.batch = batch;
    o.out = dir.file(out);
    o.progress = false;
    return o;
  }
};

TEST(Rollout, BatchedEqualsOneAtATime) {
  Fixture f;
  std::ostringstream log;
  RolloutSummary batched = run_rollout(f.options("batched", 3), log);
  EXPECT_EQ(batched.made, 3);
  RolloutSummary alone = run_rollout(f.options("alone", 1), log);
  EXPECT_EQ(alone.made, 3);
  auto a = tree(f.dir.file("batched")), b = tree(f.dir.file("alone"));
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [name, bytes] : a) EXPECT_TRUE(b[name] == bytes) << name << " differs between --batch 3 and --batch 1";
  for (const char* file : {"actions.jsonl", "blocks.jsonl", "metrics.json", "session.json"})
    EXPECT_TRUE(fs::exists(fs::path(f.dir.file("batched")) / "rollout_0002" / file)) << file;
#ifdef WL_WITH_RECORDING
  EXPECT_TRUE(fs::exists(fs::path(f.dir.file("batched")) / "rollout_0002" / "video.mp4"));
#else
  EXPECT_FALSE(fs::exists(fs::path(f.dir.file("batched")) / "rollout_0002" / "video.mp4")) << "a build without recording";
#endif
  EXPECT_TRUE(fs::exists(f.dir.file("batched/summary.json")));
  EXPECT_NE(log.str().find("rollout_0001"), std::string::npos) << log.str();
  // Three different sources make three different videos.
  EXPECT_NE(a["rollout_0000/actions.jsonl"], a["rollout_0001/actions.jsonl"]);
  EXPECT_NE(a["rollout_0001/actions.jsonl"], a["rollout_0002/actions.jsonl"]);
  // Each rollout is a session: replay regenerates it.
  std::unique_ptr<WorldModel> model = WorldModel::random_tiny("driving", 1);
  ReplayResult r = replay_session(f.dir.file("batched/rollout_0002"), *model, {});
  EXPECT_EQ(r.frames, 14);
  EXPECT_EQ(r.differing, 0);
}

TEST(Rollout, BranchesFromASnapshotBatchedEqualAlone) {
  Fixture f;
  std::unique_ptr<WorldModel> model = WorldModel::random_tiny("driving", 1);
  Session session(*model, StatePolicy::parse(model->info().state_policy), {9});
  ActionTensor a{2, 3, std::vector<float>(6, 0.5f)};
  for (int i = 0; i < 2; ++i) {
    LatentBlock block = session.denoise_block({a}, sampler_for_steps(model->info(), 2));
    session.commit_state(block);
    session.decode(block);
  }
  save_snapshot(f.dir.file("s.wlsnap"), session, {2, 2});
  std::ostringstream log;
  RolloutOptions o = f.options("branch2", 2);
  o.action_files = o.trajectories = {};
  o.from = f.dir.file("s.wlsnap");
  o.branch = 2;
  run_rollout(o, log);
  o.out = f.dir.file("branch1");
  o.batch = 1;
  run_rollout(o, log);
  auto x = tree(f.dir.file("branch2")), y = tree(f.dir.file("branch1"));
  EXPECT_EQ(x.size(), y.size());
  for (const auto& [name, bytes] : x) EXPECT_TRUE(y[name] == bytes) << name;
  EXPECT_NE(x["rollout_0000/actions.jsonl"], "");
  EXPECT_NE(x["rollout_0000/metrics.json"], x["rollout_0001/metrics.json"]);   // two seeds, two futures
  EXPECT_EQ(replay_session(f.dir.file("branch2/rollout_0001"), *model, {}).differing, 0);
}

TEST(Rollout, AKilledRunResumes) {
  Fixture f;
  std::ostringstream log;
  run_rollout(f.options("full", 3), log);
  auto full = tree(f.dir.file("full"));
  // As a kill leaves it: rollout 1 never renamed into place, its temporary directory half written.
  fs::remove_all(f.dir.file("full/rollout_0001"));
  fs::create_directories(f.dir.file("full/.rollout_0001.tmp"));
  std::ofstream(f.dir.file("full/.rollout_0001.tmp/actions.jsonl")) << "{\"frame\": 0, \"tru";
  RolloutSummary again = run_rollout(f.options("full", 2), log);   // --batch does not change results
  EXPECT_EQ(again.kept, 2);
  EXPECT_EQ(again.made, 1);
  EXPECT_FALSE(fs::exists(f.dir.file("full/.rollout_0001.tmp")));
  auto resumed = tree(f.dir.file("full"));
  ASSERT_EQ(resumed.size(), full.size());
  for (const auto& [name, bytes] : full) EXPECT_TRUE(resumed[name] == bytes) << name;
}

std::string error_of(const RolloutOptions& o) {
  std::ostringstream log;
  try {
    run_rollout(o, log);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Rollout, BadInputIsOneClearErrorAndDamagesNothing) {
  Fixture f;
  RolloutOptions missing = f.options("bad1", 1);
  missing.action_files = {f.dir.file("no_such.jsonl")};
  std::string e = error_of(missing);
  EXPECT_NE(e.find("--actions " + f.dir.file("no_such.jsonl")), std::string::npos) << e;
  EXPECT_NE(e.find("hint"), std::string::npos) << e;
  EXPECT_FALSE(fs::exists(f.dir.file("bad1")));

  RolloutOptions policy = f.options("bad2", 1);
  policy.policies = {"fly_away"};
  e = error_of(policy);
  EXPECT_NE(e.find("--policy fly_away"), std::string::npos) << e;
  EXPECT_NE(e.find("lane_keep"), std::string::npos) << e;   // names the known ones
  EXPECT_FALSE(fs::exists(f.dir.file("bad2")));

  std::ostringstream log;
  RolloutOptions first = f.options("taken", 3);
  first.frames = 6;
  run_rollout(first, log);
  auto before = tree(f.dir.file("taken"));
  RolloutOptions other = first;
  other.frames = 8;
  e = error_of(other);
  EXPECT_NE(e.find("holds a different rollout run: its 'frames' is 6, this run's is 8"), std::string::npos) << e;
  EXPECT_NE(e.find("hint"), std::string::npos) << e;
  EXPECT_TRUE(tree(f.dir.file("taken")) == before);
}

// summary.json reports frames/s while generating (denoise + commit + decode, the device synchronised)
// beside the overall rate, so batched and one-at-a-time runs compare without the encoder and files.
TEST(Rollout, SummaryReportsGenerationFramesPerSecond) {
  Fixture f;
  std::ostringstream log;
  RolloutOptions o = f.options("rates", 3);
  RolloutSummary s = run_rollout(o, log);
  EXPECT_GT(s.generation_seconds, 0.0);
  EXPECT_LE(s.generation_seconds, s.seconds);
  nlohmann::json j = nlohmann::json::parse(slurp(f.dir.file("rates/summary.json")));
  EXPECT_EQ(j["frames_made"], 42);
  EXPECT_EQ(j["batch"], 3);
  EXPECT_EQ(j["device"], "cpu");
  EXPECT_GT(j["generation_frames_per_second"].get<double>(), 0.0);
  EXPECT_GE(j["generation_frames_per_second"].get<double>(), j["frames_per_second"].get<double>());
  EXPECT_NEAR(j["generation_frames_per_second"].get<double>(), 42 / j["generation_seconds"].get<double>(), 1e-6);
  EXPECT_NE(log.str().find("frames/s generating (denoise + commit + decode"), std::string::npos) << log.str();
}

// Video is optional: --no-video skips it; --video with --no-video is refused; a build without
// recording (the GPU machine's, -DWL_RECORDING=OFF) runs without video by default and refuses --video.
TEST(Rollout, VideoIsOptionalAndABuildWithoutRecordingSaysSo) {
  Fixture f;
  std::ostringstream log;
  RolloutOptions none = f.options("none", 3);
  none.video = false;
  run_rollout(none, log);
  EXPECT_FALSE(fs::exists(f.dir.file("none/rollout_0000/video.mp4")));
  EXPECT_TRUE(fs::exists(f.dir.file("none/rollout_0000/metrics.json")));
  EXPECT_EQ(nlohmann::json::parse(slurp(f.dir.file("none/summary.json")))["video"], false);

  RolloutOptions both = f.options("both", 3);
  both.video = false;
  both.video_required = true;
  std::string e = error_of(both);
  EXPECT_NE(e.find("--video and --no-video"), std::string::npos) << e;
  EXPECT_FALSE(fs::exists(f.dir.file("both")));

  RolloutOptions asked = f.options("asked", 3);
  asked.video_required = true;
#ifdef WL_WITH_RECORDING
  run_rollout(asked, log);
  EXPECT_TRUE(fs::exists(f.dir.file("asked/rollout_0000/video.mp4")));
#else
  e = error_of(asked);
  EXPECT_NE(e.find("--video: this build has no recording"), std::string::npos) << e;
  EXPECT_NE(e.find("hint"), std::string::npos) << e;
  EXPECT_FALSE(fs::exists(f.dir.file("asked")));
  RolloutOptions by_default = f.options("default", 3);
  run_rollout(by_default, log);
  EXPECT_FALSE(fs::exists(f.dir.file("default/rollout_0000/video.mp4")));
  EXPECT_TRUE(fs::exists(f.dir.file("default/rollout_0002/actions.jsonl")));
  EXPECT_EQ(nlohmann::json::parse(slurp(f.dir.file("default/summary.json")))["video"], false);
  EXPECT_NE(log.str().find(", no video,"), std::string::npos) << log.str();
#endif
}

}  // namespace
}  // namespace wl
