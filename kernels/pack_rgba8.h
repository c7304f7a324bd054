// pack_rgba8: the last step of every decoder. Planar float pixels [3, H, W] become interleaved
// RGBA8 [H, W, 4] (alpha 255) in a FrameTarget's memory, with a row pitch so that it can write
// straight into a Vulkan image or buffer.  out = clamp(round_half_even(x * scale + offset), 0, 255);
// NaN becomes 0. Wan2.1's VAE gives [-1, 1] (scale = offset = 127.5), TAEHV gives [0, 1]
// (scale 255, offset 0).
//
//   pack_rgba8_cpu:  the spec, naive loops, fp32.
//   pack_rgba8_cuda: launcher on the caller's stream (fp32 or bf16 input); kernels/pack_rgba8.cu.
// Callers: the decoders in model/ and the render tests (through sim/). Torch-free on purpose.
#pragma once

#include <cstdint>

struct CUstream_st;

namespace wl {

using cudaStream_t = CUstream_st*;   // identical to CUDA's own typedef

struct PackRGBA8Params {
  int height = 0;            // H
  int width = 0;             // W
  int64_t src_plane = 0;     // elements between the R, G and B planes (>= H * W)
  int64_t dst_pitch = 0;     // bytes between output rows (>= 4 * W)
  float scale = 127.5f;      // x * scale + offset maps the model's range onto [0, 255]
  float offset = 127.5f;
};

void pack_rgba8_cpu(const float* src, uint8_t* dst, const PackRGBA8Params& params);

// The CUDA launchers exist in every build that compiles kernels/*.cu; they throw wl::Error on a
// launch failure. `src_bf16` holds raw bfloat16 bits.
void pack_rgba8_cuda(const float* src, uint8_t* dst, const PackRGBA8Params& params, cudaStream_t stream);
void pack_rgba8_cuda(const uint16_t* src_bf16, uint8_t* dst, const PackRGBA8Params& params, cudaStream_t stream);

// Checks the geometry (positive sizes, pitches large enough); throws wl::Error naming the field.
void check_pack_rgba8_params(const PackRGBA8Params& params);

}  // namespace wl
