// fill_frame_cuda (declared in render/cuda_interop.h): bench_present's stand-in for a decoder's
// last kernel, writing one byte value into every pixel of a device FrameTarget on a stream.
// Pointer targets: cudaMemset2DAsync at the row pitch (4 * width bytes per row; the padding between
// rows is not the target's). Surface targets: fill_frame_surface_kernel, one thread per pixel, one
// surf2Dwrite of the 32-bit word (x in bytes) at the target's origin in the surface. Neither is a
// copy, so bench_present's device copies per frame stay those of the presenter.
#include <cuda_runtime.h>

#include "kernels/cuda_check.h"
#include "render/cuda_interop.h"

namespace wl {
namespace {

__global__ void fill_frame_surface_kernel(cudaSurfaceObject_t surface, int x0, int y0, int width, uint32_t word) {
  int x = blockIdx.x * blockDim.x + threadIdx.x;
  if (x >= width) return;
  surf2Dwrite(word, surface, (x0 + x) * 4, y0 + static_cast<int>(blockIdx.y));
}

}  // namespace

void fill_frame_cuda(const FrameTarget& target, uint8_t value, cudaStream_t stream) {
  WL_CHECK(target.on_device && target.width > 0 && target.height > 0,
           "fill_frame_cuda needs a device target of positive size, got ", target.width, "x", target.height,
           target.on_device ? "" : " in host memory");
  if (!target.cuda_surface) {
    WL_CUDA_CHECK(cudaMemset2DAsync(target.pixels, static_cast<size_t>(target.row_pitch), value,
                                    static_cast<size_t>(target.width) * 4, static_cast<size_t>(target.height),
                                    stream));
    return;
  }
  constexpr int kThreads = 256;
  const uint32_t word = value * 0x01010101u;
  dim3 grid((target.width + kThreads - 1) / kThreads, target.height);
  fill_frame_surface_kernel<<<grid, kThreads, 0, stream>>>(target.cuda_surface, target.surface_x, target.surface_y,
                                                           target.width, word);
  WL_CUDA_CHECK_LAUNCH();
}

}  // namespace wl
