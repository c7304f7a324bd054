// Tests of `worldloop synth` (sim/synth.h), run through the executable as a user runs it, with the
// RANDOM-WEIGHT tiny robot model (--random-tiny) or the simulator (--ground-truth):
//   - a 3-episode dataset passes tests/reference/check_lerobot.py (pyarrow + PyAV: columns, types,
//     row counts, decoded video frame counts; skipped loudly without the reference venv);
//   - a run killed mid-way and restarted equals an uninterrupted run (Parquet and meta files
//     byte-identical, MP4s equal frame by frame after decoding);
//   - shards 0/2 and 1/2 merged equal the unsharded run;
//   - an actions file drives the episodes; bad input (unreadable actions file, unknown policy,
//     an --out holding a different dataset) gives one clear error each and changes nothing.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "render/video_reader.h"
#include "tests/sim/reference_python.h"
#include "tests/support/temp_dir.h"

extern char** environ;

namespace wl {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

// Small and quick: 4 episodes of 9 frames (one 3-latent-frame block of the tiny model each).
const std::string kTinyArgs = "--random-tiny --episodes 4 --frames 9 --seed 3 --no-progress";

test::CommandResult synth(const std::string& args) {
  return test::run_command("'" WL_WORLDLOOP_EXE "' --log-level warn synth " + args);
}

std::string bytes_of(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Every file under `root` by relative path.
std::map<std::string, fs::path> files_under(const fs::path& root) {
  std::map<std::string, fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(root))
    if (e.is_regular_file()) files[fs::relative(e.path(), root).string()] = e.path();
  return files;
}

// Two datasets are the same: the same files, each byte-identical except MP4s, which must decode
// to the same frames (the encoder's container bytes are not what a dataset promises).
void expect_same_dataset(const fs::path& a, const fs::path& b) {
  auto fa = files_under(a), fb = files_under(b);
  std::vector<std::string> na, nb;
  for (auto& [k, v] : fa) na.push_back(k);
  for (auto& [k, v] : fb) nb.push_back(k);
  ASSERT_EQ(na, nb) << a << " and " << b << " hold different files";
  int videos = 0;
  for (auto& [name, path] : fa) {
    if (path.extension() == ".mp4") {
      VideoContents va = read_video(path.string()), vb = read_video(fb[name].string());
      ASSERT_EQ(va.frames.size(), vb.frames.size()) << name;
      for (size_t f = 0; f < va.frames.size(); ++f) EXPECT_EQ(va.frames[f].rgb, vb.frames[f].rgb) << name << " frame " << f;
      ++videos;
    } else {
      EXPECT_EQ(bytes_of(path), bytes_of(fb[name])) << name << " differs";
    }
  }
  EXPECT_GT(videos, 0);
}

// One uninterrupted unsharded tiny-model dataset, made once for the tests that compare with it.
class SynthTiny : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    reference_ = fs::temp_directory_path() / ("wl_synth_reference_" + std::to_string(::getpid()));
    fs::remove_all(reference_);
    test::CommandResult r = synth(kTinyArgs + " --out '" + reference_.string() + "'");
    ASSERT_EQ(r.code, 0) << r.output;
  }
  static void TearDownTestSuite() { fs::remove_all(reference_); }
  static fs::path reference_;
};
fs::path SynthTiny::reference_;

TEST_F(SynthTiny, WritesLeRobotLayoutThatPyarrowLoads) {
  ASSERT_TRUE(fs::exists(reference_ / "meta/info.json"));
  Json info = Json::parse(bytes_of(reference_ / "meta/info.json"));
  EXPECT_EQ(info["codebase_version"], "v2.1");
  EXPECT_EQ(info["total_episodes"], 4);
  EXPECT_EQ(info["total_frames"], 36);
  EXPECT_EQ(info["features"]["action"]["shape"], Json::array({7}));
  EXPECT_EQ(info["features"]["observation.state"]["shape"], Json::array({8}));
  EXPECT_EQ(info["features"]["observation.images.head"]["shape"], Json::array({64, 64, 3}));
  for (const char* f : {"data/chunk-000/episode_000003.parquet", "videos/chunk-000/observation.images.head/episode_000003.mp4",
                        "meta/episodes.jsonl", "meta/tasks.jsonl", "meta/episodes_stats.jsonl"})
    EXPECT_TRUE(fs::exists(reference_ / f)) << f;
  WL_REQUIRE_REFERENCE_PYTHON(python);
  test::CommandResult r =
      test::run_command("'" + python + "' '" WL_TESTS_DIR "/reference/check_lerobot.py' '" + reference_.string() + "' 4");
  EXPECT_EQ(r.code, 0) << r.output;
}

TEST_F(SynthTiny, RerunKeepsEverything) {
  test::TempDir dir("synth");
  fs::copy(reference_, dir.path / "ds", fs::copy_options::recursive);
  test::CommandResult r = synth(kTinyArgs + " --out '" + (dir.path / "ds").string() + "'");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("0 episodes made, 4 already there"), std::string::npos) << r.output;
  expect_same_dataset(reference_, dir.path / "ds");
}

TEST_F(SynthTiny, KilledRunRestartedEqualsUninterruptedRun) {
  test::TempDir dir("synth");
  const fs::path out = dir.path / "ds";
  std::vector<std::string> args = {WL_WORLDLOOP_EXE, "--log-level", "warn", "synth", "--random-tiny", "--episodes", "4",
                                   "--frames", "9", "--seed", "3", "--no-progress", "--out", out.string()};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  ASSERT_EQ(::posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ), 0);
  // Kill it as soon as the first episode is published: the second is then under way.
  const fs::path first = out / "data/chunk-000/episode_000000.parquet";
  int status = 0;
  bool exited = false;
  for (int i = 0; i < 60000 && !fs::exists(first); ++i) {
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      exited = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_FALSE(exited) << "synth ended before it could be killed (status " << status << ")";
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status));
  ASSERT_FALSE(fs::exists(out / "data/chunk-000/episode_000003.parquet")) << "the run finished before the kill";

  test::CommandResult r = synth(kTinyArgs + " --out '" + out.string() + "'");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(r.output.find(" 0 already there"), std::string::npos) << "the restart kept nothing: " << r.output;
  expect_same_dataset(reference_, out);
}

TEST_F(SynthTiny, ShardsMergedEqualUnshardedRun) {
  test::TempDir dir("synth");
  for (int i = 0; i < 2; ++i) {
    test::CommandResult r = synth(kTinyArgs + " --shard " + std::to_string(i) + "/2 --out '" + (dir.path / std::to_string(i)).string() + "'");
    ASSERT_EQ(r.code, 0) << r.output;
    EXPECT_NE(r.output.find("2 episodes made"), std::string::npos) << r.output;
    EXPECT_FALSE(fs::exists(dir.path / std::to_string(i) / "meta/info.json")) << "a shard is not a whole dataset";
  }
  // An unfinished shard set is refused: shard 1 alone lacks episodes 0 and 2.
  test::CommandResult partial = synth("--merge '" + (dir.path / "bad").string() + "' '" + (dir.path / "1").string() + "'");
  EXPECT_NE(partial.code, 0);
  EXPECT_NE(partial.output.find("shard 0/2 is missing"), std::string::npos) << partial.output;
  EXPECT_FALSE(fs::exists(dir.path / "bad"));

  test::CommandResult r = synth("--merge '" + (dir.path / "all").string() + "' '" + (dir.path / "1").string() + "' '" +
                                (dir.path / "0").string() + "'");
  ASSERT_EQ(r.code, 0) << r.output;
  expect_same_dataset(reference_, dir.path / "all");
}

TEST(Synth, ActionsFileDrivesEveryEpisode) {
  test::TempDir dir("synth");
  std::ofstream actions(dir.file("actions.jsonl"));
  for (int t = 0; t < 12; ++t)   // "frame" is ignored; dz 5 is clamped to 1
    actions << R"({"frame": )" << t << R"(, "dx": 0.5, "dy": -0.25, "dz": 5, "droll": 0, "dpitch": 0, "dyaw": 0.125, "gripper": 1})"
            << "\n";
  actions.close();
  test::CommandResult r = synth("--ground-truth --size 32 --episodes 2 --frames 10 --no-progress --actions '" +
                                dir.file("actions.jsonl") + "' --out '" + dir.file("ds") + "'");
  ASSERT_EQ(r.code, 0) << r.output;
  for (int e = 0; e < 2; ++e) {
    Json record = Json::parse(bytes_of(dir.path / "ds/meta/worldloop_episodes" / ("episode_00000" + std::to_string(e) + ".json")));
    Json want = {0.5, -0.25, 1.0, 0.0, 0.0, 0.125, 1.0};
    EXPECT_EQ(record["stats"]["action"]["min"], want);
    EXPECT_EQ(record["stats"]["action"]["max"], want);
    EXPECT_EQ(record["length"], 10);
    // The gripper moved: the state's x changed over the episode.
    EXPECT_LT(record["stats"]["observation.state"]["min"][0].get<double>(), record["stats"]["observation.state"]["max"][0].get<double>());
  }
  Json info = Json::parse(bytes_of(dir.path / "ds/meta/info.json"));
  EXPECT_EQ(info["features"]["observation.images.head"]["shape"], Json::array({32, 32, 3}));
}

TEST(Synth, BadInputGivesOneClearError) {
  test::TempDir dir("synth");
  const std::string gt = "--ground-truth --size 32 --episodes 1 --frames 4 --no-progress ";

  test::CommandResult unreadable = synth(gt + "--actions /no/such/actions.jsonl --out '" + dir.file("a") + "'");
  EXPECT_NE(unreadable.code, 0);
  EXPECT_NE(unreadable.output.find("--actions /no/such/actions.jsonl cannot be read"), std::string::npos) << unreadable.output;
  EXPECT_NE(unreadable.output.find("hint:"), std::string::npos) << unreadable.output;
  EXPECT_FALSE(fs::exists(dir.path / "a"));

  std::ofstream(dir.file("short.jsonl")) << R"({"dx": 0})" << "\n";
  test::CommandResult malformed = synth(gt + "--actions '" + dir.file("short.jsonl") + "' --out '" + dir.file("a") + "'");
  EXPECT_NE(malformed.code, 0);
  EXPECT_NE(malformed.output.find("short.jsonl:1 has no number 'dy'"), std::string::npos) << malformed.output;

  test::CommandResult policy = synth(gt + "--policy dance --out '" + dir.file("a") + "'");
  EXPECT_NE(policy.code, 0);
  EXPECT_NE(policy.output.find("--policy 'dance' is not a robot policy; hint: use pick_place or sticky_random"),
            std::string::npos)
      << policy.output;
  EXPECT_FALSE(fs::exists(dir.path / "a"));

  ASSERT_EQ(synth(gt + "--out '" + dir.file("a") + "'").code, 0);
  auto before = files_under(dir.path / "a");
  std::map<std::string, std::string> contents;
  for (auto& [name, path] : before) contents[name] = bytes_of(path);
  test::CommandResult other = synth(gt + "--seed 9 --out '" + dir.file("a") + "'");
  EXPECT_NE(other.code, 0);
  EXPECT_NE(other.output.find("--out " + dir.file("a") + " holds a different dataset (seed is 0 there, 9 here)"),
            std::string::npos)
      << other.output;
  EXPECT_NE(other.output.find("hint:"), std::string::npos);
  auto after = files_under(dir.path / "a");
  ASSERT_EQ(after.size(), before.size());
  for (auto& [name, path] : after) EXPECT_EQ(bytes_of(path), contents[name]) << name << " was changed";

  std::ofstream(dir.file("foreign.txt")) << "x";
  fs::create_directories(dir.path / "foreign");
  fs::copy(dir.file("foreign.txt"), dir.path / "foreign/notes.txt");
  test::CommandResult foreign = synth(gt + "--out '" + (dir.path / "foreign").string() + "'");
  EXPECT_NE(foreign.code, 0);
  EXPECT_NE(foreign.output.find("is not empty and has no meta/worldloop_synth.json"), std::string::npos) << foreign.output;
}

}  // namespace
}  // namespace wl
