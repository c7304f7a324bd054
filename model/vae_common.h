// What the two video decoders share: the VideoDecoder interface the engine drives (one latent at a
// time, constant memory), the checkpoint reading and name/shape checking they both use, and the
// last step of every decode, writing one frame as RGBA8 into a FrameTarget.
//   latents [B, C, T, h, w] (NCTHW, as the DiT makes them) -> frames [B, 3, F, H, W], H = 8h, W = 8w,
//   F = 1 + 4(T - 1) over a stream (the first latent gives 1 frame, every later one 4).
// Implementations: WanVAEDecoder (model/wan_vae.h), TAEHVDecoder (model/taehv.h).
// Callers: the frame loop's decode stage, `worldloop decode` and `bench`, tests.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "model/checkpoint.h"
#include "model/safetensors.h"
#include "sim/frame_types.h"

namespace at {
class Tensor;
}

namespace wl {

struct VAEOptions {
  std::string device = "cpu";   // "cpu" or "cuda[:i]"
  bool bf16 = false;            // compute and cache dtype bf16 (CUDA), else fp32
};

// Named intermediates for parity tests and debugging (the reference's module names).
using TraceFn = std::function<void(const std::string& name, const at::Tensor& value)>;

// The affine map from a decoder's output range onto [0, 255] (see kernels/pack_rgba8.h).
struct PixelRange {
  float scale = 127.5f;    // [-1, 1] (Wan2.1)
  float offset = 127.5f;
};

class VideoDecoder {
 public:
  virtual ~VideoDecoder() = default;

  // Starts a stream: zeroes the state for `batch` sequences of a latent grid latent_h x latent_w.
  virtual void begin(int64_t batch, int64_t latent_h, int64_t latent_w) = 0;
  // Decodes the stream's next T >= 1 latents [B, C, T, h, w] into frames [B, 3, F, H, W] on the
  // decoder's device: F = 4T, or 1 + 4(T - 1) in the first call after begin().
  virtual at::Tensor decode_next(const at::Tensor& latents) = 0;
  // A whole clip in one call: begin() with the latents' shape, then decode_next().
  at::Tensor decode(const at::Tensor& latents);

  virtual const char* name() const = 0;     // "wan2.1" or "taehv"
  virtual PixelRange range() const = 0;
  // Bytes of streaming state held between calls (constant for the whole stream).
  virtual int64_t state_bytes() const = 0;
  // Frames decode_next() returns for T latents, given whether it is the first call of the stream.
  static int64_t frames_for(int64_t latents, bool first) { return 4 * latents - (first ? 3 : 0); }

  // Writes frame f of sample b of `frames` [B, 3, F, H, W] into `target` as RGBA8: on the CPU with
  // pack_rgba8_cpu, on CUDA with pack_rgba8_cuda on the current stream (frames and target must
  // then both live on the GPU).
  void write_rgba8(const at::Tensor& frames, int64_t b, int64_t f, const FrameTarget& target) const;
};

}  // namespace wl
