// DiTConfig: the shape and numerics of a LinearDiT (the SANA-Video block-causal linear DiT).
// Shape comes from the checkpoint's tensor shapes wherever they tell it (width, depth, channels,
// patch, FFN width, caption width, action width); what they cannot tell (the head count) comes from
// a JSON config next to the weights, the file's metadata, or the preset whose width matches.
// Numerics default to the official Sana values; a diffusers config switches to diffusers' epsilons.
// Callers: model/checkpoint.cpp (load), model/linear_dit.cpp, `worldloop forward` / `bench`.
#pragma once

#include <array>
#include <map>
#include <string>
#include <vector>

namespace wl {

struct DiTConfig {
  std::string name = "custom";       // preset or "custom"
  int in_channels = 16;              // C, latent channels in
  int out_channels = 16;             // latent channels out (velocity)
  int hidden = 2240;                 // D = heads * head_dim
  int depth = 20;                    // transformer blocks
  int heads = 20;                    // H
  int head_dim = 112;                // d; RoPE splits it t/h/w = d - 2*(2*(d/6)), 2*(d/6), 2*(d/6)
  int ffn_hidden = 6720;             // F; the inverted conv makes 2F channels (value + gate)
  std::array<int, 3> patch = {1, 2, 2};   // (pt, ph, pw)
  int caption_channels = 2304;       // text encoder width (Gemma-2-2B)
  int action_dims = 0;               // A; 0 = no action embedder in the checkpoint
  int freq_dim = 256;                // sinusoidal timestep embedding width
  double rope_theta = 10000.0;
  int rope_max_frames = 1024;        // the official absolute-position limit (we rebase past it)
  float norm_eps = 1e-6f;            // LayerNorm (no affine) before attention, FFN, final layer
  float qk_norm_eps = 1e-5f;         // self-attention RMSNorm over all heads
  float cross_norm_eps = 1e-6f;      // cross-attention q/k RMSNorm (diffusers: 1e-5)
  float caption_norm_eps = 1e-5f;    // attention_y_norm
  float linear_attn_eps = 1e-8f;     // denominator epsilon (diffusers: 1e-15)

  int rope_t_dim() const { return head_dim - 2 * rope_h_dim(); }
  int rope_h_dim() const { return 2 * (head_dim / 6); }
  // Throws wl::Error naming the first inconsistent field.
  void validate() const;
  std::string describe() const;      // one line: "D 2240, depth 20, 20x112 heads, FFN 6720, ..."
};

// Named configs: "sana-video-2b-480p", and "tiny" (test size: D 48, depth 2, 2x24 heads).
DiTConfig dit_preset(const std::string& name);
std::vector<std::string> dit_preset_names();

// Fills `config` from a JSON object: our own keys (the DiTConfig field names) or a diffusers
// SanaVideoTransformer3DModel config (num_attention_heads, attention_head_dim, num_layers, ...),
// whose epsilons follow diffusers. `source` names the file in errors.
void apply_config_json(DiTConfig& config, const std::string& json_text, const std::string& source);
std::string config_to_json(const DiTConfig& config);

// Shapes of a checkpoint's tensors under official key names.
using ShapeMap = std::map<std::string, std::vector<int64_t>>;
// Infers every field the shapes determine; keeps the others from `base`. Throws wl::Error when a
// tensor the model cannot do without is missing or the shapes contradict each other.
DiTConfig infer_dit_config(const ShapeMap& shapes, DiTConfig base);

}  // namespace wl
