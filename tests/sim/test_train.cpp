// `worldloop train` on the CPU at tiny sizes: the autoencoder's and the DiT's losses go down in 30
// steps; a run stopped at step k and resumed to n ends bit-identical to an uninterrupted one (model
// and optimizer); a dataset folder feeds it as well as the simulator; bad flags give one clear error.
// Also LinearDiT::set_trainable: gradients reach every weight, inference output is unchanged.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <numeric>
#include <nlohmann/json.hpp>
#include <sstream>

#include "kernels/core/error.h"
#include "model/autoencoder.h"
#include "model/linear_dit.h"
#include "model/safetensors.h"
#include "model/tensor_io.h"
#include "sim/dataset.h"
#include "sim/train.h"
#include "sim/train_clips.h"
#include "tests/support/small_ae.h"
#include "tests/support/temp_dir.h"

namespace wl {
namespace {

namespace fs = std::filesystem;

using test::TempDir;

using test::small_ae;

TrainOptions ae_options(const fs::path& out, int64_t steps) {
  TrainOptions o;
  o.stage = "ae";
  o.world = "voxel";
  o.out = out.string();
  o.steps = steps;
  o.batch = 4;
  o.lr = 3e-3;
  o.warmup = 3;
  o.size = 32;
  o.episode_frames = 40;
  o.ae_config = small_ae();
  o.checkpoint_every = 100;
  o.progress = false;
  return o;
}

TrainOptions dit_options(const fs::path& out, const fs::path& ae, int64_t steps) {
  TrainOptions o = ae_options(out, steps);
  o.stage = "dit";
  o.world = "driving";
  o.ae = ae.string();
  o.model_size = "tiny";
  o.clip_frames = 4;
  o.block_frames = 2;
  o.batch = 3;
  o.lr = 2e-3;
  return o;
}

// A random AE at the tests' size, as a stage-2 input (its encoder still gives structured latents).
fs::path random_ae_file(const fs::path& dir) {
  fs::path file = dir / "ae_random.safetensors";
  save_ae_checkpoint(file.string(), random_ae_weights(small_ae(), 11), small_ae());
  return file;
}

double mean(const std::vector<double>& v, size_t begin, size_t end) {
  return std::accumulate(v.begin() + begin, v.begin() + end, 0.0) / static_cast<double>(end - begin);
}

// Every tensor of a checkpoint folder: the model (averaged), the trained weights, the optimizer moments.
TensorMap checkpoint_tensors(const std::string& dir) {
  TensorMap all;
  for (const char* file : {"model.safetensors", "train/raw.safetensors", "train/optimizer.safetensors"}) {
    SafetensorsFile f = SafetensorsFile::open((fs::path(dir) / file).string());
    for (auto& [name, t] : load_tensors(f)) all[std::string(file) + ":" + name] = t.clone();
  }
  return all;
}

void expect_identical(const std::string& a, const std::string& b) {
  TensorMap ta = checkpoint_tensors(a), tb = checkpoint_tensors(b);
  ASSERT_EQ(ta.size(), tb.size());
  for (const auto& [name, t] : ta) {
    ASSERT_TRUE(tb.count(name)) << name;
    EXPECT_TRUE(at::equal(t, tb.at(name))) << name << " differs; max |diff| " << (t - tb.at(name)).abs().max().item<double>();
  }
}

template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(Train, AutoencoderLossGoesDown) {
  TempDir dir;
  TrainSummary s = run_train(ae_options(dir.path / "run", 30), std::cout);
  ASSERT_EQ(s.losses.size(), 30u);
  const double first = mean(s.losses, 0, 5), last = mean(s.losses, 25, 30);
  std::printf("ae loss: first 5 steps %.5f, last 5 %.5f\n", first, last);
  EXPECT_LT(last, 0.7 * first);
  EXPECT_EQ(s.last_step, 30);
  EXPECT_TRUE(is_ae_checkpoint((fs::path(s.checkpoint) / "model.safetensors").string()));
  // loss.csv: a header and one row per step.
  std::ifstream csv(dir.path / "run" / "loss.csv");
  std::string text((std::istreambuf_iterator<char>(csv)), {});
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 31);
  EXPECT_EQ(text.rfind("step,loss,lr,seconds,data_wait\n", 0), 0u);
  // The running statistics moved off their initial values.
  AECheckpoint ckpt = load_ae_checkpoint((fs::path(s.checkpoint) / "model.safetensors").string());
  EXPECT_FALSE(at::equal(ckpt.tensors.at("latent_std"), at::ones({4})));
}

TEST(Train, DiTLossGoesDown) {
  TempDir dir;
  TrainSummary s = run_train(dit_options(dir.path / "run", random_ae_file(dir.path), 30), std::cout);
  ASSERT_EQ(s.losses.size(), 30u);
  const double first = mean(s.losses, 0, 5), last = mean(s.losses, 25, 30);
  std::printf("dit loss: first 5 steps %.5f, last 5 %.5f\n", first, last);
  EXPECT_LT(last, 0.8 * first);
  // The checkpoint is a DiT with the world's action width, loadable as any other.
  DiTCheckpoint ckpt = load_dit_checkpoint((fs::path(s.checkpoint) / "model.safetensors").string());
  EXPECT_EQ(ckpt.config.action_dims, 3);
  EXPECT_EQ(ckpt.config.in_channels, 4);
  EXPECT_TRUE(fs::exists(dir.path / "run" / "ae.safetensors"));
}

// --action-lr-scale: the action embedder's output layer starts at zero; with the scale it moves
// that many times faster (Adam's step is proportional to the learning rate).
TEST(Train, ActionLearningRateScaleSpeedsUpTheActionEmbedder) {
  TempDir dir;
  const fs::path ae = random_ae_file(dir.path);
  auto action_norm = [&](double scale, const char* name) {
    TrainOptions o = dit_options(dir.path / name, ae, 4);
    o.ema = 0;
    o.action_lr_scale = scale;
    TrainSummary s = run_train(o, std::cout);
    DiTCheckpoint ckpt = load_dit_checkpoint((fs::path(s.checkpoint) / "model.safetensors").string());
    return ckpt.tensors.at("action_embedder.mlp.2.weight").norm().item<double>();
  };
  const double plain = action_norm(1.0, "plain"), scaled = action_norm(10.0, "scaled");
  std::printf("action embedder output norm after 4 steps: scale 1 %.5f, scale 10 %.5f\n", plain, scaled);
  EXPECT_GT(plain, 0.0);
  EXPECT_GT(scaled, 5.0 * plain);
  TrainOptions bad = dit_options(dir.path / "bad", ae, 1);
  bad.action_lr_scale = 0;
  EXPECT_NE(error_of([&] { run_train(bad, std::cout); }).find("--action-lr-scale must be in (0, 100]"), std::string::npos);
}

// --action-dropout: some blocks train without their actions (the no-action condition that action
// guidance extrapolates from). The same seed with and without it trains differently, and the recipe
// says so; a probability outside [0, 1) is refused.
TEST(Train, ActionDropoutTrainsTheNoActionCondition) {
  TempDir dir;
  const fs::path ae = random_ae_file(dir.path);
  auto run = [&](double dropout, const char* name) {
    TrainOptions o = dit_options(dir.path / name, ae, 3);
    o.action_lr_scale = 10;
    o.action_dropout = dropout;
    return run_train(o, std::cout);
  };
  TrainSummary plain = run(0.0, "plain"), dropped = run(0.5, "dropped");
  ASSERT_EQ(plain.losses.size(), 3u);
  EXPECT_NE(plain.losses[2], dropped.losses[2]);   // step 0 matches: the embedder's output starts at zero
  std::ifstream recipe(dir.path / "dropped" / "run.json");
  std::string text((std::istreambuf_iterator<char>(recipe)), {});
  EXPECT_NE(text.find("\"action_dropout\": 0.5"), std::string::npos) << text;
  TrainOptions bad = dit_options(dir.path / "bad", ae, 1);
  bad.action_dropout = 1.0;
  EXPECT_NE(error_of([&] { run_train(bad, std::cout); }).find("--action-dropout must be in [0, 1)"), std::string::npos);
}

// Counterfactual pairs: rows 2i and 2i + 1 share their context frames and actions, then differ in
// the last block's; row 2i is the clip the unpaired source of half the batch gives its slot i.
TEST(Train, ContrastPairsReplayOneStateWithOtherActions) {
  TempDir dir;
  TrainOptions o = dit_options(dir.path / "run", random_ae_file(dir.path), 1);
  o.world = "voxel";
  o.clip_frames = 6;   // 3 blocks of 2: pairs that differ in the last block or the last two
  const int64_t F = o.clip_frames, T = o.block_frames;
  for (int64_t tail : {T, 2 * T}) {
    auto paired = make_clip_source(o, F, 6, tail);
    auto plain = make_clip_source(o, F, 3);
    for (int64_t step : {1, 2}) {
      auto [frames, actions] = paired->batch(6, step);   // [6, F, 3, S, S], [6, F, A]
      auto [plain_frames, plain_actions] = plain->batch(3, step);
      for (int64_t i = 0; i < 3; ++i) {
        at::Tensor fa = frames[2 * i], fb = frames[2 * i + 1], aa = actions[2 * i], ab = actions[2 * i + 1];
        EXPECT_TRUE(at::equal(fa.narrow(0, 0, F - tail), fb.narrow(0, 0, F - tail))) << "tail " << tail << " pair " << i;
        EXPECT_TRUE(at::equal(aa.narrow(0, 0, F - tail), ab.narrow(0, 0, F - tail))) << "tail " << tail << " pair " << i;
        EXPECT_FALSE(at::equal(aa.narrow(0, F - tail, tail), ab.narrow(0, F - tail, tail))) << "tail " << tail << " pair " << i;
        EXPECT_FALSE(at::equal(fa.narrow(0, F - T, T), fb.narrow(0, F - T, T))) << "tail " << tail << " pair " << i;
        EXPECT_TRUE(at::equal(fa, plain_frames[i]) && at::equal(aa, plain_actions[i])) << "tail " << tail << " pair " << i;
      }
    }
  }
  o.data = dir.path.string();
  EXPECT_NE(error_of([&] { make_clip_source(o, F, 6, T); }).find("need simulated data"), std::string::npos);
}

// --contrast trains on the pairs: a different run from the same seed, recorded in the recipe; an odd
// batch, a dataset or the ae stage are refused.
TEST(Train, ContrastTrainsOnCounterfactualPairs) {
  TempDir dir;
  const fs::path ae = random_ae_file(dir.path);
  auto options = [&](double contrast, const char* name) {
    TrainOptions o = dit_options(dir.path / name, ae, 3);
    o.batch = 4;
    o.action_lr_scale = 10;
    o.contrast = contrast;
    return o;
  };
  TrainSummary plain = run_train(options(0, "plain"), std::cout), paired = run_train(options(2, "paired"), std::cout);
  ASSERT_EQ(paired.losses.size(), 3u);
  for (double l : paired.losses) EXPECT_TRUE(std::isfinite(l));
  EXPECT_NE(plain.losses[0], paired.losses[0]);
  std::ifstream recipe(dir.path / "paired" / "run.json");
  std::string text((std::istreambuf_iterator<char>(recipe)), {});
  EXPECT_NE(text.find("\"contrast\": 2"), std::string::npos) << text;
  TrainOptions bad = options(1, "odd");
  bad.batch = 3;
  EXPECT_NE(error_of([&] { run_train(bad, std::cout); }).find("--batch must be even"), std::string::npos);
  bad = options(1, "data");
  bad.data = dir.path.string();
  EXPECT_NE(error_of([&] { run_train(bad, std::cout); }).find("needs simulated clips"), std::string::npos);
  bad = options(-1, "negative");
  EXPECT_NE(error_of([&] { run_train(bad, std::cout); }).find("--contrast must be in [0, 100]"), std::string::npos);
  bad = options(1, "no_context");
  bad.contrast_blocks = 2;   // 2 blocks of 2 frames: nothing left to share
  EXPECT_NE(error_of([&] { run_train(bad, std::cout); }).find("--contrast-blocks 2 must leave a shared context block: 1..1"),
            std::string::npos);
  bad = options(0, "unpaired");
  bad.contrast_blocks = 2;
  EXPECT_NE(error_of([&] { run_train(bad, std::cout); }).find("add --contrast W"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir.path / "odd"));
  EXPECT_FALSE(fs::exists(dir.path / "no_context"));
  // Pairs that differ in their last two of three blocks train differently from those of one.
  auto three_blocks = [&](int blocks, const char* name) {
    TrainOptions o = options(2, name);
    o.clip_frames = 6;
    o.contrast_blocks = blocks;
    return run_train(o, std::cout);
  };
  TrainSummary one = three_blocks(1, "one"), two = three_blocks(2, "two");
  ASSERT_EQ(two.losses.size(), 3u);
  for (double l : two.losses) EXPECT_TRUE(std::isfinite(l));
  EXPECT_NE(one.losses[0], two.losses[0]);
  std::ifstream recipe2(dir.path / "two" / "run.json");
  std::string text2((std::istreambuf_iterator<char>(recipe2)), {});
  EXPECT_NE(text2.find("\"contrast_blocks\": 2"), std::string::npos) << text2;
}

// --reuse R: R consecutive steps train on one batch of clips (fresh noise each), so a run whose
// simulators are slow trains more per clip; it resumes exactly mid-group, and is refused for ae.
TEST(Train, ReuseTrainsStepsOnOneBatchOfClipsAndResumes) {
  TempDir dir;
  const fs::path ae = random_ae_file(dir.path);
  auto options = [&](const char* name, int64_t steps) {
    TrainOptions o = dit_options(dir.path / name, ae, steps);
    o.reuse = 2;
    o.checkpoint_every = 3;
    return o;
  };
  TrainSummary plain = run_train(dit_options(dir.path / "plain", ae, 4), std::cout);
  TrainSummary whole = run_train(options("whole", 4), std::cout);
  ASSERT_EQ(whole.losses.size(), 4u);
  EXPECT_EQ(plain.losses[0], whole.losses[0]);   // step 1: the same clips and noise
  EXPECT_NE(plain.losses[1], whole.losses[1]);   // step 2: step 1's clips again
  TrainOptions part = options("part", 3);        // stopped inside the second group (steps 3, 4)
  run_train(part, std::cout);
  part.steps = 4;
  part.resume = true;
  part.ae.clear();
  TrainSummary rest = run_train(part, std::cout);
  ASSERT_EQ(rest.losses.size(), 1u);
  EXPECT_EQ(rest.losses[0], whole.losses[3]);
  expect_identical(whole.checkpoint, rest.checkpoint);
  std::ifstream recipe(dir.path / "whole" / "run.json");
  std::string text((std::istreambuf_iterator<char>(recipe)), {});
  EXPECT_NE(text.find("\"reuse\": 2"), std::string::npos) << text;
  TrainOptions bad = ae_options(dir.path / "ae", 1);
  bad.reuse = 2;
  EXPECT_NE(error_of([&] { run_train(bad, std::cout); }).find("--reuse is for the dit and rollout stages"), std::string::npos);
  bad = options("zero", 1);
  bad.reuse = 0;
  EXPECT_NE(error_of([&] { run_train(bad, std::cout); }).find("--reuse must be 1..16"), std::string::npos);
}

TEST(Train, AutoencoderResumeIsExact) {
  TempDir dir;
  TrainOptions whole = ae_options(dir.path / "whole", 6);
  whole.checkpoint_every = 2;
  TrainSummary a = run_train(whole, std::cout);

  TrainOptions part = ae_options(dir.path / "part", 3);   // "interrupted" after step 3
  part.checkpoint_every = 2;
  run_train(part, std::cout);
  part.steps = 6;
  part.resume = true;
  TrainSummary b = run_train(part, std::cout);
  EXPECT_EQ(b.first_step, 3);
  ASSERT_EQ(b.losses.size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(a.losses[3 + i], b.losses[i]) << "step " << 4 + i;
  expect_identical(a.checkpoint, b.checkpoint);
  // Only the newest two checkpoints stay.
  EXPECT_FALSE(fs::exists(dir.path / "whole" / "step_000002"));
  EXPECT_TRUE(fs::exists(dir.path / "whole" / "step_000004"));
}

TEST(Train, DiTResumeIsExact) {
  TempDir dir;
  fs::path ae = random_ae_file(dir.path);
  TrainOptions whole = dit_options(dir.path / "whole", ae, 5);
  whole.checkpoint_every = 2;
  TrainSummary a = run_train(whole, std::cout);
  TrainOptions part = dit_options(dir.path / "part", ae, 2);
  part.checkpoint_every = 2;
  run_train(part, std::cout);
  part.steps = 5;
  part.resume = true;
  part.ae.clear();   // a resumed run uses its own copy of the autoencoder
  TrainSummary b = run_train(part, std::cout);
  expect_identical(a.checkpoint, b.checkpoint);
}

TrainOptions rollout_options(const fs::path& out, const fs::path& init, int64_t steps) {
  TrainOptions o = dit_options(out, "", steps);
  o.stage = "rollout";
  o.ae.clear();
  o.init = init.string();
  o.batch = 2;
  o.denoise_steps = 2;
  o.lr = 1e-3;
  return o;
}

TEST(Train, RolloutStartsFromADiTRunAndLearns) {
  TempDir dir;
  TrainOptions d = dit_options(dir.path / "dit", random_ae_file(dir.path), 20);
  run_train(d, std::cout);
  TrainSummary s = run_train(rollout_options(dir.path / "rollout", dir.path / "dit", 24), std::cout);
  ASSERT_EQ(s.losses.size(), 24u);
  for (double l : s.losses) ASSERT_TRUE(std::isfinite(l));
  const double first = mean(s.losses, 0, 6), last = mean(s.losses, 18, 24);
  std::printf("rollout loss: first 6 steps %.5f, last 6 %.5f\n", first, last);
  EXPECT_LT(last, first);
  // The run's world directory plays with the uniform sampler it was trained for, and its state
  // keeps the context a training clip had (2 blocks per clip -> window:1).
  std::ifstream in(fs::path(s.checkpoint) / "config.json");
  nlohmann::json j = nlohmann::json::parse(std::string(std::istreambuf_iterator<char>(in), {}));
  EXPECT_EQ(j["world"]["sampler"]["schedule"], "uniform");
  EXPECT_EQ(j["world"]["sampler"]["steps"], 2);
  EXPECT_EQ(j["world"]["state_policy"], "window:1");
}

// --rollout-blocks: self-generated clips longer than a training clip, past which the state keeps the
// world's window (as play's does); the world it exports keeps that window; too short, or a dit
// stage, is refused.
TEST(Train, RolloutBlocksGenerateLongerClipsWithTheWorldsWindow) {
  TempDir dir;
  run_train(dit_options(dir.path / "dit", random_ae_file(dir.path), 2), std::cout);
  TrainSummary plain = run_train(rollout_options(dir.path / "plain", dir.path / "dit", 3), std::cout);
  TrainOptions o = rollout_options(dir.path / "long", dir.path / "dit", 3);
  o.rollout_blocks = 4;   // 2 blocks per training clip: 4 generated, the state a window of 1
  TrainSummary longer = run_train(o, std::cout);
  ASSERT_EQ(longer.losses.size(), 3u);
  for (double l : longer.losses) EXPECT_TRUE(std::isfinite(l));
  EXPECT_NE(plain.losses[0], longer.losses[0]);
  std::ifstream in(fs::path(longer.checkpoint) / "config.json");
  nlohmann::json j = nlohmann::json::parse(std::string(std::istreambuf_iterator<char>(in), {}));
  EXPECT_EQ(j["world"]["state_policy"], "window:1");
  std::ifstream recipe(dir.path / "long" / "run.json");
  std::string text((std::istreambuf_iterator<char>(recipe)), {});
  EXPECT_NE(text.find("\"rollout_blocks\": 4"), std::string::npos) << text;
  TrainOptions bad = rollout_options(dir.path / "short", dir.path / "dit", 1);
  bad.rollout_blocks = 1;
  EXPECT_NE(error_of([&] { run_train(bad, std::cout); }).find("--rollout-blocks must be 0 or 2..64"), std::string::npos);
  bad = dit_options(dir.path / "dit_long", random_ae_file(dir.path), 1);
  bad.rollout_blocks = 4;
  EXPECT_NE(error_of([&] { run_train(bad, std::cout); }).find("--rollout-blocks is for the rollout stage"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir.path / "short"));
}

TEST(Train, RolloutResumeIsExact) {
  TempDir dir;
  run_train(dit_options(dir.path / "dit", random_ae_file(dir.path), 2), std::cout);
  TrainOptions whole = rollout_options(dir.path / "whole", dir.path / "dit", 4);
  whole.checkpoint_every = 2;
  TrainSummary a = run_train(whole, std::cout);
  TrainOptions part = rollout_options(dir.path / "part", dir.path / "dit", 2);
  run_train(part, std::cout);
  part.steps = 4;
  part.resume = true;
  TrainSummary b = run_train(part, std::cout);
  for (size_t i = 0; i < 2; ++i) EXPECT_EQ(a.losses[2 + i], b.losses[i]) << "step " << 3 + i;
  expect_identical(a.checkpoint, b.checkpoint);
}

TEST(Train, MaxMinutesStopsWithACheckpointToResume) {
  TempDir dir;
  TrainOptions o = ae_options(dir.path / "run", 1000);
  o.max_minutes = 1e-9;   // out of time after the first step
  TrainSummary s = run_train(o, std::cout);
  EXPECT_TRUE(s.stopped_early);
  EXPECT_EQ(s.last_step, 1);
  EXPECT_EQ(latest_checkpoint(o.out), (dir.path / "run" / "step_000001").string());
}

TEST(Train, ExportMakesAHalfPrecisionWorldDirectory) {
  TempDir dir;
  run_train(dit_options(dir.path / "dit", random_ae_file(dir.path), 2), std::cout);
  const fs::path world = dir.path / "world";
  export_world({(dir.path / "dit").string(), world.string(), "f16"}, std::cout);
  for (const char* f : {"config.json", "model.safetensors", "ae.safetensors", "recipe.json"}) EXPECT_TRUE(fs::exists(world / f)) << f;
  DiTCheckpoint dit = load_dit_checkpoint((world / "model.safetensors").string());
  EXPECT_EQ(dit.tensors.begin()->second.scalar_type(), at::kHalf);
  DiTCheckpoint full = load_dit_checkpoint((dir.path / "dit" / "step_000002" / "model.safetensors").string());
  for (const auto& [name, t] : full.tensors) EXPECT_TRUE(at::equal(t.to(at::kHalf), dit.tensors.at(name))) << name;
  // An earlier export is refreshed and its world card kept; a folder of other files is refused.
  { std::ofstream(world / "README.md") << "card\n"; }
  export_world({(dir.path / "dit").string(), world.string(), "f16"}, std::cout);
  EXPECT_TRUE(fs::exists(world / "README.md"));
  { std::ofstream(dir.path / "other.txt") << "x\n"; }
  EXPECT_NE(error_of([&] { export_world({(dir.path / "dit").string(), dir.path.string(), "f16"}, std::cout); }).find("not an exported world"),
            std::string::npos);
  EXPECT_NE(error_of([&] { export_world({(dir.path / "dit").string(), (dir.path / "w2").string(), "f8"}, std::cout); }).find("f16 or f32"),
            std::string::npos);
}

TEST(Train, ReadsADatasetFolder) {
  TempDir dir;
  DatasetOptions d;
  d.world = "robot";
  d.episodes = 2;
  d.frames = 12;
  d.size = 32;
  d.out = (dir.path / "data").string();
  d.video = false;
  d.progress = false;
  run_dataset(d);
  TrainOptions o = ae_options(dir.path / "run", 2);
  o.world = "robot";
  o.data = d.out;
  TrainSummary s = run_train(o, std::cout);
  EXPECT_EQ(s.losses.size(), 2u);
  o.world = "voxel";
  o.out = (dir.path / "run2").string();
  EXPECT_NE(error_of([&] { run_train(o, std::cout); }).find("robot world"), std::string::npos);
}

TEST(Train, BadFlagsGiveOneClearError) {
  TempDir dir;
  TrainOptions o = ae_options(dir.path / "run", 2);
  o.stage = "vae";
  EXPECT_NE(error_of([&] { run_train(o, std::cout); }).find("unknown --stage 'vae'"), std::string::npos);
  o.stage = "rollout";
  EXPECT_NE(error_of([&] { run_train(o, std::cout); }).find("needs --init"), std::string::npos);
  o = ae_options(dir.path / "run", 2);
  o.world = "moon";
  std::string e = error_of([&] { run_train(o, std::cout); });
  EXPECT_NE(e.find("moon"), std::string::npos) << e;
  EXPECT_NE(e.find("voxel"), std::string::npos) << e;   // names the known worlds
  o = dit_options(dir.path / "run", "", 2);
  EXPECT_NE(error_of([&] { run_train(o, std::cout); }).find("needs --ae"), std::string::npos);
  o = ae_options(dir.path / "run", 2);
  o.resume = true;
  EXPECT_NE(error_of([&] { run_train(o, std::cout); }).find("no checkpoint to resume"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir.path / "run"));   // nothing written for a refused run

  o = ae_options(dir.path / "run", 1);
  run_train(o, std::cout);
  EXPECT_NE(error_of([&] { run_train(o, std::cout); }).find("pass --resume"), std::string::npos);
  o.resume = true;
  o.batch = 5;
  EXPECT_NE(error_of([&] { run_train(o, std::cout); }).find("batch"), std::string::npos);

  // Through the executable: exit code 1 and one line on stderr.
  const fs::path err = dir.path / "err.txt";
  std::string cmd = "'" WL_WORLDLOOP_EXE "' train --stage dit --world voxel --out '" + (dir.path / "x").string() + "' 2>'" +
                    err.string() + "' >/dev/null";
  int status = std::system(cmd.c_str());
  EXPECT_EQ(WEXITSTATUS(status), 1);
  std::ifstream in(err);
  std::string text((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1) << text;
  EXPECT_NE(text.find("needs --ae"), std::string::npos) << text;
}

TEST(LinearDiTTrainable, GradientsReachEveryWeightAndInferenceIsUnchanged) {
  DiTConfig c = train_dit_config("tiny", 4, 3);
  LinearDiT dit = LinearDiT::random(c, 3, {});
  at::manual_seed(0);
  at::Tensor x = at::randn({2, 4, 4, 4, 4}), actions = at::rand({2, 4, 3});
  at::Tensor t = at::tensor({500.f, 0.f, 900.f, 300.f, 10.f, 10.f, 700.f, 700.f}).view({2, 4});
  const std::vector<int64_t> chunks = {2, 2};
  // Three random caption tokens, so the cross-attention's queries and keys matter (with one token
  // the softmax is constant and they get no gradient).
  at::Tensor caption = at::randn({1, 3, c.caption_channels}), mask = at::ones({1, 3});
  at::Tensor before;
  {
    at::NoGradGuard no_grad;
    before = dit.forward_chunked({x, t, actions, 0, {}}, dit.encode_caption(caption, mask), chunks);
  }
  dit.set_trainable(true);
  EXPECT_TRUE(dit.trainable());
  at::Tensor out = dit.forward_chunked({x, t, actions, 0, {}}, dit.encode_caption(caption, mask), chunks);
  EXPECT_TRUE(at::equal(out.detach(), before));
  out.pow(2).mean().backward();
  for (const auto& [name, w] : dit.weights()) {
    ASSERT_TRUE(w.grad().defined()) << name;
    // Zero-initialised layers (t_conv, the action embedder's output) still get a gradient; those
    // behind them (the action embedder's first layer) get exactly zero until they move.
    if (name.rfind("action_embedder.mlp.0", 0) != 0) {
      EXPECT_GT(w.grad().abs().sum().item<double>(), 0.0) << name;
    }
  }
  // An in-place update (what the optimizer does) shows in the next forward.
  {
    at::NoGradGuard no_grad;
    dit.weights().at("blocks.0.mlp.t_conv.weight").add_(0.1);
    at::Tensor changed = dit.forward_chunked({x, t, actions, 0, {}}, dit.encode_caption(caption, mask), chunks);
    EXPECT_FALSE(at::allclose(changed, before));
  }
  dit.set_trainable(false);
  EXPECT_FALSE(dit.parameters().front().requires_grad());
}

}  // namespace
}  // namespace wl
