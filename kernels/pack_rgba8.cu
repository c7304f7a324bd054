// pack_rgba8_kernel: one thread per output pixel, reading the three planes and writing one
// 32-bit RGBA word. Memory-bound; reads are coalesced along x, writes are 4-byte aligned because
// dst_pitch is a multiple of 4 in every FrameTarget (checked). Matches pack_rgba8_cpu exactly:
// same arithmetic without FMA contraction, same clamp order, round-half-even (__float2int_rn),
// NaN -> 0 via fmaxf.
// pack_rgba8_surface_kernel: the same word stored with surf2Dwrite into a CUDA array (a Vulkan
// image's memory in the driver's own tiling): x is given in bytes (4 * x), and an address outside
// the array traps, so the launcher checks the rectangle against the array's extent first.
#include <cuda_bf16.h>
#include <cuda_runtime.h>

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

// Pixel i of the planar source as one little-endian RGBA8 word (R in the lowest byte, alpha 255).
template <typename T>
__device__ __forceinline__ uint32_t rgba_word(const T* __restrict__ src, int64_t i, int64_t src_plane, float scale,
                                              float offset) {
  uint32_t r = quantize(to_float(src[i]), scale, offset);
  uint32_t g = quantize(to_float(src[i + src_plane]), scale, offset);
  uint32_t b = quantize(to_float(src[i + 2 * src_plane]), scale, offset);
  return r | (g << 8) | (b << 16) | (0xFFu << 24);
}

template <typename T>
__global__ void pack_rgba8_kernel(const T* __restrict__ src, uint8_t* __restrict__ dst, int height, int width,
                                  int64_t src_plane, int64_t dst_pitch, float scale, float offset) {
  int x = blockIdx.x * blockDim.x + threadIdx.x;
  int y = blockIdx.y;
  if (x >= width) return;
  const uint32_t word = rgba_word(src, int64_t(y) * width + x, src_plane, scale, offset);
  reinterpret_cast<uint32_t*>(dst + y * dst_pitch)[x] = word;
}

template <typename T>
__global__ void pack_rgba8_surface_kernel(const T* __restrict__ src, cudaSurfaceObject_t dst, int height, int width,
                                          int64_t src_plane, int dst_x, int dst_y, float scale, float offset) {
  int x = blockIdx.x * blockDim.x + threadIdx.x;
  int y = blockIdx.y;
  if (x >= width) return;
  // uchar4 array elements: the byte order of the word is R, G, B, A, as in the pointer kernel.
  surf2Dwrite(rgba_word(src, int64_t(y) * width + x, src_plane, scale, offset), dst, (dst_x + x) * 4, dst_y + y);
}

// The surface is an RGBA8 array (4 x 8-bit channels) holding the output rectangle.
void check_surface(const PackRGBA8Params& p) {
  cudaResourceDesc resource{};
  WL_CUDA_CHECK(cudaGetSurfaceObjectResourceDesc(&resource, p.dst_surface));
  WL_CHECK(resource.resType == cudaResourceTypeArray, "pack_rgba8_cuda: dst_surface ", p.dst_surface,
           " is not over a CUDA array (resource type ", int(resource.resType), ")");
  cudaChannelFormatDesc format{};
  cudaExtent extent{};
  unsigned int flags = 0;
  WL_CUDA_CHECK(cudaArrayGetInfo(&format, &extent, &flags, resource.res.array.array));
  WL_CHECK(format.x == 8 && format.y == 8 && format.z == 8 && format.w == 8,
           "pack_rgba8_cuda: dst_surface's array has ", format.x, ",", format.y, ",", format.z, ",", format.w,
           "-bit channels; RGBA8 needs 8,8,8,8");
  WL_CHECK(int64_t(p.dst_x) + p.width <= int64_t(extent.width) && int64_t(p.dst_y) + p.height <= int64_t(extent.height),
           "pack_rgba8_cuda: a ", p.width, "x", p.height, " output at (", p.dst_x, ", ", p.dst_y,
           ") does not fit dst_surface's ", extent.width, "x", extent.height, " array");
}

template <typename T>
void launch(const T* src, uint8_t* dst, const PackRGBA8Params& p, cudaStream_t stream) {
  check_pack_rgba8_params(p);
  constexpr int kThreads = 256;
  dim3 grid((p.width + kThreads - 1) / kThreads, p.height);
  if (p.dst_surface) {
    WL_CHECK(dst == nullptr, "pack_rgba8_cuda: both dst and dst_surface are set; a FrameTarget has one or the other");
    check_surface(p);
    pack_rgba8_surface_kernel<T><<<grid, kThreads, 0, stream>>>(src, p.dst_surface, p.height, p.width, p.src_plane,
                                                                p.dst_x, p.dst_y, p.scale, p.offset);
    WL_CUDA_CHECK_LAUNCH();
    return;
  }
  WL_CHECK(dst != nullptr, "pack_rgba8_cuda: no destination (dst is null and dst_surface is 0)");
  WL_CHECK(p.dst_pitch % 4 == 0, "pack_rgba8_cuda: dst_pitch ", p.dst_pitch, " must be a multiple of 4");
  WL_CHECK(reinterpret_cast<uintptr_t>(dst) % 4 == 0, "pack_rgba8_cuda: dst must be 4-byte aligned");
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
