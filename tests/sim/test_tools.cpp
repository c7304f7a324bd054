// The data and viewing commands, run as the real worldloop binary: `dataset` (files, checksums,
// determinism, resume after a deleted episode and a half-written one, a mismatched --out refused
// untouched), `view` (a PNG from envs/image_io shown headless, letterboxed, read back at known
// pixels; a missing file) and `play --ground-truth` headless with --record (40 frames in the MP4).
// view needs a Vulkan device (lavapipe: VK_ICD_FILENAMES=.../lvp_icd.x86_64.json).
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "envs/image_io.h"
#include "envs/world.h"
#ifdef WL_WITH_RECORDING
#include "render/video_reader.h"
#endif

namespace wl {
namespace {

namespace fs = std::filesystem;

// Headless server builds have no FFmpeg: datasets are then written without their preview MP4s.
#ifdef WL_WITH_RECORDING
constexpr const char* kVideo = "";
#else
constexpr const char* kVideo = " --no-video";
#endif

struct CliResult {
  int code = -1;
  std::string out, err;
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A fresh folder for one test, removed by the fixture.
class Tools : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("wl_tools_" + std::to_string(::getpid()) + "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Runs worldloop with `args` (already shell-quoted), capturing stdout and stderr separately.
  CliResult run(const std::string& args, const std::string& env = "") {
    std::string out = (dir_ / "stdout").string(), err = (dir_ / "stderr").string();
    std::string cmd = env + " '" WL_WORLDLOOP_EXE "' " + args + " >'" + out + "' 2>'" + err + "'";
    int status = std::system(cmd.c_str());
    CliResult r{WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(out), slurp(err)};
    fs::remove(out);
    fs::remove(err);
    return r;
  }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  fs::path dir_;
};

// Every file under `root` with its bytes, to show that a refused run changed nothing.
std::map<std::string, std::string> snapshot(const fs::path& root) {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(root))
    if (e.is_regular_file()) files[fs::relative(e.path(), root).string()] = slurp(e.path());
  return files;
}

uint64_t fnv1a_of(const std::string& bytes) {
  return fnv1a({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()});
}

std::string hex64(uint64_t v) {
  char buffer[19];
  std::snprintf(buffer, sizeof buffer, "%016llx", static_cast<unsigned long long>(v));
  return buffer;
}

int count_lines(const std::string& text) { return static_cast<int>(std::count(text.begin(), text.end(), '\n')); }

// [SECTION] dataset

TEST_F(Tools, DatasetWritesShardsActionsVideoAndManifest) {
  const std::string out = path("data");
  CliResult r = run(std::string("dataset --world voxel --episodes 2 --frames 10 --policy explore --seed 5") + kVideo + " --out '" + out + "'");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("2 episodes made, 0 already there"), std::string::npos) << r.out;

  nlohmann::json header = nlohmann::json::parse(slurp(fs::path(out) / "dataset.json"));
  EXPECT_EQ(header["world"], "voxel");
  EXPECT_EQ(header["policy"], "explore");
  EXPECT_EQ(header["frames_per_episode"], 10);
  for (int e = 0; e < 2; ++e) {
    fs::path ep = fs::path(out) / (e == 0 ? "episode_000000" : "episode_000001");
    nlohmann::json m = nlohmann::json::parse(slurp(ep / "manifest.json"));
    EXPECT_EQ(m["seed"], 5 + e);
    EXPECT_EQ(m["fps"], 20);
    EXPECT_EQ(m["width"], 128);
    EXPECT_EQ(m["files"]["frames"]["shape"], nlohmann::json({10, 128, 128, 3}));
    std::string shard = slurp(ep / "frames.u8");
    ASSERT_EQ(shard.size(), 10u * 128 * 128 * 3);
    EXPECT_EQ(m["files"]["frames"]["fnv1a64"], hex64(fnv1a_of(shard)));
    // Per-frame checksums match the frames in the shard.
    ASSERT_EQ(m["frame_fnv1a64"].size(), 10u);
    EXPECT_EQ(m["frame_fnv1a64"][3], hex64(fnv1a_of(shard.substr(3 * 128 * 128 * 3, 128 * 128 * 3))));
    // The first frame is the world's reset frame for the episode's seed.
    std::unique_ptr<World> world = make_world("voxel");
    const Frame& first = world->reset(5 + e);
    EXPECT_EQ(shard.compare(0, first.rgb.size(), std::string(first.rgb.begin(), first.rgb.end())), 0);

    std::string actions = slurp(ep / "actions.jsonl");
    EXPECT_EQ(count_lines(actions), 10);
    nlohmann::json line = nlohmann::json::parse(actions.substr(0, actions.find('\n')));
    EXPECT_EQ(line["frame"], 0);
    EXPECT_TRUE(line.contains("forward") && line.contains("camera_yaw") && line.contains("hotbar.9")) << line;
    EXPECT_EQ(m["files"]["actions"]["fnv1a64"], hex64(fnv1a_of(actions)));
    EXPECT_EQ(count_lines(slurp(ep / "actions.vpt.jsonl")), 10);
#ifdef WL_WITH_RECORDING
    VideoContents video = read_video((ep / "video.mp4").string());
    EXPECT_EQ(video.frames.size(), 10u);
    EXPECT_EQ(video.info.width, 128);
#endif
  }

  // Same options elsewhere: byte-identical shards and actions.
  const std::string again = path("again");
  ASSERT_EQ(run(std::string("dataset --world voxel --episodes 2 --frames 10 --seed 5 --no-progress") + kVideo + " --out '" + again + "'").code, 0);
  for (const char* f : {"episode_000000/frames.u8", "episode_000001/frames.u8", "episode_000001/actions.jsonl"})
    EXPECT_TRUE(slurp(fs::path(out) / f) == slurp(fs::path(again) / f)) << f;
}

TEST_F(Tools, DatasetResumesADeletedAndAHalfWrittenEpisodeIdentically) {
  const std::string out = path("data");
  const std::string args = "dataset --world driving --episodes 2 --frames 10 --no-video --out '" + out + "'";
  ASSERT_EQ(run(args).code, 0);
  auto before = snapshot(out);
  ASSERT_EQ(before.size(), 7u);   // dataset.json + 2 x (frames, actions, manifest)

  // Nothing to do: both episodes kept, untouched.
  CliResult r = run(args);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("0 episodes made, 2 already there"), std::string::npos) << r.out;
  EXPECT_EQ(snapshot(out), before);

  // Episode 1 deleted, and a run killed inside episode 0's rewrite left its temporary folder.
  fs::remove_all(fs::path(out) / "episode_000001");
  fs::create_directories(fs::path(out) / ".episode_000001.tmp");
  std::ofstream(fs::path(out) / ".episode_000001.tmp" / "frames.u8") << "half";
  r = run(args);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("1 episode made, 1 already there"), std::string::npos) << r.out;
  EXPECT_EQ(snapshot(out), before);   // the temporary folder is gone, episode 1 is back byte for byte

  // Extending the dataset adds episode 2 and keeps the rest.
  r = run("dataset --world driving --episodes 3 --frames 10 --no-video --out '" + out + "'");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(fs::exists(fs::path(out) / "episode_000002" / "manifest.json"));
}

TEST_F(Tools, DatasetRefusesAMismatchedOutAndTouchesNothing) {
  const std::string out = path("data");
  ASSERT_EQ(run("dataset --world robot --episodes 1 --frames 5 --no-video --out '" + out + "'").code, 0);
  auto before = snapshot(out);
  for (const std::string& other : {std::string("--world driving"), std::string("--world robot --policy sticky_random"),
                                   std::string("--world robot --size 64"), std::string("--world robot --seed 3")}) {
    CliResult r = run("dataset " + other + " --episodes 2 --frames 5 --no-video --out '" + out + "'");
    EXPECT_EQ(r.code, 1) << other;
    EXPECT_EQ(r.err.rfind("worldloop: error: " + out + " holds a different dataset", 0), 0u) << r.err;
    EXPECT_EQ(count_lines(r.err), 1) << r.err;
    EXPECT_EQ(snapshot(out), before) << other;
  }
  // A folder with other files is not a dataset.
  std::ofstream(path("notes.txt")) << "mine";
  CliResult r = run(std::string("dataset --world voxel --frames 2") + kVideo + " --out '" + dir_.string() + "'");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("is not empty and has no dataset.json"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir_ / "dataset.json"));
}

TEST_F(Tools, DatasetUnknownWorldOrPolicyIsOneLineAndWritesNothing) {
  CliResult r = run(std::string("dataset --world minecraft") + kVideo + " --out '" + path("a") + "'");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("unknown world 'minecraft'"), std::string::npos) << r.err;
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
  r = run(std::string("dataset --world robot --policy explore") + kVideo + " --out '" + path("b") + "'");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("unknown policy 'explore'"), std::string::npos) << r.err;
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
  EXPECT_FALSE(fs::exists(path("a")));
  EXPECT_FALSE(fs::exists(path("b")));
}

// [SECTION] view

TEST_F(Tools, ViewShowsAPngLetterboxedHeadless) {
#ifndef WL_WITH_RECORDING
  GTEST_SKIP() << "view decodes through FFmpeg, which this build leaves out";
#endif
  // 64x32, four flat quadrants, into a 128x128 output: scale 2, bars of 32 rows above and below.
  Frame image{32, 64, std::vector<uint8_t>(64 * 32 * 3)};
  auto colour = [](int x, int y) -> std::array<uint8_t, 3> {
    if (y < 16) return x < 32 ? std::array<uint8_t, 3>{250, 20, 20} : std::array<uint8_t, 3>{20, 240, 30};
    return x < 32 ? std::array<uint8_t, 3>{30, 40, 230} : std::array<uint8_t, 3>{240, 230, 40};
  };
  for (int y = 0; y < 32; ++y)
    for (int x = 0; x < 64; ++x) std::copy_n(colour(x, y).data(), 3, &image.rgb[(y * 64 + x) * 3]);
  write_png(path("in.png"), image);

  CliResult r = run("view '" + path("in.png") + "' --headless --frames 2 --nearest --no-overlay --output-width 128 "
                    "--output-height 128 --out '" + path("out.png") + "'");
  ASSERT_EQ(r.code, 0) << r.err;
#ifdef WL_WITH_RECORDING
  VideoContents shown = read_video(path("out.png"));
  ASSERT_EQ(shown.frames.size(), 1u);
  ASSERT_EQ(shown.info.width, 128);
  ASSERT_EQ(shown.info.height, 128);
  auto pixel = [&](int x, int y) {
    const uint8_t* p = &shown.frames[0].rgb[(y * 128 + x) * 3];
    return std::array<int, 3>{p[0], p[1], p[2]};
  };
  for (auto [x, y] : {std::pair{5, 5}, std::pair{40, 10}, std::pair{60, 28}, std::pair{63, 31}}) {
    auto want = colour(x, y);
    auto got = pixel(2 * x + 1, 32 + 2 * y + 1);
    for (int c = 0; c < 3; ++c) EXPECT_NEAR(got[c], want[c], 2) << "image pixel " << x << "," << y << " channel " << c;
  }
  EXPECT_EQ(pixel(64, 10), (std::array<int, 3>{0, 0, 0}));    // the bar above
  EXPECT_EQ(pixel(64, 120), (std::array<int, 3>{0, 0, 0}));   // the bar below
#endif
}

TEST_F(Tools, ViewMissingFileIsOneClearLine) {
  CliResult r = run("view '" + path("nothing.mp4") + "' --headless");
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err.rfind("worldloop: error: " + path("nothing.mp4") + ": no such file; hint:", 0), 0u) << r.err;
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
}

// [SECTION] play --ground-truth

TEST_F(Tools, GroundTruthHeadlessRecordsFortyFrames) {
#ifndef WL_WITH_RECORDING
  GTEST_SKIP() << "this build has no recording";
#else
  const std::string session = path("play");
  // No DISPLAY: the world's first policy plays headless even without --headless.
  CliResult r = run("play --ground-truth --world voxel --frames 40 --record '" + session + "'", "env -u DISPLAY");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("40 frames played headless by policy explore"), std::string::npos) << r.out;
  VideoContents video = read_video(session + "/video.mp4");
  EXPECT_EQ(video.frames.size(), 40u);
  EXPECT_EQ(video.info.width, 128);
  EXPECT_EQ(count_lines(slurp(session + "/actions.jsonl")), 40);

  // The same seed and policy as dataset episode 0: the same frames.
  CliResult again = run("play --ground-truth --headless --world voxel --frames 40");
  ASSERT_EQ(again.code, 0) << again.err;
  auto hash_of = [](const std::string& s) { return s.substr(s.find("fnv1a64 ") + 8, 16); };
  EXPECT_EQ(hash_of(again.out), hash_of(r.out));
  ASSERT_EQ(run("dataset --world voxel --frames 40 --no-video --out '" + path("data") + "'").code, 0);
  nlohmann::json m = nlohmann::json::parse(slurp(dir_ / "data" / "episode_000000" / "manifest.json"));
  EXPECT_EQ(m["files"]["frames"]["fnv1a64"], hash_of(r.out)) << r.out;
#endif
}

TEST_F(Tools, GroundTruthFlagsNeedGroundTruthAndKnownWorlds) {
  CliResult p = run("play --headless --frames 3 --policy no_such_policy");
  EXPECT_EQ(p.code, 1);
  EXPECT_NE(p.err.find("no_such_policy"), std::string::npos) << p.err;
  CliResult r = run("play --ground-truth --headless --world nowhere");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("unknown world 'nowhere'"), std::string::npos) << r.err;
}

// The shipped worlds play out of the box: `play --world W` headless writes the frames it showed.
TEST_F(Tools, ShippedWorldPlaysHeadlessIntoAnMp4) {
#ifndef WL_WITH_RECORDING
  GTEST_SKIP() << "this build has no recording";
#else
  const std::string mp4 = path("driving.mp4");
  CliResult r = run("play --world driving --headless --frames 12 --out '" + mp4 + "'");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("12 frames"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("started from the simulator's frames"), std::string::npos) << r.out;   // it can encode
  EXPECT_GT(std::filesystem::file_size(mp4), 1000u);
  // --start noise: the model's own start from an empty state, other frames.
  CliResult noise = run("play --world driving --headless --frames 12 --start noise");
  ASSERT_EQ(noise.code, 0) << noise.err;
  EXPECT_EQ(noise.out.find("started from the simulator"), std::string::npos) << noise.out;
  auto hash = [](const std::string& out) { return out.substr(out.find("frames fnv1a64"), 31); };
  EXPECT_NE(hash(noise.out), hash(r.out));
  // A session of a shipped world named by name records where the world lives and the simulator
  // frames it started from, so it replays, the context frame shown first included.
  for (const char* start : {"auto", "noise"}) {
    const std::string session = path(std::string("session_") + start);
    ASSERT_EQ(run("play --world driving --headless --frames 9 --start " + std::string(start) + " --record '" + session + "'").code, 0);
    std::ifstream first(session + "/actions.jsonl");
    std::string line;
    std::getline(first, line);
    if (std::string(start) == "auto") {   // the seeded context's frame, shown before block 0
      EXPECT_NE(line.find("\"block\":0,\"block_frame\":-1"), std::string::npos) << line;
    }
    CliResult replay = run("replay '" + session + "'");
    EXPECT_EQ(replay.code, 0) << start << ": " << replay.err;
    EXPECT_NE(replay.out.find("bit-identical"), std::string::npos) << start << ": " << replay.out;
  }
#endif
}

// --start simulator needs a world that can encode frames; a bad --start value is named.
TEST_F(Tools, PlayStartIsCheckedAgainstTheWorld) {
  CliResult r = run("play --random-tiny --headless --frames 4 --start simulator");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("--start simulator"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("has no encoder"), std::string::npos) << r.err;
  CliResult bad = run("play --random-tiny --headless --frames 4 --start middle");
  EXPECT_NE(bad.code, 0);
  EXPECT_NE(bad.err.find("--start must be auto, simulator or noise, got 'middle'"), std::string::npos) << bad.err;
  CliResult tiny = run("play --random-tiny --headless --frames 4");   // auto: no encoder, so from an empty state
  EXPECT_EQ(tiny.code, 0) << tiny.err;
  EXPECT_EQ(tiny.out.find("started from the simulator"), std::string::npos) << tiny.out;
}

// The shipped worlds decode one video frame per latent frame (Wan/TAEHV: four): rollout and synth
// must count the frames of a block from the world, not assume Wan's rule.
TEST_F(Tools, ShippedWorldRollsOutAndSynthesisesFrameForFrame) {
  const std::string worlds = std::string(WL_TESTS_DIR) + "/../assets/worlds/";
  const std::string rollouts = path("rollouts");
  CliResult r = run("rollout --model '" + worlds + "driving' --policy lane_keep --seeds 2 --frames 7 --batch 2 --no-video "
                    "--no-progress --out '" + rollouts + "'");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("14 frames"), std::string::npos) << r.out;
  const std::string data = path("robot_data");
  CliResult s = run("synth --model '" + worlds + "robot' --episodes 1 --frames 7 --no-progress --out '" + data + "'");
#ifdef WL_WITH_RECORDING
  ASSERT_EQ(s.code, 0) << s.err;
#else
  EXPECT_NE(s.code, 0);
#endif
}

}  // namespace
}  // namespace wl
