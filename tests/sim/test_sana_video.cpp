// SANA-Video worlds end to end on the CPU: `worldloop export --random-sana-video` writes a
// random-weight, action-free SANA-Video-shaped world (tiny preset, small decoders, a reduced
// 32x48 video), which loads as world "none" labelled RANDOM WEIGHTS, streams DiT -> decoder ->
// frames of the configured size through a session and through the frame loop, and plays headless
// from the command line with either decoder (Wan2.1 VAE, TAEHV). Bad inputs get clear errors.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <unistd.h>

#include "kernels/core/error.h"
#include "sim/actions.h"
#include "sim/loop.h"
#include "sim/pacer.h"
#include "sim/session.h"
#include "sim/world_model.h"

namespace wl {
namespace {

namespace fs = std::filesystem;

constexpr int kLatentH = 4, kLatentW = 6;   // 32x48 video

struct CliRun {
  int status = 0;
  std::string output;   // stdout and stderr
};

CliRun worldloop(const std::string& args) {
  const std::string out = fs::temp_directory_path() / ("wl_sana_cli_" + std::to_string(::getpid()) + ".txt");
  const std::string cmd = "'" WL_WORLDLOOP_EXE "' " + args + " >'" + out + "' 2>&1";
  CliRun r;
  r.status = std::system(cmd.c_str());
  std::ifstream in(out);
  r.output.assign(std::istreambuf_iterator<char>(in), {});
  fs::remove(out);
  return r;
}

// A fresh random SANA-Video world of the tiny preset with `decoder`, made by the command.
std::string export_world(const std::string& decoder) {
  const std::string dir = fs::temp_directory_path() / ("wl_sana_" + decoder + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  CliRun r = worldloop("export --random-sana-video '" + dir + "' --preset tiny --decoder " + decoder + " --latent-h " +
                    std::to_string(kLatentH) + " --latent-w " + std::to_string(kLatentW) + " --dtype f32");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("RANDOM-WEIGHT SANA-Video world"), std::string::npos) << r.output;
  return dir;
}

class NoActionsForTest final : public ActionSource {
 public:
  std::vector<float> next(const InputSnapshot&) override { return {}; }
  void reset(uint64_t) override {}
  std::string name() const override { return "no-actions"; }
};

class SanaVideoWorld : public ::testing::TestWithParam<std::string> {};

TEST_P(SanaVideoWorld, StreamsFramesOfTheConfiguredSizeThroughSessionAndLoop) {
  const std::string dir = export_world(GetParam());
  std::unique_ptr<WorldModel> model = WorldModel::load(dir);
  const WorldModelInfo& info = model->info();
  EXPECT_EQ(info.world, kNoActionsWorld);
  EXPECT_EQ(model->action_spec().width(), 0);
  EXPECT_EQ(model->dit().config().action_dims, 0);
  EXPECT_TRUE(info.random_weights);
  EXPECT_EQ(info.label.rfind("RANDOM WEIGHTS", 0), 0u) << info.label;
  EXPECT_EQ(info.latent_h, kLatentH);
  EXPECT_EQ(info.latent_w, kLatentW);
  EXPECT_EQ(info.sampler_schedule, "longsana");
  EXPECT_EQ(model->make_decoder()->name(), std::string(GetParam() == "wan" ? "wan2.1" : "taehv"));

  // DiT -> decoder: two blocks of 3 latent frames give 1 + 8 and then 12 frames of 32x48.
  Session session(*model, StatePolicy::parse(info.state_policy), {7});
  const SamplerConfig sampler = sampler_for_steps(info, info.denoise_steps);
  for (int block = 0; block < 2; ++block) {
    LatentBlock latents = session.denoise_block({ActionTensor{3, 0, {}}}, sampler);
    session.commit_state(latents);
    VideoBlock video = session.decode(latents);
    ASSERT_EQ(video.frames.dim(), 5);
    EXPECT_EQ(video.frames.size(0), 1);
    EXPECT_EQ(video.frames.size(1), 3);
    EXPECT_EQ(video.frames.size(2), block == 0 ? 9 : 12);
    EXPECT_EQ(video.frames.size(3), 8 * kLatentH);
    EXPECT_EQ(video.frames.size(4), 8 * kLatentW);
    EXPECT_TRUE(at::isfinite(video.frames).all().item<bool>()) << "random weights must still give finite frames";
  }

  // The frame loop into a 48x32 display, headless on a virtual clock.
  MemoryDisplay display(8 * kLatentW, 8 * kLatentH);
  VirtualClock clock;
  NoActionsForTest actions;
  int64_t recorded = 0;
  LoopInfo loop_info;
  loop_info.model = model.get();
  loop_info.display = &display;
  loop_info.actions = &actions;
  loop_info.clock = &clock;
  loop_info.threaded = false;
  loop_info.record = [&](const FrameTarget& frame, int64_t) {
    EXPECT_EQ(frame.width, 8 * kLatentW);
    EXPECT_EQ(frame.height, 8 * kLatentH);
    ++recorded;
  };
  FrameLoop loop(loop_info);
  while (loop.stats().frames_shown < 13) loop.tick();
  EXPECT_GE(recorded, 13);
  EXPECT_EQ(display.pixels().size(), static_cast<size_t>(4 * 8 * kLatentW * 8 * kLatentH));
  fs::remove_all(dir);
}

TEST_P(SanaVideoWorld, PlaysHeadlessFromTheCommandLine) {
  const std::string dir = export_world(GetParam());
  CliRun r = worldloop("play --model '" + dir + "' --headless --frames 13");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("play RANDOM WEIGHTS"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(": 13 frames"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("played by no-actions"), std::string::npos) << r.output;
#ifdef WL_WITH_RECORDING
  // The session record names the frame size; its video has the frames shown.
  const std::string record = dir + "_record";
  fs::remove_all(record);
  r = worldloop("play --model '" + dir + "' --headless --frames 13 --record '" + record + "'");
  ASSERT_EQ(r.status, 0) << r.output;
  std::ifstream in(fs::path(record) / "session.json");
  nlohmann::json session = nlohmann::json::parse(in);
  EXPECT_EQ(session.at("width").get<int>(), 8 * kLatentW);
  EXPECT_EQ(session.at("height").get<int>(), 8 * kLatentH);
  EXPECT_EQ(session.at("world").get<std::string>(), kNoActionsWorld);
  r = worldloop("replay '" + record + "'");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("bit-identical"), std::string::npos) << r.output;
  fs::remove_all(record);
#endif
  // Nothing to drive: a policy is refused by name.
  r = worldloop("play --model '" + dir + "' --headless --frames 4 --policy sticky_random");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("takes no actions"), std::string::npos) << r.output;
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Decoders, SanaVideoWorld, ::testing::Values("taehv", "wan"),
                         [](const auto& info) { return info.param; });

TEST(SanaVideoWorldErrors, BadSpecsAndDirectoriesAreNamed) {
  const std::string dir = fs::temp_directory_path() / ("wl_sana_bad_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  CliRun r = worldloop("export --random-sana-video '" + dir + "' --preset tiny --decoder vqgan");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("--decoder must be taehv or wan"), std::string::npos) << r.output;
  r = worldloop("export --random-sana-video '" + dir + "' --preset tiny --latent-h 5");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("must be even"), std::string::npos) << r.output;
  r = worldloop("export --random-sana-video '" + dir + "' --preset huge");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("unknown model preset 'huge'"), std::string::npos) << r.output;
  r = worldloop("export --random-sana-video '" + dir + "' --preset tiny --dtype f8");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("--dtype must be f32, f16 or bf16"), std::string::npos) << r.output;
  r = worldloop("export --out '" + dir + "'");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("export needs --run"), std::string::npos) << r.output;

  // A made world refuses to be overwritten, and its config must agree with its DiT.
  r = worldloop("export --random-sana-video '" + dir + "' --preset tiny --latent-h 2 --latent-w 2");
  ASSERT_EQ(r.status, 0) << r.output;
  r = worldloop("export --random-sana-video '" + dir + "' --preset tiny");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("is not empty"), std::string::npos) << r.output;
  auto rewrite = [&](const std::string& name) {
    nlohmann::json j;
    {
      std::ifstream in(fs::path(dir) / "config.json");
      j = nlohmann::json::parse(in);
    }
    j["world"]["name"] = name;
    std::ofstream(fs::path(dir) / "config.json") << j.dump(2);
  };
  rewrite("voxel");   // an action-free DiT cannot play a world with actions
  try {
    WorldModel::load(dir);
    ADD_FAILURE() << "a model without actions loaded as a voxel world";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("0 action dims"), std::string::npos) << e.what();
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace wl
