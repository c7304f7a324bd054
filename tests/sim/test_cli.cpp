// The worldloop executable: --version, `info` on a valid file and on every corruption class
// (non-zero exit, one clear line on stderr), and `play` naming what is missing.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <ATen/ATen.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "model/linear_dit.h"
#include "model/taehv.h"
#include "model/tensor_io.h"
#include "tests/model/crafted_safetensors.h"

namespace wl {
namespace {

namespace fs = std::filesystem;

struct CliResult {
  int code = -1;
  std::string out, err;
};

// Runs worldloop with `args` (already shell-quoted), capturing stdout and stderr separately.
CliResult run_worldloop(const std::string& args, const std::string& env = "") {
  fs::path dir = fs::temp_directory_path() / ("wl_cli_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::string out = (dir / "out").string(), err = (dir / "err").string();
  std::string cmd = env + " '" WL_WORLDLOOP_EXE "' " + args + " >'" + out + "' 2>'" + err + "'";
  int status = std::system(cmd.c_str());
  auto slurp = [](const std::string& p) {
    std::ifstream in(p);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  CliResult r{WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(out), slurp(err)};
  fs::remove_all(dir);
  return r;
}

std::string write_temp(const std::string& name, const std::string& bytes) {
  fs::path p = fs::temp_directory_path() / ("wl_cli_" + std::to_string(::getpid()) + "_" + name);
  std::ofstream(p, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return p.string();
}

TEST(Cli, Version) {
  CliResult r = run_worldloop("--version");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("worldloop 0.", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("commit"), std::string::npos) << r.out;
}

TEST(Cli, InfoPrintsSummaryAndTable) {
  std::string path = write_temp("model.safetensors", "");
  save_tensors(path,
               {{"blocks.10.attn.qkv.weight", at::zeros({6, 4}, at::kBFloat16)},
                {"blocks.2.attn.qkv.weight", at::zeros({6, 4}, at::kBFloat16)},
                {"final_layer.linear.bias", at::zeros({8})}},
               {{"format", "pt"}});
  CliResult r = run_worldloop("info '" + path + "'");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("tensors    3\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("parameters 56\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("BF16 x2"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("format = pt"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("[6, 4]"), std::string::npos) << r.out;
  // Natural order: blocks.2 before blocks.10.
  EXPECT_LT(r.out.find("blocks.2.attn"), r.out.find("blocks.10.attn")) << r.out;

  CliResult filtered = run_worldloop("info '" + path + "' --prefix blocks.2.");
  EXPECT_EQ(filtered.code, 0) << filtered.err;
  EXPECT_NE(filtered.out.find("tensors    1\n"), std::string::npos) << filtered.out;
  EXPECT_EQ(filtered.out.find("final_layer"), std::string::npos) << filtered.out;
  fs::remove(path);
}

class CliCorrupt : public ::testing::TestWithParam<test::CraftedFile> {};

TEST_P(CliCorrupt, InfoExitsNonZeroWithOneLine) {
  const auto& c = GetParam();
  std::string path = write_temp(c.name + ".safetensors", c.bytes);
  CliResult r = run_worldloop("info '" + path + "'");
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err.rfind("worldloop: error: " + path + ": ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find(c.expect), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "exactly one line: " << r.err;
  fs::remove(path);
}

INSTANTIATE_TEST_SUITE_P(Classes, CliCorrupt, ::testing::ValuesIn(test::corrupt_files()),
                         [](const auto& info) { return info.param.name; });

TEST(Cli, InfoOnMissingFileAndBadFlags) {
  CliResult missing = run_worldloop("info /no/such/file.safetensors");
  EXPECT_EQ(missing.code, 1);
  EXPECT_NE(missing.err.find("cannot open"), std::string::npos) << missing.err;
  CliResult no_file = run_worldloop("info");
  EXPECT_NE(no_file.code, 0);
  CliResult bad = run_worldloop("--log-level loud");
  EXPECT_NE(bad.code, 0);
}

TEST(Cli, PlaySaysWhatIsMissing) {
  CliResult r = run_worldloop("play --world nosuchworld", "WL_ASSETS=/nonexistent");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("world 'nosuchworld' not found"), std::string::npos) << r.err;

  fs::path dir = fs::temp_directory_path() / ("wl_cli_world_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  CliResult no_weights = run_worldloop("play --model '" + dir.string() + "'");
  EXPECT_EQ(no_weights.code, 1);
  EXPECT_NE(no_weights.err.find("config.json is missing"), std::string::npos) << no_weights.err;
  fs::remove_all(dir);
}

TEST(Cli, ForwardMatchesTheModelAndCarriesState) {
  fs::path dir = fs::temp_directory_path() / ("wl_cli_forward_" + std::to_string(::getpid()));
  fs::create_directories(dir / "model");
  DiTConfig config = dit_preset("tiny");
  save_dit_checkpoint((dir / "model" / "model.safetensors").string(), random_dit_weights(config, 4, false), config);
  at::manual_seed(2);
  at::Tensor latents = at::randn({1, 4, 2, 4, 4}), timestep = at::tensor({640.f});
  at::Tensor caption = at::randn({1, 3, config.caption_channels}), mask = at::ones({1, 3});
  std::string in = (dir / "in.safetensors").string(), out = (dir / "out.safetensors").string();
  save_tensors(in, {{"latents", latents}, {"timestep", timestep}, {"caption", caption}, {"caption_mask", mask}});

  CliResult r = run_worldloop("forward --model '" + (dir / "model").string() + "' --inputs '" + in + "' --out '" + out + "'");
  ASSERT_EQ(r.code, 0) << r.err;
  LinearDiT model(load_dit_checkpoint((dir / "model").string()), DiTOptions{});
  CaptionContext ctx = model.encode_caption(caption, mask);
  at::Tensor want = model.forward({latents, timestep, {}, 0}, ctx);
  EXPECT_TRUE(at::allclose(load_tensor(SafetensorsFile::open(out), "velocity"), want, 1e-6, 1e-6));

  // --commit writes the state; feeding it back continues the session like one in-process state.
  r = run_worldloop("forward --commit --state-policy window:2 --model '" + (dir / "model").string() + "' --inputs '" + in +
                    "' --out '" + out + "'");
  ASSERT_EQ(r.code, 0) << r.err;
  std::vector<std::pair<std::string, at::Tensor>> next = {{"latents", latents}, {"timestep", timestep},
                                                          {"caption", caption}, {"caption_mask", mask}};
  SafetensorsFile first = SafetensorsFile::open(out);
  for (const auto& entry : first.tensors())
    if (entry.name.rfind("state.", 0) == 0) next.emplace_back(entry.name, load_tensor(first, entry).clone());
  save_tensors(in, next, {{"state_policy", "window:2"}});
  r = run_worldloop("forward --model '" + (dir / "model").string() + "' --inputs '" + in + "' --out '" + out + "'");
  ASSERT_EQ(r.code, 0) << r.err;
  WorldState state = model.new_state(1, 4, 4, StatePolicy::parse("window:2"));
  model.forward({latents, timestep, {}, 0}, ctx, state, true);
  at::Tensor second = model.forward({latents, timestep, {}, 2}, ctx, state, false);
  EXPECT_TRUE(at::allclose(load_tensor(SafetensorsFile::open(out), "velocity"), second, 1e-6, 1e-6));

  // A missing input names the tensor.
  save_tensors(in, {{"latents", latents}, {"timestep", timestep}, {"caption", caption}});
  r = run_worldloop("forward --model '" + (dir / "model").string() + "' --inputs '" + in + "' --out '" + out + "'");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("no tensor named 'caption_mask'"), std::string::npos) << r.err;
  fs::remove_all(dir);
}

TEST(Cli, DecodeStreamsLatentsToTensorsAndVideo) {
  fs::path dir = fs::temp_directory_path() / ("wl_cli_decode_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  TAEHVConfig config;
  TensorMap weights = random_taehv_weights(config, 6);
  std::string vae = (dir / "taew2_1.safetensors").string();
  save_tensors(vae, std::vector<std::pair<std::string, at::Tensor>>(weights.begin(), weights.end()));
  at::manual_seed(8);
  at::Tensor latents = at::randn({1, 16, 3, 4, 6});
  std::string in = (dir / "latents.safetensors").string(), out = (dir / "frames.safetensors").string();
  save_tensors(in, {{"latents", latents}});

  CliResult r = run_worldloop("decode --vae '" + vae + "' --latents '" + in + "' --out '" + out + "'");
  ASSERT_EQ(r.code, 0) << r.err;
  // The command streams one latent at a time, as the engine does; so does the reference here.
  TAEHVDecoder decoder(taehv_checkpoint_from(weights, "test"), VAEOptions{});
  decoder.begin(1, 4, 6);
  std::vector<at::Tensor> parts;
  for (int64_t t = 0; t < 3; ++t) parts.push_back(decoder.decode_next(latents.narrow(2, t, 1)));
  at::Tensor want = at::cat(parts, 2);   // [1, 3, 1 + 4 * 2, 32, 48]
  at::Tensor got = load_tensor(SafetensorsFile::open(out), "frames");
  EXPECT_EQ(got.sizes(), want.sizes());
  EXPECT_TRUE(at::allclose(got, want, 1e-5, 1e-5));
  EXPECT_EQ(got.size(2), 9);

#ifdef WL_WITH_RECORDING
  std::string mp4 = (dir / "frames.mp4").string();
  r = run_worldloop("decode --decoder taehv --vae '" + vae + "' --latents '" + in + "' --out '" + mp4 + "'");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_GT(fs::file_size(mp4), 0u);
#endif
  r = run_worldloop("decode --decoder sd --vae '" + vae + "' --latents '" + in + "' --out '" + out + "'");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("unknown decoder 'sd'"), std::string::npos) << r.err;
  fs::remove_all(dir);
}

TEST(Cli, BenchPrintsTableAndJson) {
  std::string json = (fs::temp_directory_path() / ("wl_bench_" + std::to_string(::getpid()) + ".json")).string();
  CliResult r = run_worldloop("bench --section worlds --repeats 1 --world-frames 3 --world-size 32 --json '" + json + "'");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("worlds: voxel 32x32"), std::string::npos) << r.out;
  std::ifstream in(json);
  std::string text(std::istreambuf_iterator<char>(in), {});
  EXPECT_NE(text.find("\"section\": \"worlds\""), std::string::npos) << text;
  EXPECT_NE(text.find("\"commit\""), std::string::npos) << text;
  fs::remove(json);

  CliResult bad = run_worldloop("bench --section nope");
  EXPECT_EQ(bad.code, 1);
  EXPECT_NE(bad.err.find("unknown bench section 'nope'"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace wl
