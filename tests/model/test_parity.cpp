// Parity with the public reference: tests/reference/sana_dit_golden.py builds a small random
// diffusers SanaVideoTransformer3DModel and saves its weights (diffusers names), inputs, output and
// named intermediates. We load the diffusers-named weights through the dialect mapping and must
// match in fp32 to 1e-4 relative, stage by stage, so a divergence names the stage.
// Skips (visibly) only when the golden run could not reach PyPI.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "model/linear_dit.h"
#include "model/tensor_io.h"

namespace wl {
namespace {

namespace fs = std::filesystem;

double rel_error(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>() /
         std::max(b.to(at::kDouble).abs().max().item<double>(), 1e-30);
}

TEST(DiffusersParity, SanaVideoTransformerMatchesStageByStage) {
  if (const char* why = std::getenv("WL_GOLDENS_UNAVAILABLE")) GTEST_SKIP() << "no diffusers goldens: " << why;
  fs::path dir = WL_SANA_DIT_GOLDEN_DIR;
  if (fs::exists(dir / "skipped.txt")) {
    std::ifstream in(dir / "skipped.txt");
    GTEST_SKIP() << "no diffusers goldens: " << std::string(std::istreambuf_iterator<char>(in), {});
  }
  ASSERT_TRUE(fs::exists(dir / "outputs.safetensors")) << "goldens missing in " << dir << "; run ctest -R reference first";

  DiTCheckpoint ckpt = load_dit_checkpoint((dir / "weights.safetensors").string());
  EXPECT_EQ(ckpt.dialect, "diffusers");
  EXPECT_EQ(ckpt.config.heads, 2);
  EXPECT_FLOAT_EQ(ckpt.config.cross_norm_eps, 1e-5f);
  LinearDiT model(ckpt, DiTOptions{});

  SafetensorsFile inputs = SafetensorsFile::open((dir / "inputs.safetensors").string());
  SafetensorsFile outputs = SafetensorsFile::open((dir / "outputs.safetensors").string());
  std::map<std::string, at::Tensor> ours;
  auto record = [&](const std::string& name, const at::Tensor& value) { ours[name] = value.clone(); };
  CaptionContext caption =
      model.encode_caption(load_tensor(inputs, "encoder_hidden_states"), load_tensor(inputs, "encoder_attention_mask"), record);
  DiTStep step{load_tensor(inputs, "hidden_states"), load_tensor(inputs, "timestep"), {}, 0, record};
  at::Tensor out = model.forward(step, caption);

  // diffusers keeps one timestep embedding per sample; ours is per frame (all frames equal here).
  ours["time_embed.timestep"] = ours["time_embed.timestep"].select(1, 0);
  ours["time_embed.embedded_timestep"] = ours["time_embed.embedded_timestep"].select(1, 0);
  const char* stages[] = {"patch_embedding", "time_embed.timestep", "time_embed.embedded_timestep", "caption_projection",
                          "caption_norm", "transformer_blocks.0", "transformer_blocks.1", "norm_out", "proj_out"};
  for (const char* name : stages) {
    ASSERT_TRUE(ours.count(name)) << "our forward did not trace " << name;
    at::Tensor want = load_tensor(outputs, name);
    ASSERT_EQ(ours[name].sizes(), want.sizes()) << name;
    EXPECT_LT(rel_error(ours[name], want), 1e-4) << "first divergence at stage " << name;
  }
  double err = rel_error(out, load_tensor(outputs, "output"));
  EXPECT_LT(err, 1e-4);   // the acceptance bar
  EXPECT_LT(err, 5e-6);   // what we reach (4e-7 measured); tight enough to catch a wrong epsilon
  std::printf("diffusers parity: output relative error %.3g\n", err);
}

}  // namespace
}  // namespace wl
