// pack_rgba8: the CPU spec against hand-computed values and guard bands; the CUDA kernel against
// the CPU spec over {tiny, odd, production} shapes x {fp32, bf16}, skipped without a GPU.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "kernels/core/error.h"
#include "kernels/pack_rgba8.h"
#include "tests/support/bf16_bits.h"
#ifdef WL_WITH_CUDA
#include <cuda_runtime_api.h>
#endif

namespace wl {
namespace {

constexpr uint8_t kGuard = 0xA5;

TEST(PackRGBA8Cpu, HandComputedValues) {
  // One row of 5 pixels in [-1, 1]; R plane, G plane, B plane.
  const int W = 5;
  std::vector<float> src = {-1.f, 0.f, 1.f, 2.f, std::numeric_limits<float>::quiet_NaN(),   // R
                            -0.5f, 0.5f, -2.f, 0.00392157f, 1.f,                            // G
                            0.f, 0.f, 0.f, 0.f, 0.f};                                       // B
  PackRGBA8Params p;
  p.height = 1, p.width = W, p.src_plane = W, p.dst_pitch = 4 * W + 8;   // 8 guard bytes past the row
  std::vector<uint8_t> dst(p.dst_pitch, kGuard);
  pack_rgba8_cpu(src.data(), dst.data(), p);
  // (x + 1) * 127.5, clamped, round half to even: -1 -> 0, 0 -> 127.5 -> 128, 1 -> 255, 2 -> 255, NaN -> 0.
  const uint8_t r[] = {0, 128, 255, 255, 0};
  // -0.5 -> 63.75 -> 64, 0.5 -> 191.25 -> 191, -2 -> 0, 0.0039 -> 128.0 -> 128, 1 -> 255.
  const uint8_t g[] = {64, 191, 0, 128, 255};
  for (int x = 0; x < W; ++x) {
    EXPECT_EQ(dst[4 * x + 0], r[x]) << "R at x=" << x;
    EXPECT_EQ(dst[4 * x + 1], g[x]) << "G at x=" << x;
    EXPECT_EQ(dst[4 * x + 2], 128) << "B at x=" << x;
    EXPECT_EQ(dst[4 * x + 3], 255) << "A at x=" << x;
  }
  for (int i = 4 * W; i < p.dst_pitch; ++i) EXPECT_EQ(dst[i], kGuard) << "guard byte " << i << " overwritten";
}

TEST(PackRGBA8Cpu, ZeroToOneRange) {
  std::vector<float> src = {0.5f, 0.25f, 1.f};   // 1x1 pixel, three planes
  PackRGBA8Params p;
  p.height = 1, p.width = 1, p.src_plane = 1, p.dst_pitch = 4, p.scale = 255.f, p.offset = 0.f;
  uint8_t dst[4] = {};
  pack_rgba8_cpu(src.data(), dst, p);
  EXPECT_EQ(dst[0], 128);   // 127.5 -> 128 (half to even)
  EXPECT_EQ(dst[1], 64);    // 63.75
  EXPECT_EQ(dst[2], 255);
  EXPECT_EQ(dst[3], 255);
}

TEST(PackRGBA8Cpu, RejectsBadGeometry) {
  float src[3] = {};
  uint8_t dst[4] = {};
  PackRGBA8Params p;
  p.height = 1, p.width = 1, p.src_plane = 1, p.dst_pitch = 3;
  EXPECT_THROW(pack_rgba8_cpu(src, dst, p), Error);
  p.dst_pitch = 4, p.width = 0;
  EXPECT_THROW(pack_rgba8_cpu(src, dst, p), Error);
}

#ifdef WL_WITH_CUDA
bool have_gpu() {
  int n = 0;
  return cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
}

using test::from_bf16_bits;
using test::to_bf16_bits;

struct Shape {
  int height, width;
};
class PackRGBA8Cuda : public ::testing::TestWithParam<std::tuple<Shape, bool>> {};

TEST_P(PackRGBA8Cuda, MatchesCpu) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device";
  auto [shape, bf16] = GetParam();
  PackRGBA8Params p;
  p.height = shape.height, p.width = shape.width, p.src_plane = int64_t(shape.height) * shape.width + 7;
  p.dst_pitch = ((4 * shape.width + 63) / 64) * 64 + 64;
  std::mt19937 rng(1234);
  std::uniform_real_distribution<float> dist(-1.3f, 1.3f);
  std::vector<float> src(3 * p.src_plane);
  std::vector<uint16_t> src16(src.size());
  for (size_t i = 0; i < src.size(); ++i) {
    src[i] = dist(rng);
    src16[i] = to_bf16_bits(src[i]);
    if (bf16) src[i] = from_bf16_bits(src16[i]);   // the CPU spec sees exactly what the kernel sees
  }
  size_t out_bytes = size_t(p.dst_pitch) * p.height;
  std::vector<uint8_t> want(out_bytes, kGuard), got(out_bytes);
  pack_rgba8_cpu(src.data(), want.data(), p);

  void *d_src = nullptr, *d_dst = nullptr;
  size_t in_bytes = bf16 ? src16.size() * 2 : src.size() * 4;
  ASSERT_EQ(cudaMalloc(&d_src, in_bytes), cudaSuccess);
  ASSERT_EQ(cudaMalloc(&d_dst, out_bytes), cudaSuccess);
  cudaMemcpy(d_src, bf16 ? static_cast<const void*>(src16.data()) : src.data(), in_bytes, cudaMemcpyHostToDevice);
  cudaMemset(d_dst, kGuard, out_bytes);
  if (bf16)
    pack_rgba8_cuda(static_cast<const uint16_t*>(d_src), static_cast<uint8_t*>(d_dst), p, nullptr);
  else
    pack_rgba8_cuda(static_cast<const float*>(d_src), static_cast<uint8_t*>(d_dst), p, nullptr);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  cudaMemcpy(got.data(), d_dst, out_bytes, cudaMemcpyDeviceToHost);
  cudaFree(d_src);
  cudaFree(d_dst);
  int mismatches = 0;
  for (size_t i = 0; i < out_bytes && mismatches < 10; ++i)   // includes the guard bytes past each row
    if (got[i] != want[i])
      ADD_FAILURE() << "byte " << i << " (y=" << i / p.dst_pitch << ", x=" << (i % p.dst_pitch) / 4
                    << ", c=" << i % 4 << "): got " << int(got[i]) << " want " << int(want[i]), ++mismatches;
}

INSTANTIATE_TEST_SUITE_P(Shapes, PackRGBA8Cuda,
                         ::testing::Combine(::testing::Values(Shape{1, 1}, Shape{17, 33}, Shape{480, 832}),
                                            ::testing::Bool()));
#endif

}  // namespace
}  // namespace wl
