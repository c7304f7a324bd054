// WorldModel: everything a play session needs from one world, behind one seam: the LinearDiT, a
// factory for its video decoder (each stream, main or branches, owns one), the world's ActionSpec,
// its text conditioning, its geometry and frame rate, and a hash of all of it (snapshots refuse a
// file saved with a different hash).
//   latents [B, C, T, latent_h, latent_w] -> decoder -> frames [B, 3, F, 8 latent_h, 8 latent_w]
// Two ways to get one: load(DIR), a world directory (config.json + model.safetensors + decoder
// weights, layout below), or random_tiny(world), the test/bench world: a "tiny" DiT with random
// weights and a small random TAEHV decoder (clearly labelled "random weights" everywhere).
// World directory:
//   config.json        the DiTConfig keys (see model/dit_config.h) plus a "world" object:
//                      {"name": "voxel", "latent_h": 8, "latent_w": 8, "fps": 20, "block_frames": 3,
//                       "state_policy": "global", "decoder": "taehv.safetensors",
//                       "sampler": {"schedule": "uniform", "flow_shift": 3.0, "steps": 4,
//                                   "action_guidance": 1.0, "action_guidance_steps": 0},
//                       "random_weights": false}
//                      "action_guidance" (optional, default 1 = none): classifier-free guidance on
//                      the action condition (model/sampler.h); "action_guidance_steps" (optional,
//                      default 0 = all): guide only the first N denoise steps.
//                      "name": "none" is a model without action conditioning (SANA-Video itself: no
//                      action embedder), the default when the DiT has none; "random_weights": true
//                      labels every line and the window "RANDOM WEIGHTS" (test worlds).
//   model.safetensors  the DiT weights (any dialect model/checkpoint.h reads)
//   taehv.safetensors  the decoder ("decoder" names the file; a name containing "wan" loads the Wan2.1 VAE)
//   caption.safetensors optional: "caption" [1, L, Cc] and "caption_mask" [1, L] (default: one zero token)
// sim/play.h's write_random_sana_video_world() makes one for a SANA-Video-shaped DiT with random
// weights and a Wan2.1 VAE or TAEHV decoder (`worldloop export --random-sana-video DIR`).
// Callers: the frame loop (sim/loop.h), sim/session.h, snapshots, `worldloop play`.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "envs/action_spec.h"
#include "model/linear_dit.h"
#include "model/vae_common.h"

namespace wl {

class AutoEncoder;

// The world name of a model that takes no actions: its ActionSpec has no dimensions.
inline constexpr const char* kNoActionsWorld = "none";

struct WorldModelInfo {
  std::string world = "voxel";        // whose ActionSpec the model takes ("voxel", "driving", "robot",
                                      // or kNoActionsWorld: no actions, no simulator beside it)
  int latent_h = 8;                   // latent grid; the video is 8x larger each way
  int latent_w = 8;
  double fps = 20.0;                  // video frames per second the world was trained at
  int block_frames = 3;               // latent frames per block unless the overlay says otherwise
  std::string state_policy = "global";   // StatePolicy::parse form
  // The few-step sampler the world was trained for ("sampler": {"schedule", "flow_shift", "steps"}):
  // "longsana" is SANA-Video's distilled 4-step schedule (shift 7); "uniform" spaces `steps`
  // timesteps evenly from 1000 down on the flow_shift grid (our tiny worlds, trained with shift 3).
  std::string sampler_schedule = "longsana";
  double flow_shift = 7.0;
  int denoise_steps = 4;              // default sampler steps per block
  double action_guidance = 1.0;       // "sampler": {"action_guidance"}: see SamplerConfig (1: none)
  int action_guidance_steps = 0;      // "sampler": {"action_guidance_steps"}: guided leading steps (0: all)
  std::string label;                  // one line for logs and the overlay ("random weights (tiny) ...")
  bool random_weights = false;        // random_tiny() and "random_weights" worlds: nothing it shows was learnt
  // Video frames per latent frame: 4 for Wan2.1 and TAEHV (whose first latent gives 1 frame), 1 for
  // our tiny worlds' autoencoder.
  int frames_per_latent = 4;
  // Video frames that `latents` latent frames decode to; `first`: the session's first block.
  int64_t video_frames(int64_t latents, bool first) const {
    return frames_per_latent == 1 ? latents : frames_per_latent * latents - (first ? frames_per_latent - 1 : 0);
  }
  // The video frames latent frame k of a session decodes to: [first, last] (k = 0 gives frame 0).
  int64_t first_video_frame(int64_t k) const { return k == 0 ? 0 : frames_per_latent * (k - 1) + 1; }
  int64_t last_video_frame(int64_t k) const { return frames_per_latent * k; }
};

struct WorldModelOptions {
  std::string device = "cpu";         // "cpu" or "cuda[:i]"
  bool bf16 = false;                  // model and decoder dtype bf16 (CUDA), else fp32
};

class WorldModel {
 public:
  // Throws wl::Error naming the missing or malformed file, with a hint.
  static std::unique_ptr<WorldModel> load(const std::string& dir, const WorldModelOptions& options = {});
  // A tiny DiT (dit_preset("tiny"), 16 latent channels, the world's action width) whose every
  // weight is random and non-zero, so actions visibly change the output, and a TAEHV decoder of
  // small widths; deterministic by seed.
  static std::unique_ptr<WorldModel> random_tiny(const std::string& world, uint64_t seed = 1,
                                                 const WorldModelOptions& options = {}, int latent_size = 8);
  ~WorldModel();

  const LinearDiT& dit() const { return *dit_; }
  std::unique_ptr<VideoDecoder> make_decoder() const { return make_decoder_(); }
  const ActionSpec& action_spec() const { return spec_; }
  const WorldModelInfo& info() const { return info_; }
  const CaptionContext& caption() const { return caption_; }
  const at::Tensor& caption_tokens() const;   // [1, L, Cc] (snapshots keep it: the conditioning)
  const at::Tensor& caption_mask() const;     // [1, L]
  // FNV-1a-style 64-bit hash of the DiT config and weights, the decoder weights and the geometry.
  uint64_t hash() const { return hash_; }
  std::string hash_hex() const;
  at::TensorOptions latent_options() const;   // device and dtype of latents
  // Seeding a session from real frames: only worlds whose decoder is our autoencoder (`worldloop
  // train --stage ae`) have an encoder; TAEHV and Wan2.1 worlds do not.
  bool can_encode() const { return encoder_ != nullptr; }
  // frames [B, 3, F, 8 latent_h, 8 latent_w] float in [0, 1] -> latents [B, C, F, latent_h, latent_w]
  // on the model's device and dtype, normalised as training normalises (AutoEncoder::encode_video).
  // wl::Error for a world without an encoder or frames of the wrong shape.
  at::Tensor encode(const at::Tensor& frames) const;

 private:
  WorldModel() = default;
  std::unique_ptr<LinearDiT> dit_;
  std::function<std::unique_ptr<VideoDecoder>()> make_decoder_;
  ActionSpec spec_;
  WorldModelInfo info_;
  CaptionContext caption_;
  std::unique_ptr<at::Tensor> caption_tokens_, caption_mask_;
  std::unique_ptr<AutoEncoder> encoder_;   // null unless the decoder is our autoencoder
  uint64_t hash_ = 0;
};

// 64-bit hash of a tensor map (names, dtypes, shapes, bytes; sorted by name), chained onto `hash`.
uint64_t hash_tensors(const TensorMap& tensors, uint64_t hash);
uint64_t hash_bytes(const void* data, size_t size, uint64_t hash);
std::string hex64(uint64_t value);

}  // namespace wl
