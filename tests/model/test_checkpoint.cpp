// Checkpoint loading: official, diffusers and LongSANA names load to the same tensors; the config
// is inferred from shapes (heads from config.json); missing, unexpected and wrong-shape tensors are
// each refused with one line naming them.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <filesystem>
#include <fstream>
#include <regex>

#include "kernels/core/error.h"
#include "model/checkpoint.h"
#include "model/linear_dit.h"
#include "model/tensor_io.h"
#include "tests/support/temp_dir.h"

namespace wl {
namespace {

namespace fs = std::filesystem;

using test::TempDir;

DiTConfig tiny() {
  DiTConfig c = dit_preset("tiny");
  c.action_dims = 5;
  return c;
}

void save(const fs::path& file, const TensorMap& tensors) {
  save_tensors(file.string(), std::vector<std::pair<std::string, at::Tensor>>(tensors.begin(), tensors.end()));
}

// The official -> diffusers direction of the table, written out independently for the test.
TensorMap to_diffusers(const TensorMap& official) {
  TensorMap out;
  static const std::vector<std::pair<std::string, std::string>> kGlobal = {
      {"x_embedder.proj.", "patch_embedding."}, {"t_embedder.mlp.0.", "time_embed.emb.timestep_embedder.linear_1."},
      {"t_embedder.mlp.2.", "time_embed.emb.timestep_embedder.linear_2."}, {"t_block.1.", "time_embed.linear."},
      {"y_embedder.y_proj.fc1.", "caption_projection.linear_1."}, {"y_embedder.y_proj.fc2.", "caption_projection.linear_2."},
      {"attention_y_norm.", "caption_norm."}, {"final_layer.scale_shift_table", "scale_shift_table"},
      {"final_layer.linear.", "proj_out."}};
  static const std::vector<std::pair<std::string, std::string>> kBlock = {
      {"attn.q_norm.", "attn1.norm_q."}, {"attn.k_norm.", "attn1.norm_k."}, {"attn.proj.", "attn1.to_out.0."},
      {"cross_attn.q_linear.", "attn2.to_q."}, {"cross_attn.q_norm.", "attn2.norm_q."}, {"cross_attn.k_norm.", "attn2.norm_k."},
      {"cross_attn.proj.", "attn2.to_out.0."}, {"mlp.inverted_conv.conv.", "ff.conv_inverted."},
      {"mlp.depth_conv.conv.", "ff.conv_depth."}, {"mlp.point_conv.conv.", "ff.conv_point."}, {"mlp.t_conv.", "ff.conv_temp."},
      {"scale_shift_table", "scale_shift_table"}};
  std::regex block(R"(^blocks\.(\d+)\.(.+)$)");
  for (const auto& [name, t] : official) {
    std::smatch m;
    if (std::regex_match(name, m, block)) {
      std::string prefix = "transformer_blocks." + m[1].str() + ".", rest = m[2];
      if (rest == "attn.qkv.weight") {
        auto parts = t.chunk(3, 0);
        out[prefix + "attn1.to_q.weight"] = parts[0];
        out[prefix + "attn1.to_k.weight"] = parts[1];
        out[prefix + "attn1.to_v.weight"] = parts[2];
        continue;
      }
      if (rest.rfind("cross_attn.kv_linear.", 0) == 0) {
        auto parts = t.chunk(2, 0);
        std::string leaf = rest.substr(21);
        out[prefix + "attn2.to_k." + leaf] = parts[0];
        out[prefix + "attn2.to_v." + leaf] = parts[1];
        continue;
      }
      bool done = false;
      for (const auto& [from, to] : kBlock)
        if (!done && rest.rfind(from, 0) == 0) out[prefix + to + rest.substr(from.size())] = t, done = true;
      EXPECT_TRUE(done) << rest;
      continue;
    }
    bool done = false;
    for (const auto& [from, to] : kGlobal)
      if (!done && name.rfind(from, 0) == 0) out[to + name.substr(from.size())] = t, done = true;
    if (!done) out[name] = t;   // action_embedder.* has no diffusers name
  }
  return out;
}

void expect_same(const TensorMap& a, const TensorMap& b) {
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [name, t] : a) {
    ASSERT_TRUE(b.count(name)) << name;
    EXPECT_TRUE(at::equal(t, b.at(name))) << name;
  }
}

TEST(Checkpoint, EveryDialectLoadsTheSameTensors) {
  TempDir dir;
  TensorMap official = random_dit_weights(tiny(), 1, false);
  std::ofstream(dir.path / "config.json") << R"({"heads": 2, "head_dim": 24})";

  save(dir.path / "official.safetensors", official);
  DiTCheckpoint a = load_dit_checkpoint((dir.path / "official.safetensors").string());
  EXPECT_EQ(a.dialect, "official");
  EXPECT_EQ(a.config.depth, 2);
  EXPECT_EQ(a.config.action_dims, 5);
  EXPECT_EQ(a.config.ffn_hidden, 144);
  expect_same(a.tensors, official);

  TensorMap diffusers = to_diffusers(official);
  save(dir.path / "diffusers.safetensors", diffusers);
  DiTCheckpoint b = load_dit_checkpoint((dir.path / "diffusers.safetensors").string());
  EXPECT_EQ(b.dialect, "diffusers");
  expect_same(b.tensors, official);

  TensorMap longsana;
  for (const auto& [name, t] : official) longsana["generator.model." + name] = t;
  longsana["generator.model.pos_embed"] = at::zeros({1, 4, 48});   // dropped like the official loader
  save(dir.path / "longsana.safetensors", longsana);
  DiTCheckpoint c = load_dit_checkpoint((dir.path / "longsana.safetensors").string());
  EXPECT_EQ(c.dialect, "longsana");
  EXPECT_EQ(c.ignored, std::vector<std::string>{"pos_embed"});
  expect_same(c.tensors, official);
}

TEST(Checkpoint, SavedConfigTravelsInTheMetadata) {
  TempDir dir;
  DiTConfig config = tiny();
  save_dit_checkpoint((dir.path / "model.safetensors").string(), random_dit_weights(config, 2, true), config);
  DiTCheckpoint ckpt = load_dit_checkpoint(dir.path.string());
  EXPECT_EQ(ckpt.config.heads, 2);
  EXPECT_EQ(ckpt.config.head_dim, 24);
}

std::string load_error(const TensorMap& tensors, const fs::path& file) {
  save(file, tensors);
  try {
    load_dit_checkpoint(file.string());
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Checkpoint, MissingUnexpectedAndWrongShapeAreNamed) {
  TempDir dir;
  std::ofstream(dir.path / "config.json") << R"({"heads": 2, "head_dim": 24})";
  TensorMap good = random_dit_weights(tiny(), 1, false);

  TensorMap missing = good;
  missing.erase("blocks.1.attn.proj.bias");
  std::string m = load_error(missing, dir.path / "missing.safetensors");
  EXPECT_NE(m.find("1 missing: blocks.1.attn.proj.bias"), std::string::npos) << m;

  TensorMap unexpected = good;
  unexpected["blocks.0.attn.extra.weight"] = at::zeros({2});
  std::string u = load_error(unexpected, dir.path / "unexpected.safetensors");
  EXPECT_NE(u.find("1 unexpected: blocks.0.attn.extra.weight"), std::string::npos) << u;

  TensorMap wrong = good;
  wrong["blocks.0.attn.q_norm.weight"] = at::ones({47});
  std::string w = load_error(wrong, dir.path / "wrong.safetensors");
  EXPECT_NE(w.find("wrong shape: blocks.0.attn.q_norm.weight expected [48] found [47]"), std::string::npos) << w;

  for (const std::string& e : {m, u, w}) EXPECT_EQ(e.find('\n'), std::string::npos) << "one line: " << e;
}

TEST(Checkpoint, HeadsCannotBeGuessedWithoutConfig) {
  TempDir dir;
  save(dir.path / "model.safetensors", random_dit_weights(tiny(), 1, false));   // width 48: no preset... but tiny
  DiTCheckpoint ckpt = load_dit_checkpoint((dir.path / "model.safetensors").string());
  EXPECT_EQ(ckpt.config.heads, 2);   // the tiny preset has this width
  TensorMap odd = random_dit_weights(tiny(), 1, false);
  DiTConfig c = tiny();
  c.hidden = 40, c.heads = 2, c.head_dim = 20, c.ffn_hidden = 120;
  save(dir.path / "odd.safetensors", random_dit_weights(c, 1, false));
  try {
    load_dit_checkpoint((dir.path / "odd.safetensors").string());
    FAIL() << "a width with no preset and no config.json must be refused";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("config.json"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace wl
