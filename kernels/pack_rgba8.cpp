// pack_rgba8_cpu: the reference the CUDA kernel is tested against (see pack_rgba8.h).
#include "kernels/pack_rgba8.h"

#include <algorithm>
#include <cmath>

#include "kernels/core/error.h"

namespace wl {

void check_pack_rgba8_params(const PackRGBA8Params& p) {
  WL_CHECK(p.height > 0 && p.width > 0, "pack_rgba8: expected a positive size, got ", p.height, "x", p.width);
  WL_CHECK(p.src_plane >= int64_t(p.height) * p.width, "pack_rgba8: src_plane ", p.src_plane,
           " is smaller than H*W = ", int64_t(p.height) * p.width);
  if (p.dst_surface) {
    WL_CHECK(p.dst_x >= 0 && p.dst_y >= 0, "pack_rgba8: the surface origin (", p.dst_x, ", ", p.dst_y,
             ") must not be negative");
    return;
  }
  WL_CHECK(p.dst_pitch >= int64_t(4) * p.width, "pack_rgba8: dst_pitch ", p.dst_pitch,
           " bytes is smaller than 4*W = ", int64_t(4) * p.width);
}

void pack_rgba8_cpu(const float* src, uint8_t* dst, const PackRGBA8Params& p) {
  WL_CHECK(!p.dst_surface, "pack_rgba8_cpu: cannot write a CUDA surface (dst_surface is set); the target is GPU "
           "memory, use pack_rgba8_cuda");
  check_pack_rgba8_params(p);
  for (int y = 0; y < p.height; ++y) {
    uint8_t* row = dst + y * p.dst_pitch;
    for (int x = 0; x < p.width; ++x) {
      for (int c = 0; c < 3; ++c) {
        float v = src[c * p.src_plane + int64_t(y) * p.width + x] * p.scale + p.offset;
        v = std::fmin(std::fmax(v, 0.f), 255.f);   // fmax drops NaN: NaN -> 0
        row[4 * x + c] = static_cast<uint8_t>(std::nearbyint(v));
      }
      row[4 * x + 3] = 255;
    }
  }
}

}  // namespace wl
