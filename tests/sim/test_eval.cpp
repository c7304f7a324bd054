// `worldloop eval` and what it stands on: PSNR and SSIM on known cases; WorldModel::encode
// normalises as training does; Session::seed then denoise_block equals forward_chunked over the
// same sequence with clean context blocks (the sampler unrolled by hand, same noise); eval on a
// small random-weight world with our autoencoder reruns to identical numbers; the world card's eval
// section is replaced in place and the rest of the card kept byte for byte.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>

#include "envs/action_spec.h"
#include "kernels/core/error.h"
#include "model/autoencoder.h"
#include "model/checkpoint.h"
#include "sim/eval.h"
#include "sim/session.h"
#include "sim/train.h"
#include "sim/world_model.h"
#include "tests/support/small_ae.h"
#include "tests/support/temp_dir.h"

namespace wl {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

at::Tensor uniform(at::IntArrayRef shape, uint64_t seed) {
  at::Tensor n = NoiseSource(seed).normal(shape, at::TensorOptions().dtype(at::kFloat));
  return (n * 0.2 + 0.5).clamp(0, 1);
}

// [SECTION] metrics

TEST(EvalMetrics, IdenticalFramesGiveInfiniteDecibelsAndSsimOne) {
  at::Tensor a = uniform({3, 32, 40}, 1);
  EXPECT_TRUE(std::isinf(psnr(a, a.clone())));
  EXPECT_DOUBLE_EQ(ssim(a, a.clone()), 1.0);
  at::Tensor batch = uniform({2, 3, 16, 16}, 2);
  EXPECT_DOUBLE_EQ(ssim(batch, batch.clone()), 1.0);
}

TEST(EvalMetrics, PsnrOfAKnownNoiseLevel) {
  // +-0.1 in a checkerboard: MSE exactly 0.01, so 20 dB.
  at::Tensor a = at::full({3, 16, 16}, 0.5);
  at::Tensor sign = (at::arange(16).view({16, 1}) + at::arange(16).view({1, 16})).remainder(2) * 2 - 1;   // [16, 16]
  EXPECT_NEAR(psnr(a, a + 0.1 * sign.to(at::kFloat)), 20.0, 1e-5);
  // Gaussian noise of sigma 0.05: MSE ~ 0.0025, ~26.02 dB.
  at::Tensor b = at::full({3, 128, 128}, 0.5);
  at::Tensor noise = NoiseSource(3).normal({3, 128, 128}, at::TensorOptions().dtype(at::kFloat)) * 0.05;
  EXPECT_NEAR(psnr(b, b + noise), 10 * std::log10(1 / 0.0025), 0.1);
}

TEST(EvalMetrics, SsimOfFlatFramesAndFallingWithNoise) {
  // Flat frames: no variance, so SSIM is the luminance term alone.
  const double c1 = 1e-4, expected = (2 * 0.5 * 0.6 + c1) / (0.25 + 0.36 + c1);
  EXPECT_NEAR(ssim(at::full({3, 20, 20}, 0.5, at::kDouble), at::full({3, 20, 20}, 0.6, at::kDouble)), expected, 1e-12);
  at::Tensor a = uniform({3, 48, 48}, 4);
  at::Tensor noise = NoiseSource(5).normal({3, 48, 48}, at::TensorOptions().dtype(at::kFloat));
  double light = ssim(a, a + 0.02 * noise), heavy = ssim(a, a + 0.2 * noise);
  EXPECT_LT(light, 1.0);
  EXPECT_LT(heavy, light);
  EXPECT_THROW(ssim(a, a.narrow(1, 0, 40)), Error);
  EXPECT_THROW(ssim(at::zeros({3, 8, 8}), at::zeros({3, 8, 8})), Error);   // smaller than the window
}

// [SECTION] a small world with our autoencoder

using test::small_ae;

// A world directory like train's step_N: random DiT and AE weights, non-trivial latent statistics.
void make_world_dir(const fs::path& dir, const std::string& world, int size, int block_frames) {
  fs::create_directories(dir);
  const AEConfig ae = small_ae();
  TensorMap ae_weights = random_ae_weights(ae, 7);
  ae_weights["latent_mean"] = at::linspace(-0.3, 0.4, ae.latent_channels);
  ae_weights["latent_std"] = at::linspace(0.5, 2.0, ae.latent_channels);
  save_ae_checkpoint((dir / "ae.safetensors").string(), ae_weights, ae);
  DiTConfig config = train_dit_config("tiny", static_cast<int>(ae.latent_channels), action_spec_for(world).width());
  save_dit_checkpoint((dir / "model.safetensors").string(), random_dit_weights(config, 9, /*training_init=*/false), config);
  nlohmann::json j = nlohmann::json::parse(config_to_json(config));
  j["world"] = {{"name", world}, {"latent_h", size / 8}, {"latent_w", size / 8}, {"fps", 20},
                {"block_frames", block_frames}, {"state_policy", "global"}, {"decoder", "ae.safetensors"}};
  std::ofstream(dir / "config.json") << j.dump(2);
}

TEST(EvalEncode, NormalisesAsTrainingDoes) {
  TempDir dir("eval");
  make_world_dir(dir.path / "w", "driving", 32, 2);
  auto model = WorldModel::load((dir.path / "w").string());
  ASSERT_TRUE(model->can_encode());
  at::Tensor frames = uniform({2, 3, 3, 32, 32}, 11);   // [B, 3, F, H, W]
  at::Tensor z = model->encode(frames);
  ASSERT_EQ(z.sizes(), (std::vector<int64_t>{2, 4, 3, 4, 4}));
  AECheckpoint ae = load_ae_checkpoint((dir.path / "w" / "ae.safetensors").string());
  AutoEncoder reference(ae, VAEOptions{});
  at::Tensor mean = ae.tensors.at("latent_mean").view({1, 4, 1, 1}), std = ae.tensors.at("latent_std").view({1, 4, 1, 1});
  for (int64_t f = 0; f < 3; ++f) {
    at::Tensor expected = (reference.encode_raw(frames.select(2, f)) - mean) / std;   // [B, C, h, w]
    EXPECT_TRUE(at::allclose(z.select(2, f), expected, 1e-5, 1e-5)) << "frame " << f;
  }
  EXPECT_THROW(model->encode(frames.narrow(3, 0, 24)), Error);
}

TEST(EvalEncode, WorldsWithoutAnEncoderSaySo) {
  auto model = WorldModel::random_tiny("voxel", 1);
  EXPECT_FALSE(model->can_encode());
  try {
    model->encode(at::zeros({1, 3, 1, 64, 64}));
    FAIL() << "encode should throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot encode"), std::string::npos) << e.what();
  }
}

// [SECTION] seeding

ActionTensor random_actions(int frames, int dims, uint64_t seed) {
  at::Tensor v = NoiseSource(seed).normal({frames, dims}, at::TensorOptions().dtype(at::kFloat)).clamp(-1, 1);
  return ActionTensor{frames, dims, std::vector<float>(v.data_ptr<float>(), v.data_ptr<float>() + v.numel())};
}

// The sampler unrolled by hand, as Session::denoise_block runs it: velocity(x, step, t) per step,
// fresh noise between steps. Returns the clean block.
at::Tensor unrolled_sampler(const SamplerConfig& sampler, NoiseSource& noise, const std::vector<int64_t>& shape,
                            const std::function<at::Tensor(const at::Tensor&, size_t, double)>& velocity) {
  auto options = at::TensorOptions().dtype(at::kFloat);
  at::Tensor x = noise.normal(shape, options);
  for (size_t i = 0;; ++i) {
    const double t = sampler.timesteps[i];
    at::Tensor x0 = x - flow_sigma(t, sampler.flow_shift) * velocity(x, i, t);
    if (i + 1 == sampler.timesteps.size()) return x0;
    const double next = flow_sigma(sampler.timesteps[i + 1], sampler.flow_shift);
    x = (1 - next) * x0 + next * noise.normal(shape, options);
  }
}

TEST(EvalSeed, SeedThenGenerateEqualsForwardChunkedWithCleanContext) {
  auto model = WorldModel::random_tiny("driving", 3);
  const DiTConfig& c = model->dit().config();
  const int K = 6, T = 3, A = c.action_dims, h = model->info().latent_h, w = model->info().latent_w;
  at::Tensor context = NoiseSource(5).normal({1, c.in_channels, K, h, w}, at::TensorOptions().dtype(at::kFloat));
  ActionTensor context_actions = random_actions(K, A, 6), next_actions = random_actions(T, A, 7);
  const uint64_t noise_seed = 11;

  Session session(*model, StatePolicy{}, {noise_seed});
  VideoBlock seeded = session.seed(context, {context_actions}, T);
  EXPECT_EQ(session.next_frame(), K);
  EXPECT_EQ(seeded.count(), VideoDecoder::frames_for(K, /*first=*/true));   // TAEHV: 4K - 3
  EXPECT_EQ(session.next_video_frame(), seeded.count());
  const SamplerConfig sampler = sampler_for_steps(model->info(), 4);
  LatentBlock block = session.denoise_block({next_actions}, sampler);

  // The same block from forward_chunked over context + block: clean context chunks at t = 0.
  std::vector<float> all = context_actions.values;
  all.insert(all.end(), next_actions.values.begin(), next_actions.values.end());
  at::Tensor actions = at::from_blob(all.data(), {1, K + T, A}, at::kFloat).clone();   // [1, K + T, A]
  NoiseSource noise(noise_seed, 0);
  at::Tensor clean = unrolled_sampler(sampler, noise, {1, c.in_channels, T, h, w}, [&](const at::Tensor& x, size_t, double t) {
    at::Tensor timestep = at::cat({at::zeros({1, K}), at::full({1, T}, t)}, 1);   // [1, K + T]
    return model->dit()
        .forward_chunked({at::cat({context, x}, 2), timestep, actions, 0}, model->caption(), {T, T, T})
        .narrow(2, K, T);   // [1, C, T, h, w]
  });
  const double err = (block.latents - clean).abs().max().item<double>(), scale = clean.abs().max().item<double>();
  EXPECT_LT(err, 1e-4 * std::max(1.0, scale)) << "max |seeded - chunked| = " << err;
  // And the actions matter: the same seed with other context actions gives another block.
  Session other(*model, StatePolicy{}, {noise_seed});
  other.seed(context, {random_actions(K, A, 99)}, T);
  EXPECT_GT((other.denoise_block({next_actions}, sampler).latents - block.latents).abs().max().item<double>(), 1e-3);
}

// sampler.action_guidance_steps: a session guides only its first N denoise steps (the hand-unrolled
// loop below guides step 0 and leaves the rest plain); a world config asking for more steps than its
// sampler has is refused, naming the key.
TEST(EvalSeed, GuidanceOnTheFirstStepsOnly) {
  TempDir dir("eval");
  make_world_dir(dir.path / "w", "driving", 32, 2);
  auto model = WorldModel::load((dir.path / "w").string());
  const DiTConfig& c = model->dit().config();
  {
    at::NoGradGuard no_grad;   // give the actions a say (the action embedder's last layer)
    for (auto& [name, t] : model->dit().weights())
      if (name.rfind("action_embedder.mlp.2.", 0) == 0) t.normal_(0, 0.5);
  }
  const int T = 2, h = model->info().latent_h, w = model->info().latent_w;
  ActionTensor actions = random_actions(T, c.action_dims, 3);
  SamplerConfig sampler = sampler_for_steps(model->info(), 3);
  sampler.action_guidance = 4.0;
  sampler.action_guidance_steps = 1;
  EXPECT_EQ(sampler.guidance_at(0), 4.0);
  EXPECT_EQ(sampler.guidance_at(1), 1.0);
  Session session(*model, StatePolicy{}, {21});
  LatentBlock block = session.denoise_block({actions}, sampler);

  WorldState state = model->dit().new_state(1, h, w, StatePolicy{});
  at::Tensor a = at::from_blob(actions.values.data(), {1, T, c.action_dims}, at::kFloat).clone();
  NoiseSource noise(21, 0);
  at::Tensor clean = unrolled_sampler(sampler, noise, {1, c.in_channels, T, h, w}, [&](const at::Tensor& x, size_t i, double t) {
    return guided_velocity(model->dit(), {x, at::full({1}, t), a, 0}, model->caption(), state, i == 0 ? 4.0 : 1.0);
  });
  EXPECT_TRUE(at::allclose(block.latents, clean, 1e-4, 1e-4));
  sampler.action_guidance_steps = 0;   // every step guided: another block
  EXPECT_GT((Session(*model, StatePolicy{}, {21}).denoise_block({actions}, sampler).latents - block.latents)
                .abs().max().item<double>(), 1e-3);

  nlohmann::json j = nlohmann::json::parse(std::ifstream(dir.path / "w" / "config.json"));
  j["world"]["sampler"] = {{"steps", 4}, {"action_guidance", 3.0}, {"action_guidance_steps", 5}};
  std::ofstream(dir.path / "w" / "config.json") << j.dump(2);
  try {
    WorldModel::load((dir.path / "w").string());
    FAIL() << "action_guidance_steps 5 of 4 steps should be refused";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("sampler.action_guidance_steps must be in 0..steps (4"), std::string::npos)
        << e.what();
  }
  j["world"]["sampler"]["action_guidance_steps"] = 1;
  std::ofstream(dir.path / "w" / "config.json") << j.dump(2);
  EXPECT_EQ(WorldModel::load((dir.path / "w").string())->info().action_guidance_steps, 1);
}

TEST(EvalSeed, RefusesMismatchedShapes) {
  auto model = WorldModel::random_tiny("driving", 3);
  const DiTConfig& c = model->dit().config();
  Session session(*model, StatePolicy{}, {1});
  at::Tensor z = at::zeros({1, c.in_channels, 2, 8, 8});
  EXPECT_THROW(session.seed(z, {random_actions(3, c.action_dims, 1)}), Error);         // 3 action rows, 2 frames
  EXPECT_THROW(session.seed(z, {random_actions(2, c.action_dims + 1, 1)}), Error);     // wrong width
  EXPECT_THROW(session.seed(z.narrow(3, 0, 4), {random_actions(2, c.action_dims, 1)}), Error);   // wrong grid
  EXPECT_THROW(session.seed(z, {}), Error);
}

// [SECTION] eval end to end

EvalOptions small_eval(const fs::path& world) {
  EvalOptions o;
  o.model = world.string();
  o.seeds = 2;
  o.horizons = {4, 1, 2};
  o.context_frames = 3;
  o.response_frames = 3;
  o.stability_frames = 16;
  o.motion_window = 4;
  o.progress = false;
  return o;
}

TEST(Eval, RerunsToIdenticalNumbersAndWritesJsonAndCard) {
  TempDir dir("eval");
  make_world_dir(dir.path / "w", "robot", 32, 2);
  EvalOptions o = small_eval(dir.path / "w");
  o.json_path = dir.file("a.json");
  o.card_path = dir.file("README.md");
  std::ostringstream text;
  EvalReport a = run_eval(o, text);
  o.json_path = dir.file("b.json");
  std::ostringstream quiet;
  EvalReport b = run_eval(o, quiet);

  ASSERT_EQ(a.horizons.size(), 3u);
  EXPECT_EQ(a.horizons[0].horizon, 1);
  EXPECT_EQ(a.horizons[2].horizon, 4);
  EXPECT_EQ(a.seeds, (std::vector<uint64_t>{kEvalSeedBase, kEvalSeedBase + 1}));
  for (const auto& h : a.horizons) {
    EXPECT_TRUE(std::isfinite(h.model_psnr) && h.model_psnr > 0) << h.model_psnr;
    EXPECT_GT(h.ae_ssim, -1.0);
    EXPECT_LE(h.ae_ssim, 1.0);
    EXPECT_TRUE(std::isfinite(h.hold_psnr) && h.hold_psnr > 0) << h.hold_psnr;
    EXPECT_EQ(h.new_share, -1.0);   // the robot world does not name its surfaces
  }
  ASSERT_EQ(a.response.size(), 1u);
  EXPECT_EQ(a.response[0].trials + a.response[0].undecided, 2);
  EXPECT_NE(a.response[0].test.find("dy"), std::string::npos);
  EXPECT_LE(a.response[0].aligned, a.response[0].trials);
  EXPECT_GE(a.response[0].alignment, -1.0);
  EXPECT_LE(a.response[0].alignment, 1.0);
  EXPECT_EQ(a.stability.frames, 16);
  EXPECT_EQ(a.stability.windows, 4);
  EXPECT_EQ(a.stability.non_finite_frames, 0);
  EXPECT_GT(a.speed.frames_per_s, 0.0);

  // Everything but the timings is identical on the rerun.
  nlohmann::json ja = nlohmann::json::parse(read_file(dir.file("a.json")));
  nlohmann::json jb = nlohmann::json::parse(read_file(dir.file("b.json")));
  EXPECT_TRUE(ja.contains("speed") && ja.contains("machine") && ja["engine"].contains("commit"));
  ja.erase("speed"), jb.erase("speed");
  EXPECT_EQ(ja.dump(), jb.dump());
  EXPECT_EQ(ja["options"]["horizons"], nlohmann::json({1, 2, 4}));

  std::string card = read_file(dir.file("README.md"));
  EXPECT_NE(card.find("<!-- eval:begin -->"), std::string::npos);
  EXPECT_NE(card.find("| 4 |"), std::string::npos);
  EXPECT_NE(card.find("points the simulator's way (mean cosine)"), std::string::npos);
  EXPECT_TRUE(ja["response"][0].contains("alignment") && ja["response"][0].contains("aligned"));
  EXPECT_NE(text.str().find("horizon 1 "), std::string::npos) << text.str();
  EXPECT_TRUE(ja["fidelity"][0].contains("hold_psnr") && !ja["fidelity"][0].contains("content"));
  EXPECT_EQ(card.find("By content"), std::string::npos);
}

// Voxel names the block face under each pixel, so its fidelity splits into what the context showed
// and what it did not; with one seed the two parts' squared errors, weighed by their pixels, make
// the whole frame's. Its two yaw tests (in view, and past it) both run; --first-seed moves the seeds.
TEST(Eval, VoxelSplitsFidelityByWhatTheContextShowed) {
  TempDir dir("eval");
  make_world_dir(dir.path / "w", "voxel", 32, 2);
  EvalOptions o = small_eval(dir.path / "w");
  o.seeds = 1;
  o.first_seed = 4321;
  o.horizons = {1, 12};
  o.card_path = dir.file("README.md");
  std::ostringstream text;
  EvalReport r = run_eval(o, text);
  EXPECT_EQ(r.seeds, (std::vector<uint64_t>{4321}));
  for (const auto& h : r.horizons) {
    ASSERT_GE(h.new_share, 0.0);
    ASSERT_LE(h.new_share, 1.0);
    auto mse = [](double db) { return std::pow(10.0, -db / 10.0); };
    const double parts = (1 - h.new_share) * mse(h.model_psnr_shown) + (h.new_share > 0 ? h.new_share * mse(h.model_psnr_new) : 0.0);
    EXPECT_NEAR(parts, mse(h.model_psnr), 1e-6 * mse(h.model_psnr)) << "horizon " << h.horizon;
    EXPECT_TRUE(std::isfinite(h.ae_psnr_shown)) << h.ae_psnr_shown;
  }
  ASSERT_EQ(r.response.size(), 2u);
  EXPECT_NE(r.response[0].test.find("camera_yaw 2 vs 8"), std::string::npos) << r.response[0].test;
  EXPECT_NE(r.response[1].test.find("camera_yaw 0 vs 10"), std::string::npos) << r.response[1].test;
  EXPECT_NE(text.str().find("fidelity by content"), std::string::npos) << text.str();
  EXPECT_NE(read_file(dir.file("README.md")).find("| model PSNR, shown |"), std::string::npos);
  o.first_seed = (uint64_t{1} << 48) + 1;
  EXPECT_THROW(run_eval(o, text), Error);
}

TEST(Eval, RefusesBadOptionsAndMissingWorlds) {
  TempDir dir("eval");
  make_world_dir(dir.path / "w", "voxel", 32, 2);
  EvalOptions o = small_eval(dir.path / "w");
  std::ostringstream out;
  o.seeds = 0;
  EXPECT_THROW(run_eval(o, out), Error);
  o = small_eval(dir.path / "w");
  o.stability_frames = 2;   // shorter than one motion window
  EXPECT_THROW(run_eval(o, out), Error);
  o = small_eval(dir.path / "missing");
  EXPECT_THROW(run_eval(o, out), Error);
}

// Runs worldloop with `args`; returns the exit code, stdout in `out` and stderr in `err`.
int run_worldloop(const std::string& args, const TempDir& dir, std::string& out, std::string& err) {
  const std::string o = dir.file("stdout"), e = dir.file("stderr");
  int status = std::system(("WL_LOG=warn '" WL_WORLDLOOP_EXE "' " + args + " >'" + o + "' 2>'" + e + "'").c_str());
  out = read_file(o), err = read_file(e);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(EvalCli, EvalAndBenchWorldsModelsRunFromTheCommandLine) {
  TempDir dir("eval");
  make_world_dir(dir.path / "w", "voxel", 32, 2);
  const std::string world = (dir.path / "w").string();
  std::string out, err;
  ASSERT_EQ(run_worldloop("eval --model '" + world + "' --seeds 1 --first-seed 77 --horizons 1,3 --context-frames 2 --response-frames 2 "
                          "--stability-frames 8 --motion-window 4 --json '" + dir.file("e.json") + "'", dir, out, err), 0)
      << err;
  nlohmann::json j = nlohmann::json::parse(read_file(dir.file("e.json")));
  EXPECT_EQ(j["fidelity"].size(), 2u);
  EXPECT_EQ(j["seeds"], nlohmann::json({77}));
  EXPECT_TRUE(j["fidelity"][0]["content"].contains("new_share"));
  EXPECT_NE(out.find("camera_yaw"), std::string::npos) << out;
  EXPECT_EQ(run_worldloop("eval --seeds 1", dir, out, err), 1);
  EXPECT_NE(err.find("pass --world NAME or --model DIR"), std::string::npos) << err;
  ASSERT_EQ(run_worldloop("bench --section worlds-models --repeats 1 --model-frames 4 --model '" + world + "'", dir, out, err), 0)
      << err;
  EXPECT_NE(out.find("worlds-models: " + world + " (voxel, 32x32, block 2"), std::string::npos) << out;
}

TEST(EvalCard, ReplacesOnlyTheSectionAndCreatesItWhenAbsent) {
  TempDir dir("eval");
  const std::string path = dir.file("card.md");
  write_card_section(path, "first\n");   // no file yet
  EXPECT_EQ(read_file(path), "<!-- eval:begin -->\nfirst\n<!-- eval:end -->\n");
  {
    std::ofstream(path, std::ios::binary) << "# World\n\nintro\n<!-- eval:begin -->\nold\nlines\n<!-- eval:end -->\ntail";
  }
  write_card_section(path, "new");
  EXPECT_EQ(read_file(path), "# World\n\nintro\n<!-- eval:begin -->\nnew\n<!-- eval:end -->\ntail");
  { std::ofstream(path, std::ios::binary) << "# World\nno section"; }
  write_card_section(path, "s\n");
  EXPECT_EQ(read_file(path), "# World\nno section\n\n<!-- eval:begin -->\ns\n<!-- eval:end -->\n");
  { std::ofstream(path, std::ios::binary) << "<!-- eval:end -->\n<!-- eval:begin -->\n"; }
  EXPECT_THROW(write_card_section(path, "x"), Error);
  EXPECT_EQ(read_file(path), "<!-- eval:end -->\n<!-- eval:begin -->\n");   // untouched
  EXPECT_FALSE(fs::exists(path + ".tmp"));
}

}  // namespace
}  // namespace wl
