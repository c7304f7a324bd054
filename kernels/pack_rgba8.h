// pack_rgba8: the last step of every decoder. Planar float pixels [3, H, W] become interleaved
// RGBA8 [H, W, 4] (alpha 255) in a FrameTarget's memory: through a pointer with a row pitch (host
// memory, or a Vulkan buffer imported into CUDA), or, on CUDA only, through a surface object over
// an RGBA8 CUDA array (a Vulkan image imported into CUDA; surf2Dwrite, no pitch).
//   out = clamp(round_half_even(x * scale + offset), 0, 255);
// NaN becomes 0. Wan2.1's VAE gives [-1, 1] (scale = offset = 127.5), TAEHV gives [0, 1]
// (scale 255, offset 0).
//
//   pack_rgba8_cpu:  the spec, naive loops, fp32.
//   pack_rgba8_cuda: launcher on the caller's stream (fp32 or bf16 input); kernels/pack_rgba8.cu.
//                    Writes `dst` at dst_pitch, or params.dst_surface at (dst_x, dst_y) when set
//                    (two kernels, one per destination kind; the same values).
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
  int64_t dst_pitch = 0;     // bytes between output rows (>= 4 * W); unused with dst_surface
  // CUDA only: a cudaSurfaceObject_t over an RGBA8 CUDA array to write instead of `dst` (then
  // nullptr); output pixel (x, y) goes to the array's (dst_x + x, dst_y + y), which must lie inside.
  uint64_t dst_surface = 0;
  int dst_x = 0;
  int dst_y = 0;
  float scale = 127.5f;      // x * scale + offset maps the model's range onto [0, 255]
  float offset = 127.5f;
};

// Writes through `dst` only (a dst_surface is refused: the host cannot write one).
void pack_rgba8_cpu(const float* src, uint8_t* dst, const PackRGBA8Params& params);

// The CUDA launchers exist in every build that compiles kernels/*.cu; they throw wl::Error on a
// launch failure, and before launching when a dst_surface is not an RGBA8 array that holds the
// output rectangle. `src_bf16` holds raw bfloat16 bits.
void pack_rgba8_cuda(const float* src, uint8_t* dst, const PackRGBA8Params& params, cudaStream_t stream);
void pack_rgba8_cuda(const uint16_t* src_bf16, uint8_t* dst, const PackRGBA8Params& params, cudaStream_t stream);

// Checks the geometry (positive sizes, pitches large enough, or a surface origin >= 0); throws
// wl::Error naming the field.
void check_pack_rgba8_params(const PackRGBA8Params& params);

}  // namespace wl
