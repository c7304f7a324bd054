// pack_rgba8_kernel: one thread per output pixel, reading the three planes and writing one
// 32-bit RGBA word. Memory-bound; reads are coalesced along x, writes are 4-byte aligned because
// dst_pitch is a multiple of 4 in every FrameTarget (checked). Matches pack_rgba8_cpu exactly:
// same arithmetic without FMA contraction, same clamp order, round-half-even (__float2int_rn),
// NaN -> 0 via fmaxf.
#include <cuda_bf16.h>

#include "kernels/cuda_check.h"
#include "kernels/pack_rgba8.h"

namespace wl {
namespace {

__device__ __forceinline__ float to_float(float v) { return v; }
__device__ __forceinline__ float to_float(__nv_bfloat16 v) { return __bfloat162float(v); }

// __fmul_rn/__fadd_rn: nvcc would otherwise contract v * scale + offset into one FMA, whose single
// rounding differs from the CPU spec's two at the .5 boundaries.
__device__ __forceinline__ uint32_t quantize(float v, float scale, float offset) {
  v = fminf(fmaxf(__fadd_rn(__fmul_rn(v, scale), offset), 0.f), 255.f);
  return static_cast<uint32_t>(__float2int_rn(v));
}

template <typename T>
__global__ void pack_rgba8_kernel(const T* __restrict__ src, uint8_t* __restrict__ dst, int height, int width,
                                  int64_t src_plane, int64_t dst_pitch, float scale, float offset) {
  int x = blockIdx.x * blockDim.x + threadIdx.x;
  int y = blockIdx.y;
  if (x >= width) return;
  int64_t i = int64_t(y) * width + x;
  uint32_t r = quantize(to_float(src[i]), scale, offset);
  uint32_t g = quantize(to_float(src[i + src_plane]), scale, offset);
  uint32_t b = quantize(to_float(src[i + 2 * src_plane]), scale, offset);
  reinterpret_cast<uint32_t*>(dst + y * dst_pitch)[x] = r | (g << 8) | (b << 16) | (0xFFu << 24);
}

template <typename T>
void launch(const T* src, uint8_t* dst, const PackRGBA8Params& p, cudaStream_t stream) {
  check_pack_rgba8_params(p);
  WL_CHECK(p.dst_pitch % 4 == 0, "pack_rgba8_cuda: dst_pitch ", p.dst_pitch, " must be a multiple of 4");
  WL_CHECK(reinterpret_cast<uintptr_t>(dst) % 4 == 0, "pack_rgba8_cuda: dst must be 4-byte aligned");
  constexpr int kThreads = 256;
  dim3 grid((p.width + kThreads - 1) / kThreads, p.height);
  pack_rgba8_kernel<T><<<grid, kThreads, 0, stream>>>(src, dst, p.height, p.width, p.src_plane, p.dst_pitch,
                                                      p.scale, p.offset);
  WL_CUDA_CHECK_LAUNCH();
}

}  // namespace

void pack_rgba8_cuda(const float* src, uint8_t* dst, const PackRGBA8Params& p, cudaStream_t stream) {
  launch(src, dst, p, stream);
}

void pack_rgba8_cuda(const uint16_t* src_bf16, uint8_t* dst, const PackRGBA8Params& p, cudaStream_t stream) {
  launch(reinterpret_cast<const __nv_bfloat16*>(src_bf16), dst, p, stream);
}

}  // namespace wl
