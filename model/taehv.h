// TAEHV, the tiny video decoder for Wan2.1's latent space (madebyollin/taehv taehv.py, taew2_1),
// streaming with MemBlock state: each of the 9 MemBlocks keeps its input of the previous frame
// (zero at begin()), which is exactly the reference's parallel and sequential decodes.
//   latents [B, 16, T, h, w], normalised (TAEHV uses no mean/std) -> tanh(x/3)*3 -> conv 16->256
//   -> 3 stages of (3 MemBlocks, 2x nearest upsample, TGrow x1/x2/x2 in time, 3x3 conv)
//   -> relu -> conv 64->3 -> clamp -> frames [B, 3, F, 8h, 8w] in [0, 1]
// A latent makes 4 raw frames; the first 3 of a stream are dropped (taehv's frames_to_trim), so
// latent 0 gives 1 frame and every later latent 4, as Wan2.1's VAE. Keys are taehv's own
// (decoder.N.*, the nn.Sequential indices); the encoder half is ignored; a TGrow weight with more
// rows than its stride needs keeps the last ones (taehv's patch_tgrow_layers). CPU fp32, CUDA fp32
// or bf16. Callers: the frame loop (fast preview decoder), `worldloop decode`, `bench`, tests.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "model/vae_common.h"

namespace wl {

struct TAEHVConfig {
  int64_t latent_channels = 16;                          // 16 for taew2_1
  std::vector<int64_t> widths = {256, 128, 64, 64};      // n_f: stage widths, then the last conv's input
  std::vector<bool> time_upscale = {false, true, true};  // TGrow stride 2 per stage (taehv's default)
  int64_t patch_size = 1;                                // pixel-shuffle factor of the output (1 for taew2_1)
  int64_t frames_to_trim() const;                        // 2^(time upscales) - 1 = 3
  std::string describe() const;
};

struct TAEHVCheckpoint {
  TAEHVConfig config;
  TensorMap tensors;      // decoder.* only, TGrow weights already cut to their stride; file dtype, CPU
  std::string source;
};

// `path`: a .safetensors file (taehv's safetensors/taew2_1.safetensors) or a directory of them.
// Widths, latent channels and patch size come from the shapes; `base` gives the time upscales.
// Missing, unexpected and wrong-shape tensors are reported by name in one wl::Error.
TAEHVCheckpoint load_taehv_checkpoint(const std::string& path, const TAEHVConfig& base = {});
TAEHVCheckpoint taehv_checkpoint_from(TensorMap tensors, const std::string& source, const TAEHVConfig& base = {});
ShapeMap expected_taehv_shapes(const TAEHVConfig& config);
// Random weights (tests, benchmarks): He-scaled N(0, 2/fan_in) weights, N(0, 0.1^2) biases.
TensorMap random_taehv_weights(const TAEHVConfig& config, uint64_t seed);

class TAEHVDecoder final : public VideoDecoder {
 public:
  TAEHVDecoder(const TAEHVCheckpoint& checkpoint, const VAEOptions& options);
  ~TAEHVDecoder() override;
  TAEHVDecoder(TAEHVDecoder&&) noexcept;
  TAEHVDecoder& operator=(TAEHVDecoder&&) noexcept;

  void begin(int64_t batch, int64_t latent_h, int64_t latent_w) override;
  at::Tensor decode_next(const at::Tensor& latents) override;   // [B, 16, T, h, w] -> [B, 3, F, 8h, 8w]
  const char* name() const override { return "taehv"; }
  PixelRange range() const override { return {255.f, 0.f}; }
  int64_t state_bytes() const override;

  const TAEHVConfig& config() const;
  // Called during decode_next with "decoder.N" (the output of Sequential layer N, [B, T_N, C, H, W],
  // untrimmed) for N = 2, 5, 11, 17, 19, 22; empty to stop.
  void set_trace(TraceFn trace);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace wl
