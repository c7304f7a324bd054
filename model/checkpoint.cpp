// DiT checkpoint dialects, shape checks and loading (see checkpoint.h).
#include "model/checkpoint.h"

#include <ATen/ATen.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "kernels/core/error.h"
#include "model/safetensors.h"
#include "model/tensor_io.h"

namespace wl {

namespace fs = std::filesystem;

namespace {

// [SECTION] the diffusers <-> official mapping table (sana_video.md section 6)

// Whole-name renames outside the blocks.
const std::map<std::string, std::string>& diffusers_global_names() {
  static const std::map<std::string, std::string> kNames = {
      {"patch_embedding.weight", "x_embedder.proj.weight"},
      {"patch_embedding.bias", "x_embedder.proj.bias"},
      {"time_embed.emb.timestep_embedder.linear_1.weight", "t_embedder.mlp.0.weight"},
      {"time_embed.emb.timestep_embedder.linear_1.bias", "t_embedder.mlp.0.bias"},
      {"time_embed.emb.timestep_embedder.linear_2.weight", "t_embedder.mlp.2.weight"},
      {"time_embed.emb.timestep_embedder.linear_2.bias", "t_embedder.mlp.2.bias"},
      {"time_embed.linear.weight", "t_block.1.weight"},
      {"time_embed.linear.bias", "t_block.1.bias"},
      {"caption_projection.linear_1.weight", "y_embedder.y_proj.fc1.weight"},
      {"caption_projection.linear_1.bias", "y_embedder.y_proj.fc1.bias"},
      {"caption_projection.linear_2.weight", "y_embedder.y_proj.fc2.weight"},
      {"caption_projection.linear_2.bias", "y_embedder.y_proj.fc2.bias"},
      {"caption_norm.weight", "attention_y_norm.weight"},
      {"scale_shift_table", "final_layer.scale_shift_table"},
      {"proj_out.weight", "final_layer.linear.weight"},
      {"proj_out.bias", "final_layer.linear.bias"},
  };
  return kNames;
}

// Per-block suffix renames ("transformer_blocks.i." + left -> "blocks.i." + right).
const std::map<std::string, std::string>& diffusers_block_names() {
  static const std::map<std::string, std::string> kNames = {
      {"scale_shift_table", "scale_shift_table"},
      {"attn1.norm_q.weight", "attn.q_norm.weight"},
      {"attn1.norm_k.weight", "attn.k_norm.weight"},
      {"attn1.to_out.0.weight", "attn.proj.weight"},
      {"attn1.to_out.0.bias", "attn.proj.bias"},
      {"attn2.to_q.weight", "cross_attn.q_linear.weight"},
      {"attn2.to_q.bias", "cross_attn.q_linear.bias"},
      {"attn2.norm_q.weight", "cross_attn.q_norm.weight"},
      {"attn2.norm_k.weight", "cross_attn.k_norm.weight"},
      {"attn2.to_out.0.weight", "cross_attn.proj.weight"},
      {"attn2.to_out.0.bias", "cross_attn.proj.bias"},
      {"ff.conv_inverted.weight", "mlp.inverted_conv.conv.weight"},
      {"ff.conv_inverted.bias", "mlp.inverted_conv.conv.bias"},
      {"ff.conv_depth.weight", "mlp.depth_conv.conv.weight"},
      {"ff.conv_depth.bias", "mlp.depth_conv.conv.bias"},
      {"ff.conv_point.weight", "mlp.point_conv.conv.weight"},
      {"ff.conv_temp.weight", "mlp.t_conv.weight"},
  };
  return kNames;
}

// Split tensors that official checkpoints keep fused: parts in row order.
struct FusedTensor {
  std::string official;                  // suffix under blocks.i.
  std::vector<std::string> parts;        // suffixes under transformer_blocks.i.
};
const std::vector<FusedTensor>& diffusers_fused() {
  static const std::vector<FusedTensor> kFused = {
      {"attn.qkv.weight", {"attn1.to_q.weight", "attn1.to_k.weight", "attn1.to_v.weight"}},
      {"cross_attn.kv_linear.weight", {"attn2.to_k.weight", "attn2.to_v.weight"}},
      {"cross_attn.kv_linear.bias", {"attn2.to_k.bias", "attn2.to_v.bias"}},
  };
  return kFused;
}

// Buffers the official loader drops; never needed for inference.
bool is_ignorable(const std::string& name) {
  return name == "pos_embed" || name == "y_embedder.y_embedding" || name.rfind("logvar_linear.", 0) == 0;
}

TensorMap from_diffusers(TensorMap in) {
  TensorMap out;
  static const std::regex kBlock(R"(^transformer_blocks\.(\d+)\.(.+)$)");
  std::map<std::string, std::map<std::string, at::Tensor>> block_parts;   // "i" -> suffix -> tensor
  for (auto& [name, tensor] : in) {
    if (auto it = diffusers_global_names().find(name); it != diffusers_global_names().end()) {
      out[it->second] = tensor;
      continue;
    }
    std::smatch m;
    if (std::regex_match(name, m, kBlock)) {
      std::string index = m[1], suffix = m[2];
      if (auto it = diffusers_block_names().find(suffix); it != diffusers_block_names().end()) {
        out["blocks." + index + "." + it->second] = tensor;
      } else {
        block_parts[index][suffix] = tensor;
      }
      continue;
    }
    out[name] = tensor;   // unknown: reported as unexpected by check_dit_tensors
  }
  for (auto& [index, parts] : block_parts) {
    for (const auto& fused : diffusers_fused()) {
      std::vector<at::Tensor> pieces;
      for (const auto& p : fused.parts)
        if (auto it = parts.find(p); it != parts.end()) pieces.push_back(it->second);
      if (pieces.size() == fused.parts.size()) {
        out["blocks." + index + "." + fused.official] = at::cat(pieces, 0);
        for (const auto& p : fused.parts) parts.erase(p);
      }
    }
    for (auto& [suffix, tensor] : parts) out["transformer_blocks." + index + "." + suffix] = tensor;   // leftovers
  }
  return out;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  WL_CHECK(in.good(), path, ": cannot read");
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

TensorMap to_official_names(TensorMap tensors, std::string& dialect) {
  bool diffusers = false, prefixed = false;
  for (const auto& [name, _] : tensors) {
    diffusers = diffusers || name.rfind("transformer_blocks.", 0) == 0 || name.rfind("patch_embedding.", 0) == 0;
    prefixed = prefixed || name.rfind("generator.", 0) == 0 || name.rfind("model.", 0) == 0;
  }
  if (prefixed) {
    TensorMap stripped;
    for (auto& [name, tensor] : tensors) {
      std::string n = name;
      if (n.rfind("generator.", 0) == 0) n = n.substr(10);
      if (n.rfind("model.", 0) == 0) n = n.substr(6);
      WL_CHECK(stripped.emplace(n, tensor).second, "tensor '", name, "' collides with another after stripping the prefix");
    }
    tensors = std::move(stripped);
  }
  dialect = diffusers ? "diffusers" : prefixed ? "longsana" : "official";
  return diffusers ? from_diffusers(std::move(tensors)) : tensors;
}

ShapeMap expected_dit_shapes(const DiTConfig& c) {
  const int64_t D = c.hidden, F = c.ffn_hidden, P = int64_t(c.patch[0]) * c.patch[1] * c.patch[2];
  ShapeMap s = {
      {"x_embedder.proj.weight", {D, c.in_channels, c.patch[0], c.patch[1], c.patch[2]}},
      {"x_embedder.proj.bias", {D}},
      {"t_embedder.mlp.0.weight", {D, c.freq_dim}},
      {"t_embedder.mlp.0.bias", {D}},
      {"t_embedder.mlp.2.weight", {D, D}},
      {"t_embedder.mlp.2.bias", {D}},
      {"t_block.1.weight", {6 * D, D}},
      {"t_block.1.bias", {6 * D}},
      {"y_embedder.y_proj.fc1.weight", {D, c.caption_channels}},
      {"y_embedder.y_proj.fc1.bias", {D}},
      {"y_embedder.y_proj.fc2.weight", {D, D}},
      {"y_embedder.y_proj.fc2.bias", {D}},
      {"attention_y_norm.weight", {D}},
      {"final_layer.scale_shift_table", {2, D}},
      {"final_layer.linear.weight", {P * c.out_channels, D}},
      {"final_layer.linear.bias", {P * c.out_channels}},
  };
  if (c.action_dims > 0) {
    s["action_embedder.mlp.0.weight"] = {D, c.action_dims};
    s["action_embedder.mlp.0.bias"] = {D};
    s["action_embedder.mlp.2.weight"] = {D, D};
    s["action_embedder.mlp.2.bias"] = {D};
  }
  for (int i = 0; i < c.depth; ++i) {
    std::string b = str("blocks.", i, ".");
    s[b + "scale_shift_table"] = {6, D};
    s[b + "attn.qkv.weight"] = {3 * D, D};
    s[b + "attn.q_norm.weight"] = {D};
    s[b + "attn.k_norm.weight"] = {D};
    s[b + "attn.proj.weight"] = {D, D};
    s[b + "attn.proj.bias"] = {D};
    s[b + "cross_attn.q_linear.weight"] = {D, D};
    s[b + "cross_attn.q_linear.bias"] = {D};
    s[b + "cross_attn.kv_linear.weight"] = {2 * D, D};
    s[b + "cross_attn.kv_linear.bias"] = {2 * D};
    s[b + "cross_attn.q_norm.weight"] = {D};
    s[b + "cross_attn.k_norm.weight"] = {D};
    s[b + "cross_attn.proj.weight"] = {D, D};
    s[b + "cross_attn.proj.bias"] = {D};
    s[b + "mlp.inverted_conv.conv.weight"] = {2 * F, D, 1, 1};
    s[b + "mlp.inverted_conv.conv.bias"] = {2 * F};
    s[b + "mlp.depth_conv.conv.weight"] = {2 * F, 1, 3, 3};
    s[b + "mlp.depth_conv.conv.bias"] = {2 * F};
    s[b + "mlp.point_conv.conv.weight"] = {D, F, 1, 1};
    s[b + "mlp.t_conv.weight"] = {D, D, 3, 1};
  }
  return s;
}

void check_tensor_names(const TensorMap& tensors, const ShapeMap& expected,
                        const std::function<bool(const std::string&)>& ignorable, const std::string& source,
                        const std::string& what, const std::string& hint) {
  std::vector<std::string> missing, unexpected, wrong;
  for (const auto& [name, shape] : expected) {
    auto it = tensors.find(name);
    if (it == tensors.end()) {
      missing.push_back(name);
    } else if (it->second.sizes().vec() != shape) {
      wrong.push_back(str(name, " expected ", shape_string(shape), " found ", shape_string(it->second.sizes().vec())));
    }
  }
  for (const auto& [name, _] : tensors)
    if (!expected.count(name) && !(ignorable && ignorable(name))) unexpected.push_back(name);
  if (missing.empty() && unexpected.empty() && wrong.empty()) return;
  auto list = [](const char* kind, const std::vector<std::string>& names) {
    if (names.empty()) return std::string();
    std::string s = str("; ", names.size(), " ", kind, ": ");
    for (size_t i = 0; i < names.size() && i < 8; ++i) s += (i ? ", " : "") + names[i];
    if (names.size() > 8) s += str(", ... (", names.size() - 8, " more)");
    return s;
  };
  throw Error(str(source, ": checkpoint does not fit ", what, list("missing", missing), list("unexpected", unexpected),
                  list("wrong shape", wrong), hint.empty() ? "" : " (hint: " + hint + ")"));
}

TensorMap read_weight_files(const std::string& path, const std::string& subdir) {
  std::vector<std::string> files;
  if (fs::is_directory(path)) {
    fs::path dir = path;
    if (!subdir.empty() && fs::is_directory(dir / subdir)) dir /= subdir;   // diffusers pipeline layout
    for (const auto& entry : fs::directory_iterator(dir))
      if (entry.path().extension() == ".safetensors") files.push_back(entry.path().string());
    std::sort(files.begin(), files.end());
    WL_CHECK(!files.empty(), path, ": no .safetensors file in ", dir.string(),
             " (hint: convert a .pth with the one-liner in docs, or point at the .safetensors file)");
  } else {
    WL_CHECK(fs::is_regular_file(path), path, ": no such file or directory");
    files.push_back(path);
  }
  TensorMap tensors;
  for (const auto& f : files) {
    SafetensorsFile file = SafetensorsFile::open(f);
    for (const auto& entry : file.tensors())
      WL_CHECK(tensors.emplace(entry.name, load_tensor(file, entry)).second, f, ": tensor '", entry.name,
               "' also appears in another file of ", path);
  }
  return tensors;
}

void check_dit_tensors(const TensorMap& tensors, const DiTConfig& config, const std::string& source) {
  check_tensor_names(tensors, expected_dit_shapes(config), is_ignorable, source, config.describe(),
                     "a config.json next to the weights sets heads and other fields the shapes cannot tell");
}

DiTCheckpoint load_dit_checkpoint(const std::string& path) {
  DiTCheckpoint ckpt;
  ckpt.source = path;
  std::vector<std::string> files;
  std::string config_path;
  if (fs::is_directory(path)) {
    fs::path dir = path;
    if (fs::is_directory(dir / "transformer")) dir /= "transformer";   // diffusers pipeline layout
    // A world directory also holds its decoder's weights: there, model.safetensors is the DiT.
    // Otherwise every .safetensors file is a shard of it (diffusers' diffusion_pytorch_model-*).
    if (fs::is_regular_file(dir / "model.safetensors")) {
      files.push_back((dir / "model.safetensors").string());
    } else {
      for (const auto& entry : fs::directory_iterator(dir))
        if (entry.path().extension() == ".safetensors") files.push_back(entry.path().string());
      std::sort(files.begin(), files.end());
    }
    WL_CHECK(!files.empty(), path, ": no .safetensors file in ", dir.string(), " (expected model.safetensors)");
    if (fs::is_regular_file(dir / "config.json")) config_path = (dir / "config.json").string();
  } else {
    WL_CHECK(fs::is_regular_file(path), path, ": no such file or directory");
    files.push_back(path);
    fs::path beside = fs::path(path).parent_path() / "config.json";
    if (fs::is_regular_file(beside)) config_path = beside.string();
  }

  TensorMap raw;
  std::string metadata_config;
  for (const auto& f : files) {
    SafetensorsFile file = SafetensorsFile::open(f);
    if (auto it = file.metadata().find("worldloop_config"); it != file.metadata().end()) metadata_config = it->second;
    for (const auto& entry : file.tensors())
      WL_CHECK(raw.emplace(entry.name, load_tensor(file, entry)).second, f, ": tensor '", entry.name,
               "' also appears in another file of ", path);
  }
  raw = to_official_names(std::move(raw), ckpt.dialect);
  for (auto it = raw.begin(); it != raw.end();) {
    if (is_ignorable(it->first)) {
      ckpt.ignored.push_back(it->first);
      it = raw.erase(it);
    } else {
      ++it;
    }
  }

  DiTConfig base;   // the 2B defaults; any JSON below overrides them
  if (!config_path.empty()) apply_config_json(base, read_text(config_path), config_path);
  else if (!metadata_config.empty()) apply_config_json(base, metadata_config, files[0] + " (worldloop_config metadata)");
  ShapeMap shapes;
  for (const auto& [name, t] : raw) shapes[name] = t.sizes().vec();
  try {
    ckpt.config = infer_dit_config(shapes, base);
  } catch (const Error& e) {
    throw Error(str(path, ": ", e.what()));
  }
  check_dit_tensors(raw, ckpt.config, path);
  ckpt.tensors = std::move(raw);
  return ckpt;
}

void save_dit_checkpoint(const std::string& path, const TensorMap& tensors, const DiTConfig& config) {
  check_dit_tensors(tensors, config, path);
  std::vector<std::pair<std::string, at::Tensor>> list(tensors.begin(), tensors.end());
  save_tensors(path, list, {{"format", "pt"}, {"worldloop_config", config_to_json(config)}});
}

}  // namespace wl
