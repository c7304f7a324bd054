// `worldloop decode`: latents to pixels with either video decoder, streaming one latent at a time
// exactly as the engine does (for users, and for our parity checks against reference decoders).
//   input  IN.safetensors: "latents" [B, 16, T, h, w] (normalised, as the DiT makes them)
//   output OUT.safetensors: "frames" [B, 3, F, 8h, 8w] float32 in the decoder's range
//          OUT.mp4: sample 0's frames as H.264 (needs the recording feature)
// F = 1 + 4(T - 1). Throws wl::Error naming the file or tensor that is wrong.
#pragma once

#include <string>

namespace wl {

struct DecodeOptions {
  std::string vae;              // decoder weights: a .safetensors file or a directory
  std::string decoder = "auto"; // "wan2.1", "taehv", or "auto" (taehv if the weights say so)
  std::string latents;          // input file
  std::string out;              // .safetensors or .mp4
  std::string device = "cpu";   // "cpu" or "cuda"
  bool bf16 = false;            // decode in bf16 (CUDA)
  double fps = 16.0;            // frame rate of an .mp4 (Wan2.1 videos are 16 fps)
};

void run_decode(const DecodeOptions& options);

}  // namespace wl
