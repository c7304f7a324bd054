// DiTConfig presets, JSON and inference from tensor shapes (see dit_config.h).
#include "model/dit_config.h"

#include <nlohmann/json.hpp>

#include "kernels/core/error.h"

namespace wl {

void DiTConfig::validate() const {
  WL_CHECK(in_channels > 0 && out_channels > 0, "DiT config: channels must be positive (in ", in_channels, ", out ",
           out_channels, ")");
  WL_CHECK(depth > 0, "DiT config: depth must be positive, got ", depth);
  WL_CHECK(heads > 0 && head_dim > 0 && heads * head_dim == hidden, "DiT config: heads x head_dim = ", heads, " x ",
           head_dim, " must equal the width ", hidden, "; hint: set \"heads\" in config.json next to the weights");
  WL_CHECK(head_dim % 2 == 0 && rope_t_dim() % 2 == 0 && rope_t_dim() > 0, "DiT config: head_dim ", head_dim,
           " cannot be split into even RoPE parts t/h/w = ", rope_t_dim(), "/", rope_h_dim(), "/", rope_h_dim());
  WL_CHECK(ffn_hidden > 0 && caption_channels > 0 && action_dims >= 0, "DiT config: ffn_hidden ", ffn_hidden,
           ", caption_channels ", caption_channels, ", action_dims ", action_dims, " must be positive (actions >= 0)");
  WL_CHECK(patch[0] > 0 && patch[1] > 0 && patch[2] > 0, "DiT config: patch must be positive");
  WL_CHECK(freq_dim > 0 && freq_dim % 2 == 0, "DiT config: freq_dim must be even and positive, got ", freq_dim);
}

std::string DiTConfig::describe() const {
  return str(name, ": D ", hidden, ", depth ", depth, ", ", heads, "x", head_dim, " heads, FFN ", ffn_hidden, ", patch ",
             patch[0], "x", patch[1], "x", patch[2], ", ", in_channels, " latent channels, caption ", caption_channels,
             action_dims ? str(", ", action_dims, " action dims") : std::string(", no actions"));
}

DiTConfig dit_preset(const std::string& name) {
  DiTConfig c;
  if (name == "sana-video-2b-480p") {
    c.name = name;   // the defaults are this model
    return c;
  }
  if (name == "tiny") {
    c.name = name;
    c.in_channels = c.out_channels = 4;
    c.hidden = 48;
    c.depth = 2;
    c.heads = 2;
    c.head_dim = 24;
    c.ffn_hidden = 144;
    c.caption_channels = 32;
    return c;
  }
  std::string known;
  for (const auto& n : dit_preset_names()) known += (known.empty() ? "" : ", ") + n;
  WL_FAIL("unknown model preset '", name, "'; the presets are: ", known);
}

std::vector<std::string> dit_preset_names() { return {"sana-video-2b-480p", "tiny"}; }

void apply_config_json(DiTConfig& c, const std::string& json_text, const std::string& source) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(json_text);
  } catch (const nlohmann::json::exception& e) {
    WL_FAIL(source, ": not valid JSON: ", e.what());
  }
  WL_CHECK(j.is_object(), source, ": expected a JSON object");
  auto read_int = [&](const char* key, int& out) {
    if (!j.contains(key)) return;
    WL_CHECK(j[key].is_number_integer(), source, ": \"", key, "\" must be an integer, found ", j[key].dump());
    out = j[key].get<int>();
  };
  auto read_float = [&](const char* key, float& out) {
    if (!j.contains(key)) return;
    WL_CHECK(j[key].is_number(), source, ": \"", key, "\" must be a number, found ", j[key].dump());
    out = j[key].get<float>();
  };
  try {
    if (j.contains("_class_name") || j.contains("num_attention_heads")) {
      // A diffusers SanaVideoTransformer3DModel config: its names, its epsilons.
      read_int("in_channels", c.in_channels);
      c.out_channels = c.in_channels;
      if (j.contains("out_channels") && j["out_channels"].is_number_integer()) read_int("out_channels", c.out_channels);
      read_int("num_attention_heads", c.heads);
      read_int("attention_head_dim", c.head_dim);
      read_int("num_layers", c.depth);
      read_int("caption_channels", c.caption_channels);
      read_int("rope_max_seq_len", c.rope_max_frames);
      c.hidden = c.heads * c.head_dim;
      if (j.contains("mlp_ratio")) c.ffn_hidden = static_cast<int>(j["mlp_ratio"].get<double>() * c.hidden);
      if (j.contains("patch_size")) {
        WL_CHECK(j["patch_size"].is_array() && j["patch_size"].size() == 3, source, ": patch_size must be [t, h, w]");
        for (int i = 0; i < 3; ++i) c.patch[i] = j["patch_size"][i].get<int>();
      }
      read_float("norm_eps", c.norm_eps);
      c.cross_norm_eps = 1e-5f;      // diffusers' Attention uses RMSNorm(eps=1e-5) for both
      c.linear_attn_eps = 1e-15f;    // SanaLinearAttnProcessor3_0
      if (j.contains("worldloop_numerics")) {
        const auto& n = j["worldloop_numerics"];
        if (n.contains("self_attn_norm_eps")) c.qk_norm_eps = n["self_attn_norm_eps"].get<float>();
        if (n.contains("cross_attn_norm_eps")) c.cross_norm_eps = n["cross_attn_norm_eps"].get<float>();
        if (n.contains("linear_attn_eps")) c.linear_attn_eps = n["linear_attn_eps"].get<float>();
        if (n.contains("caption_norm_eps")) c.caption_norm_eps = n["caption_norm_eps"].get<float>();
      }
      c.name = "diffusers";
    } else {
      if (j.contains("name")) c.name = j["name"].get<std::string>();
      read_int("in_channels", c.in_channels);
      read_int("out_channels", c.out_channels);
      read_int("hidden", c.hidden);
      read_int("depth", c.depth);
      read_int("heads", c.heads);
      read_int("head_dim", c.head_dim);
      read_int("ffn_hidden", c.ffn_hidden);
      read_int("caption_channels", c.caption_channels);
      read_int("action_dims", c.action_dims);
      read_int("freq_dim", c.freq_dim);
      read_int("rope_max_frames", c.rope_max_frames);
      read_float("norm_eps", c.norm_eps);
      read_float("qk_norm_eps", c.qk_norm_eps);
      read_float("cross_norm_eps", c.cross_norm_eps);
      read_float("caption_norm_eps", c.caption_norm_eps);
      read_float("linear_attn_eps", c.linear_attn_eps);
      if (j.contains("rope_theta")) c.rope_theta = j["rope_theta"].get<double>();
      if (j.contains("patch")) {
        WL_CHECK(j["patch"].is_array() && j["patch"].size() == 3, source, ": patch must be [t, h, w]");
        for (int i = 0; i < 3; ++i) c.patch[i] = j["patch"][i].get<int>();
      }
    }
  } catch (const nlohmann::json::exception& e) {
    WL_FAIL(source, ": wrong type in the model config: ", e.what());
  }
}

std::string config_to_json(const DiTConfig& c) {
  nlohmann::json j = {{"name", c.name},
                      {"in_channels", c.in_channels},
                      {"out_channels", c.out_channels},
                      {"hidden", c.hidden},
                      {"depth", c.depth},
                      {"heads", c.heads},
                      {"head_dim", c.head_dim},
                      {"ffn_hidden", c.ffn_hidden},
                      {"patch", c.patch},
                      {"caption_channels", c.caption_channels},
                      {"action_dims", c.action_dims},
                      {"freq_dim", c.freq_dim},
                      {"rope_theta", c.rope_theta},
                      {"rope_max_frames", c.rope_max_frames},
                      {"norm_eps", c.norm_eps},
                      {"qk_norm_eps", c.qk_norm_eps},
                      {"cross_norm_eps", c.cross_norm_eps},
                      {"caption_norm_eps", c.caption_norm_eps},
                      {"linear_attn_eps", c.linear_attn_eps}};
  return j.dump(2);
}

DiTConfig infer_dit_config(const ShapeMap& shapes, DiTConfig c) {
  auto shape = [&](const std::string& key) -> const std::vector<int64_t>& {
    auto it = shapes.find(key);
    WL_CHECK(it != shapes.end(), "checkpoint has no tensor '", key, "', which the model needs to know its shape");
    return it->second;
  };
  const auto& x = shape("x_embedder.proj.weight");   // [D, C, pt, ph, pw]
  WL_CHECK(x.size() == 5, "x_embedder.proj.weight should be [D, C, pt, ph, pw], has ", x.size(), " dims");
  c.hidden = static_cast<int>(x[0]);
  c.in_channels = static_cast<int>(x[1]);
  c.patch = {static_cast<int>(x[2]), static_cast<int>(x[3]), static_cast<int>(x[4])};
  int depth = 0;
  while (shapes.count(str("blocks.", depth, ".scale_shift_table"))) ++depth;
  WL_CHECK(depth > 0, "checkpoint has no transformer blocks (no blocks.0.scale_shift_table)");
  c.depth = depth;
  const auto& point = shape("blocks.0.mlp.point_conv.conv.weight");   // [D, F, 1, 1]
  c.ffn_hidden = static_cast<int>(point[1]);
  c.caption_channels = static_cast<int>(shape("y_embedder.y_proj.fc1.weight")[1]);
  const auto& out = shape("final_layer.linear.weight");   // [pt*ph*pw*C_out, D]
  int patch_volume = c.patch[0] * c.patch[1] * c.patch[2];
  WL_CHECK(out[0] % patch_volume == 0, "final_layer.linear.weight has ", out[0], " outputs, not a multiple of the patch volume ",
           patch_volume);
  c.out_channels = static_cast<int>(out[0] / patch_volume);
  auto action = shapes.find("action_embedder.mlp.0.weight");   // [D, A]
  c.action_dims = action == shapes.end() ? 0 : static_cast<int>(action->second[1]);
  if (c.heads * c.head_dim != c.hidden) {
    // The weights cannot tell the head count; a preset of the same width can.
    for (const auto& name : dit_preset_names()) {
      DiTConfig p = dit_preset(name);
      if (p.hidden == c.hidden) {
        c.heads = p.heads;
        c.head_dim = p.head_dim;
        break;
      }
    }
  }
  c.validate();
  return c;
}

}  // namespace wl
