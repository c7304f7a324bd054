// The tiny latent autoencoder of our trained worlds: one latent frame per video frame, 8x smaller
// each way, no temporal state, convolutions and ReLUs only so the decoder runs in a few ms on a CPU.
//   encode: frames [B, 3, H, W] in [0, 1] -> pixel_unshuffle(p) -> stages of (res blocks, stride-2
//           conv) -> conv -> raw z [B, C, H/8, W/8] -> (z - latent_mean) / latent_std (what the DiT sees)
//   decode: latents [B, C, h, w] -> * latent_std + latent_mean -> conv -> stages of (res blocks, 2x
//           nearest upsample + conv) -> conv -> pixel_shuffle(p) -> frames [B, 3, 8h, 8w] in [0, 1]
// Keys are our own (encoder.*, decoder.*, latent_mean, latent_std); the config travels in the
// file's "worldloop_ae_config" metadata and every tensor is checked by name and shape on load.
// AEDecoder is the engine's VideoDecoder for it (T latents -> T frames). Callers: `worldloop train`
// (both stages), the frame loop's decode stage, session seeding from real frames, tests.
#pragma once

#include <c10/core/ScalarType.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "model/checkpoint.h"
#include "model/vae_common.h"

namespace wl {

struct AEConfig {
  int64_t latent_channels = 12;                        // C
  int64_t patch = 2;                                   // pixel (un)shuffle factor at the image end
  std::vector<int64_t> encoder_widths = {32, 48, 64};  // stage widths, full resolution first
  std::vector<int64_t> encoder_blocks = {1, 1, 2};     // residual blocks per encoder stage
  std::vector<int64_t> decoder_widths = {64, 48, 32};  // stage widths, latent resolution first
  std::vector<int64_t> decoder_blocks = {2, 1, 0};     // residual blocks per decoder stage

  // patch * 2^(stages - 1); validate() requires 8, the engine's latent-to-pixel factor.
  int64_t downsample() const;
  // Throws wl::Error naming the first inconsistent field.
  void validate() const;
  std::string describe() const;                        // one line for logs and errors
  std::string to_json() const;
  // Our keys above; `source` names the file in errors. Missing keys keep their defaults.
  static AEConfig from_json(const std::string& json_text, const std::string& source);
};

struct AECheckpoint {
  AEConfig config;
  TensorMap tensors;      // our names, file dtype, CPU
  std::string source;     // the file it came from
};

ShapeMap expected_ae_shapes(const AEConfig& config);
// Training init, deterministic by seed: He-normal conv weights (the second conv of each residual
// block scaled down so a fresh block is near the identity), zero biases, latent_mean 0, latent_std 1.
TensorMap random_ae_weights(const AEConfig& config, uint64_t seed);
// `path`: a .safetensors file written by save_ae_checkpoint. wl::Error naming the file and every
// missing, unexpected or wrong-shape tensor, or the missing config metadata.
AECheckpoint load_ae_checkpoint(const std::string& path);
// Writes the tensors (checked against the config first) with the config in the metadata, atomically.
// `dtype` is the file's weight dtype (kFloat or kHalf: shipped worlds); latent statistics stay fp32.
void save_ae_checkpoint(const std::string& path, const TensorMap& tensors, const AEConfig& config,
                        at::ScalarType dtype = at::kFloat);
// True when `path` is a .safetensors file carrying our autoencoder's config metadata.
bool is_ae_checkpoint(const std::string& path);

class AutoEncoder {
 public:
  AutoEncoder(const AECheckpoint& checkpoint, const VAEOptions& options);
  static AutoEncoder random(const AEConfig& config, uint64_t seed, const VAEOptions& options);
  ~AutoEncoder();
  AutoEncoder(AutoEncoder&&) noexcept;
  AutoEncoder& operator=(AutoEncoder&&) noexcept;

  const AEConfig& config() const;
  const TensorMap& weights() const;     // our names, the model's device and dtype

  // frames [B, 3, H, W] in [0, 1] -> normalised latents [B, C, H/8, W/8].
  at::Tensor encode(const at::Tensor& frames) const;
  // normalised latents [B, C, h, w] -> frames [B, 3, 8h, 8w], clamped to [0, 1].
  at::Tensor decode(const at::Tensor& latents) const;
  // The same without the normalisation and the clamp: what training differentiates.
  at::Tensor encode_raw(const at::Tensor& frames) const;
  at::Tensor decode_raw(const at::Tensor& raw_latents) const;
  // A clip: frames [B, 3, F, H, W] -> latents [B, C, F, H/8, W/8] (frame by frame; no temporal state).
  at::Tensor encode_video(const at::Tensor& frames) const;

  // Training (see LinearDiT::set_trainable): every weight but the latent statistics becomes a leaf
  // that requires grad; parameters() lists those, in name order, as parameter_names() names them.
  void set_trainable(bool trainable);
  std::vector<at::Tensor> parameters() const;
  std::vector<std::string> parameter_names() const;
  // The normalisation encode() and decode() use, per channel [C] (training keeps running values).
  void set_latent_stats(const at::Tensor& mean, const at::Tensor& std);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  explicit AutoEncoder(std::unique_ptr<Impl> impl);
};

// The engine's decoder: latents [B, C, T, h, w] (normalised, as the DiT makes them) -> frames
// [B, 3, T, 8h, 8w] in [0, 1]. One frame per latent, also in the first call (unlike the Wan2.1
// decoders' 1 + 4(T - 1)); no state between calls, so state_bytes() is 0.
class AEDecoder final : public VideoDecoder {
 public:
  AEDecoder(const AECheckpoint& checkpoint, const VAEOptions& options);
  ~AEDecoder() override;
  AEDecoder(AEDecoder&&) noexcept;
  AEDecoder& operator=(AEDecoder&&) noexcept;

  void begin(int64_t batch, int64_t latent_h, int64_t latent_w) override;
  at::Tensor decode_next(const at::Tensor& latents) override;   // [B, C, T, h, w] -> [B, 3, T, 8h, 8w]
  const char* name() const override { return "ae"; }
  PixelRange range() const override { return {255.f, 0.f}; }
  int64_t state_bytes() const override { return 0; }
  const AEConfig& config() const;

 private:
  std::unique_ptr<AutoEncoder> model_;
  int64_t batch_ = 0, latent_h_ = 0, latent_w_ = 0;
  bool begun_ = false;
};

}  // namespace wl
