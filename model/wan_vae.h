// The Wan2.1 VAE decoder (Wan-Video/Wan2.1 wan/modules/vae.py), streaming one latent at a time with
// preallocated causal-conv caches: the reference's feat_cache slots (32 for the released model),
// each [B, C, 2, h, w], zero at begin(); both time_convs skip the first latent, so latent 0 gives 1
// frame and every later latent 4, exactly as the reference. Memory is constant over any stream.
//   latents [B, 16, T, h, w], normalised (the DiT's) -> z * std + mean -> conv2 -> decoder.conv1
//   -> middle (res, attention, res) -> upsamples (4 stages, x2 space at 3, x2 time at 2)
//   -> head -> clamp -> frames [B, 3, F, H = 8h, W = 8w] in [-1, 1]
// Weights use the official key names (decoder.*, conv2.*; the .pth's, also Comfy's); diffusers'
// AutoencoderKLWan names are mapped at load, in the one table in wan_vae.cpp. CPU runs fp32, CUDA
// fp32 or bf16 (RMS norms accumulate in fp32). How it computes is a WanVAEVariant: the reference's
// op sequence ("baseline") or any mix of the speed-ups listed there, which all give the same frames
// within the dtype's tolerance (tests/model/test_vae.cpp). Callers: the frame loop, `worldloop
// decode`, `bench` (--wan-variant times each), tests.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "model/vae_common.h"

namespace wl {

struct WanVAEConfig {
  int64_t z_dim = 16;                                  // latent channels
  std::vector<int64_t> dims = {384, 384, 384, 192, 96};  // widths: middle, then each up stage's output
  int64_t num_res_blocks = 2;                          // residual blocks per up stage, minus one
  std::vector<bool> temporal_upsample = {true, true, false};   // per resample (stages 0 .. n-2)
  std::string describe() const;                        // "Wan2.1 VAE decoder (z 16, widths 384/...)"
};

struct WanVAECheckpoint {
  WanVAEConfig config;
  TensorMap tensors;                 // official names, decoder half and conv2 only, file dtype, CPU
  std::string dialect;               // "official" or "diffusers"
  std::string source;
};

// `path`: a .safetensors file or a directory of them (a diffusers pipeline's vae/ is entered). The
// encoder half (encoder.*, conv1.*, quant_conv.*) is ignored; the shape of everything else is
// inferred (WanVAEConfig) and checked; missing, unexpected and wrong-shape tensors are reported by
// name in one wl::Error.
WanVAECheckpoint load_wan_vae_checkpoint(const std::string& path);
// The same from tensors already in memory (tests); `source` names them in errors.
WanVAECheckpoint wan_vae_checkpoint_from(TensorMap tensors, const std::string& source);

// Renames diffusers' AutoencoderKLWan tensors to official names (exposed for tests); sets `dialect`.
TensorMap wan_vae_official_names(TensorMap tensors, std::string& dialect);
// The tensors a config needs, official names -> shapes.
ShapeMap expected_wan_vae_shapes(const WanVAEConfig& config);

// Random weights for a config (tests, benchmarks): weights N(0, 1/fan_in), biases N(0, 0.1^2),
// gammas 1 + N(0, 0.1^2); deterministic by seed; official names.
TensorMap random_wan_vae_weights(const WanVAEConfig& config, uint64_t seed);

// Wan2.1's latent statistics (WanVAE.__init__, diffusers latents_mean / latents_std).
extern const float kWanLatentMean[16];
extern const float kWanLatentStd[16];

// How the decoder computes. Each switch is one optimisation of the CUDA path (all also run on the
// CPU), so `worldloop bench --section decoders --wan-variant ...` can time them one at a time.
struct WanVAEVariant {
  bool channels_last = false;     // "cl": activations and conv weights NDHWC (ChannelsLast3d); the
                                  // attention's 1x1 convs and the frame reshapes become views + GEMMs
  bool cudnn_benchmark = false;   // "cudnn": cuDNN autotuning (CUDA only), switched on for the duration
                                  // of decode_next and restored after; never while ATen's deterministic
                                  // flags are set (deterministicCuDNN / deterministicAlgorithms)
  bool conv2d = false;            // "conv2d": convs with temporal kernel 1 (conv2, shortcuts) run as
                                  // conv2d over the B*T frames
  bool buffers = false;           // "buf": each causal conv keeps a preallocated window [cache | input],
                                  // its input written straight into it: no cat, 2 frames shifted per call
                                  // (more memory held: 2 + 1, 2 or 4 frames per slot instead of 2)
  bool fused_norm = false;        // "fuse": at::rms_norm over the innermost channel axis (fp32 inside)
                                  // with SiLU written into the conv's input; needs "cl"
  bool nearest2d = false;         // "up": at::upsample_nearest2d (equal to nearest-exact at 2x)

  // "baseline", "all", or switch names joined by '+' ("cl+cudnn+buf"); wl::Error names the accepted
  // ones for anything else.
  static WanVAEVariant parse(const std::string& spec);
  // The default where the spec is "auto": kWanCudaDefault on CUDA, kWanCpuDefault on the CPU.
  static WanVAEVariant defaults(bool cuda);
  std::string name() const;       // "baseline", or the switches on, joined by '+' in the order above
  bool operator==(const WanVAEVariant&) const = default;
};
// The switches every variant list names ("cl", "cudnn", "conv2d", "buf", "fuse", "up").
const std::vector<std::string>& wan_vae_variant_switches();
// The defaults (docs/PERFORMANCE.md, Decoders): on the CPU the fastest measured at 480x832 that holds
// no more memory than the baseline ("cl"); on CUDA every switch, until the GPU run of
// `worldloop bench --section decoders --wan-variant ...` names the fastest.
extern const char* const kWanCudaDefault;
extern const char* const kWanCpuDefault;

struct WanVAEOptions : VAEOptions {
  bool denormalise = true;      // latents come normalised (as the DiT makes them): z / (1 / std) + mean
  std::string variant;          // a WanVAEVariant spec; "" or "auto" = the device's default
};

class WanVAEDecoder final : public VideoDecoder {
 public:
  WanVAEDecoder(const WanVAECheckpoint& checkpoint, const WanVAEOptions& options);
  ~WanVAEDecoder() override;
  WanVAEDecoder(WanVAEDecoder&&) noexcept;
  WanVAEDecoder& operator=(WanVAEDecoder&&) noexcept;

  void begin(int64_t batch, int64_t latent_h, int64_t latent_w) override;
  at::Tensor decode_next(const at::Tensor& latents) override;   // [B, 16, T, h, w] -> [B, 3, F, 8h, 8w]
  const char* name() const override { return "wan2.1"; }
  PixelRange range() const override { return {127.5f, 127.5f}; }
  // All bytes held between calls: the 2-frame caches, or with "buf" the windows (2 + the frames of
  // the last call per slot: 2 + 1, 2 or 4 in a stream of one latent per call).
  int64_t state_bytes() const override;

  const WanVAEConfig& config() const;
  const WanVAEVariant& variant() const;   // as resolved from WanVAEOptions::variant
  int cache_slots() const;          // 32 for the released model
  // Called during decode_next with diffusers' module names ("post_quant_conv", "decoder.conv_in",
  // "decoder.mid_block", "decoder.up_blocks.{i}", "decoder.conv_out"); empty to stop.
  void set_trace(TraceFn trace);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace wl
