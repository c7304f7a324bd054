// The CUDA interop frame paths (CUDA builds, GPU machine): pack_rgba8_cuda writes a known pattern
// straight into the presenter's device target on a stream, and Vulkan presents it headless; the
// readback is exact. Two frame memories, the same test bodies:
//   CudaPresenter.*    the default: an exported buffer that Vulkan copies into an image once per
//                      frame (CudaFrameMemory::BufferCopy): one device copy per frame;
//   CudaImageSurface.* PresenterInfo::cuda_image_surface: an optimal-tiled image imported into
//                      CUDA as an array, written through a surface object and blitted from
//                      directly (CudaFrameMemory::ImageSurface): no device copy.
// Over 1,000 frames with the kernels and the presents overlapping (no host synchronisation), every
// 100th frame reads back as exactly its own pattern, so the timeline semaphores keep CUDA's writes
// and Vulkan's reads in order; no host uploads happen. Sub-rectangles (FrameTarget::region) land
// where they belong, bench_present's fill reaches every pixel, and the host path stays exact too.
// PackRGBA8Surface.*: the surface-writing kernel against pack_rgba8_cpu inside guard pixels.
// Skips cleanly without a CUDA device or without a Vulkan device; fails when both exist on one GPU
// but the presenter did not take the CUDA path, or not the frame memory asked for (it says why).
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>
#include <vulkan/vulkan.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "kernels/cuda_check.h"
#include "kernels/pack_rgba8.h"
#include "render/cuda_interop.h"
#include "render/presenter.h"
#include "render/vk_context.h"
#include "tests/render/patterns.h"
#include "tests/support/bf16_bits.h"

namespace wl {
namespace {

// Planar base pattern in [0, 199]; frame i adds (i % 56), so no value clamps and consecutive frames
// differ in every byte.
constexpr int kOffsetPeriod = 56;

float base_value(int x, int y, int c) { return static_cast<float>((x * 7 + y * 13 + c * 61 + ((x ^ y) & 15)) % 200); }

bool have_cuda_device() {
  int count = 0;
  if (cudaGetDeviceCount(&count) == cudaSuccess && count > 0) return true;
  cudaGetLastError();
  return false;
}

// A device copy of the base pattern's planes [3, height, width], fp32; freed with its owner.
class DevicePattern {
 public:
  DevicePattern(int width, int height) {
    std::vector<float> planes(static_cast<size_t>(3) * width * height);
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < height; ++y)
        for (int x = 0; x < width; ++x) planes[(static_cast<size_t>(c) * height + y) * width + x] = base_value(x, y, c);
    WL_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&planes_), planes.size() * sizeof(float)));
    WL_CUDA_CHECK(cudaMemcpy(planes_, planes.data(), planes.size() * sizeof(float), cudaMemcpyHostToDevice));
    // From pageable memory cudaMemcpy may return before the DMA lands, and the tests' stream is
    // non-blocking (no implicit wait on the legacy stream): without this a kernel read half a pattern.
    WL_CUDA_CHECK(cudaDeviceSynchronize());
  }
  ~DevicePattern() { cudaFree(planes_); }
  DevicePattern(const DevicePattern&) = delete;
  DevicePattern& operator=(const DevicePattern&) = delete;
  const float* planes() const { return planes_; }

 private:
  float* planes_ = nullptr;
};

// What a test asks of the presenter beyond the frame size.
struct PathOptions {
  int frames_in_flight = 2;
  int scale = 1;                        // output = frame * scale (integer, so nearest is exact)
  Filter filter = Filter::Nearest;
  bool image_surface = false;           // PresenterInfo::cuda_image_surface
};

// The pack_rgba8 parameters that write `pattern` (target-sized) into `target`, through its pointer
// or its surface, as the decoders' write_rgba8 does.
PackRGBA8Params pack_params(const FrameTarget& target, int frame) {
  PackRGBA8Params params;
  params.height = target.height;
  params.width = target.width;
  params.src_plane = int64_t{target.width} * target.height;
  params.dst_pitch = target.row_pitch;
  params.dst_surface = target.cuda_surface;
  params.dst_x = target.surface_x;
  params.dst_y = target.surface_y;
  params.scale = 1.f;
  params.offset = static_cast<float>(frame % kOffsetPeriod);
  return params;
}

class CudaPresenter : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!have_cuda_device()) GTEST_SKIP() << "no CUDA device";
    WL_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  }

  void TearDown() override {
    presenter_.reset();   // before the stream it waits on
    pattern_.reset();
    if (stream_) cudaStreamDestroy(stream_);
  }

  // Makes a headless presenter on the CUDA path. Returns why the test cannot go on ("" when it can):
  // no Vulkan device (a skip), or a presenter that did not take the CUDA path, or not the frame
  // memory asked for (also failures).
  std::string make_presenter(int width, int height, const PathOptions& options = {}) {
    PresenterInfo info;
    info.headless = true;
    info.frame_width = width;
    info.frame_height = height;
    info.output_width = width * options.scale;
    info.output_height = height * options.scale;
    info.filter = options.filter;
    info.frames_in_flight = options.frames_in_flight;
    info.validation = validation_layer_installed();
    info.cuda_stream = stream_;
    info.cuda_image_surface = options.image_surface;
    try {
      presenter_ = std::make_unique<Presenter>(info);
    } catch (const Error& e) {
      // A skip only where no Vulkan device can be made at all; else the CUDA path itself failed
      // (an export, import or mapping), which must not pass as a skip.
      try {
        VulkanContext probe(VulkanContextInfo{});
      } catch (const Error&) {
        return str("no Vulkan device: ", e.what());
      }
      ADD_FAILURE() << "a Vulkan device is here but the presenter could not be made: " << e.what();
      return str("presenter failed: ", e.what());
    }
    PresenterStats stats = presenter_->stats();
    EXPECT_EQ(stats.frame_path, FramePath::CudaInterop)
        << "a CUDA device is here but the presenter used host staging: " << stats.frame_path_note
        << " (Vulkan device " << stats.device_name << ")";
    if (stats.frame_path != FramePath::CudaInterop) return "host staging path";
    const CudaFrameMemory wanted = options.image_surface ? CudaFrameMemory::ImageSurface : CudaFrameMemory::BufferCopy;
    EXPECT_EQ(stats.cuda_frame_memory, wanted)
        << (options.image_surface ? "the presenter fell back to a buffer + device copy: " : "")
        << stats.cuda_frame_memory_note << " (Vulkan device " << stats.device_name << ")";
    image_surface_ = stats.cuda_frame_memory == CudaFrameMemory::ImageSurface;
    if (stats.cuda_frame_memory != wanted) return "not the CUDA frame memory asked for";
    width_ = width;
    height_ = height;
    scale_ = options.scale;
    pattern_ = std::make_unique<DevicePattern>(width, height);
    return "";
  }

  // Enqueues frame `frame`'s pattern into the target on the stream (no synchronisation). A decoy
  // with another offset goes first, so a read that slipped ahead of the real write shows.
  void write_frame(const FrameTarget& target, int frame) {
    ASSERT_TRUE(target.on_device);
    pack_rgba8_cuda(pattern_->planes(), target.pixels, pack_params(target, frame + kOffsetPeriod / 2), stream_);
    pack_rgba8_cuda(pattern_->planes(), target.pixels, pack_params(target, frame), stream_);
  }

  // Pixels of the newest output that differ from `want(x, y)` (frame coordinates, the output
  // scaled by nearest); the first few are reported as failures when `report`.
  template <typename Want>
  int count_mismatches(Want want, const char* what, bool report = true) {
    std::vector<uint8_t> rgba;
    int w = 0, h = 0;
    EXPECT_TRUE(presenter_->read_frame(rgba, w, h));
    EXPECT_EQ(w, width_ * scale_);
    EXPECT_EQ(h, height_ * scale_);
    if (w != width_ * scale_ || h != height_ * scale_) return 1;
    int mismatches = 0;
    for (int y = 0; y < h; ++y) {
      for (int x = 0; x < w; ++x) {
        const Rgba expected = want(x / scale_, y / scale_);
        if (report) {
          mismatches += expect_pixel(rgba, w, x, y, expected, 0, mismatches);
        } else {
          const uint8_t* p = rgba.data() + (static_cast<size_t>(y) * w + x) * 4;
          mismatches += p[0] != expected.r || p[1] != expected.g || p[2] != expected.b;
        }
      }
    }
    if (mismatches && report) ADD_FAILURE() << mismatches << " pixels differ in " << what;
    return mismatches;
  }

  // Frame `frame`'s pattern at frame pixel (x, y) of a pattern whose origin is at (x0, y0).
  static Rgba pattern_at(int x, int y, int frame, int x0 = 0, int y0 = 0) {
    const int offset = frame % kOffsetPeriod;
    return Rgba{static_cast<uint8_t>(base_value(x - x0, y - y0, 0) + offset),
                static_cast<uint8_t>(base_value(x - x0, y - y0, 1) + offset),
                static_cast<uint8_t>(base_value(x - x0, y - y0, 2) + offset), 255};
  }

  int count_mismatches(int frame, bool report = true) {
    return count_mismatches([frame](int x, int y) { return pattern_at(x, y, frame); },
                            str("frame ", frame).c_str(), report);
  }

  // Device copies per frame the path should make: one buffer -> image copy, or none from the image.
  int64_t copies_per_frame() const { return image_surface_ ? 0 : 1; }

  // The target's kind matches the path: rows in a buffer, or a surface.
  void expect_target_kind(const FrameTarget& target) {
    EXPECT_TRUE(target.on_device);
    EXPECT_EQ(target.width, width_);
    EXPECT_EQ(target.height, height_);
    if (image_surface_) {
      EXPECT_EQ(target.pixels, nullptr);
      EXPECT_NE(target.cuda_surface, 0u);
      EXPECT_EQ(target.row_pitch, 0);
      EXPECT_EQ(target.surface_x, 0);
      EXPECT_EQ(target.surface_y, 0);
    } else {
      EXPECT_NE(target.pixels, nullptr);
      EXPECT_EQ(target.cuda_surface, 0u);
      EXPECT_EQ(target.row_pitch, int64_t{width_} * 4);   // the buffer's rows are tightly packed
    }
    EXPECT_EQ(target.row_pitch, presenter_->stats().frame_row_pitch);
  }

  // Every path's counters after `frames` presented frames.
  void expect_counters(int64_t frames) {
    PresenterStats stats = presenter_->stats();
    EXPECT_EQ(stats.frames_presented, frames);
    EXPECT_EQ(stats.host_uploads, 0);
    EXPECT_EQ(stats.device_copies, frames * copies_per_frame());
    EXPECT_EQ(stats.validation_messages, 0);
  }

  // [SECTION] Test bodies, run on both frame memories

  // One frame at odd sizes reads back exactly.
  void kernel_written_frame_reads_back_exactly(const PathOptions& options) {
    if (std::string why = make_presenter(67, 45, options); !why.empty()) GTEST_SKIP() << why;
    FrameTarget target = presenter_->begin_frame();
    expect_target_kind(target);
    write_frame(target, 5);
    ASSERT_EQ(presenter_->present(), FrameStatus::Presented);
    EXPECT_EQ(count_mismatches(5), 0);
    expect_counters(1);
  }

  // 1,000 frames, 3 in flight, kernels and presents overlapping, a decoy write before each real one:
  // every 100th frame reads back as exactly its own pattern.
  void thousand_overlapping_frames_keep_their_order(const PathOptions& options) {
    PathOptions three = options;
    three.frames_in_flight = 3;
    if (std::string why = make_presenter(640, 360, three); !why.empty()) GTEST_SKIP() << why;
    std::vector<uint64_t> targets;   // the first three frames' memory: pointer or surface
    int checked = 0;
    for (int frame = 0; frame < 1000; ++frame) {
      FrameTarget target = presenter_->begin_frame();
      if (frame < 3)
        targets.push_back(target.cuda_surface ? target.cuda_surface : reinterpret_cast<uint64_t>(target.pixels));
      write_frame(target, frame);
      ASSERT_EQ(presenter_->present(), FrameStatus::Presented);
      if (frame % 100 == 99) {
        ASSERT_EQ(count_mismatches(frame), 0);
        ++checked;
      }
    }
    EXPECT_EQ(checked, 10);
    EXPECT_NE(targets[0], targets[1]);   // frames in flight have their own memory
    EXPECT_NE(targets[1], targets[2]);
    EXPECT_NE(targets[0], targets[2]);
    expect_counters(1000);
  }

  // The presenter's default filter (linear): a same-size blit stays exact.
  void linear_filter_same_size_is_exact(const PathOptions& options) {
    PathOptions linear_filter = options;
    linear_filter.filter = Filter::Linear;
    if (std::string why = make_presenter(40, 30, linear_filter); !why.empty()) GTEST_SKIP() << why;
    for (int frame = 0; frame < 4; ++frame) {
      write_frame(presenter_->begin_frame(), frame);
      ASSERT_EQ(presenter_->present(), FrameStatus::Presented);
    }
    EXPECT_EQ(count_mismatches(3), 0);
    expect_counters(4);
  }

  // Scaling 2x nearest: output (x, y) = frame (x/2, y/2).
  void scaled_blit_is_exact(const PathOptions& options) {
    PathOptions scaled = options;
    scaled.scale = 2;
    if (std::string why = make_presenter(53, 31, scaled); !why.empty()) GTEST_SKIP() << why;
    write_frame(presenter_->begin_frame(), 11);
    ASSERT_EQ(presenter_->present(), FrameStatus::Presented);
    EXPECT_EQ(count_mismatches(11), 0);
    expect_counters(1);
  }

  // Three sub-rectangles of one target (FrameTarget::region, as the branch grid and the fidelity
  // view write their cells), each with a pattern of its own size and frame, tile the frame exactly.
  void regions_land_in_their_rectangles(const PathOptions& options) {
    if (std::string why = make_presenter(67, 45, options); !why.empty()) GTEST_SKIP() << why;
    struct Cell {
      int x, y, w, h, frame;
    };
    const Cell cells[] = {{0, 0, 30, 45, 3}, {30, 0, 37, 10, 20}, {30, 10, 37, 35, 9}};
    std::vector<std::unique_ptr<DevicePattern>> patterns;
    FrameTarget target = presenter_->begin_frame();
    for (const Cell& c : cells) {
      FrameTarget cell = target.region(c.x, c.y, c.w, c.h);
      patterns.push_back(std::make_unique<DevicePattern>(c.w, c.h));
      pack_rgba8_cuda(patterns.back()->planes(), cell.pixels, pack_params(cell, c.frame), stream_);
    }
    ASSERT_EQ(presenter_->present(), FrameStatus::Presented);
    auto want = [&](int x, int y) {
      for (const Cell& c : cells)
        if (x >= c.x && x < c.x + c.w && y >= c.y && y < c.y + c.h) return pattern_at(x, y, c.frame, c.x, c.y);
      return Rgba{};
    };
    EXPECT_EQ(count_mismatches(want, "the three cells"), 0);
    expect_counters(1);
    presenter_.reset();   // the presenter waits for the stream before the patterns go
  }

  // bench_present's stand-in for a decoder (fill_frame_cuda) reaches every pixel, and copies nothing.
  void fill_frame_reaches_every_pixel(const PathOptions& options) {
    if (std::string why = make_presenter(67, 45, options); !why.empty()) GTEST_SKIP() << why;
    for (uint8_t value : {uint8_t{77}, uint8_t{201}}) {
      fill_frame_cuda(presenter_->begin_frame(), value, stream_);
      ASSERT_EQ(presenter_->present(), FrameStatus::Presented);
    }
    EXPECT_EQ(count_mismatches([](int, int) { return Rgba{201, 201, 201, 201}; }, "the filled frame"), 0);
    expect_counters(2);
  }

  cudaStream_t stream_ = nullptr;
  std::unique_ptr<Presenter> presenter_;
  std::unique_ptr<DevicePattern> pattern_;   // the frame-sized pattern write_frame packs
  int width_ = 0, height_ = 0, scale_ = 1;
  bool image_surface_ = false;   // whether the presenter took the image surface
};

// The image surface's tests: the same bodies with PresenterInfo::cuda_image_surface on.
class CudaImageSurface : public CudaPresenter {
 protected:
  static PathOptions surface() {
    PathOptions options;
    options.image_surface = true;
    return options;
  }
};

// [SECTION] The buffer path (cuda_image_surface off): an exported buffer, one buffer -> image copy per frame

TEST_F(CudaPresenter, BufferCopyWhenTheImageSurfaceIsOff) {
  EXPECT_TRUE(PresenterInfo{}.cuda_image_surface);   // the default since the H200 run (docs/render.md)
  if (std::string why = make_presenter(16, 16); !why.empty()) GTEST_SKIP() << why;
  EXPECT_EQ(presenter_->stats().cuda_frame_memory, CudaFrameMemory::BufferCopy);
  EXPECT_EQ(presenter_->stats().cuda_frame_memory_note, "PresenterInfo::cuda_image_surface is off");
  EXPECT_EQ(presenter_->stats().frame_row_pitch, 16 * 4);
}

TEST_F(CudaPresenter, KernelWrittenFrameReadsBackExactly) { kernel_written_frame_reads_back_exactly({}); }

TEST_F(CudaPresenter, ThousandOverlappingFramesKeepTheirOrder) { thousand_overlapping_frames_keep_their_order({}); }

TEST_F(CudaPresenter, LinearFilterSameSizeIsExact) { linear_filter_same_size_is_exact({}); }

TEST_F(CudaPresenter, ScaledBlitIsExact) { scaled_blit_is_exact({}); }

TEST_F(CudaPresenter, RegionsLandInTheirRectangles) { regions_land_in_their_rectangles({}); }

TEST_F(CudaPresenter, FillFrameReachesEveryPixel) { fill_frame_reaches_every_pixel({}); }

// [SECTION] The image surface: an optimal-tiled image written through a CUDA surface, no copy

TEST_F(CudaImageSurface, TargetIsASurface) {
  if (std::string why = make_presenter(16, 16, surface()); !why.empty()) GTEST_SKIP() << why;
  EXPECT_EQ(presenter_->stats().cuda_frame_memory_note, "");
  EXPECT_EQ(presenter_->stats().frame_row_pitch, 0);
  FrameTarget target = presenter_->begin_frame();
  expect_target_kind(target);
  ASSERT_EQ(presenter_->present(), FrameStatus::Presented);   // unwritten: whatever the image held
  expect_counters(1);
}

TEST_F(CudaImageSurface, KernelWrittenFrameReadsBackExactly) { kernel_written_frame_reads_back_exactly(surface()); }

TEST_F(CudaImageSurface, ThousandOverlappingFramesKeepTheirOrder) {
  thousand_overlapping_frames_keep_their_order(surface());
}

TEST_F(CudaImageSurface, LinearFilterSameSizeIsExact) { linear_filter_same_size_is_exact(surface()); }

TEST_F(CudaImageSurface, ScaledBlitIsExact) { scaled_blit_is_exact(surface()); }

TEST_F(CudaImageSurface, RegionsLandInTheirRectangles) { regions_land_in_their_rectangles(surface()); }

TEST_F(CudaImageSurface, FillFrameReachesEveryPixel) { fill_frame_reaches_every_pixel(surface()); }

// [SECTION] The host path

// The host path stays available in CUDA builds (PresenterInfo::cuda_frames = false).
TEST_F(CudaPresenter, HostPathWhenCudaFramesAreOff) {
  PresenterInfo info;
  info.headless = true;
  info.frame_width = info.output_width = 16;
  info.frame_height = info.output_height = 16;
  info.filter = Filter::Nearest;
  info.cuda_frames = false;
  std::optional<Presenter> presenter;
  try {
    presenter.emplace(info);
  } catch (const Error& e) {
    GTEST_SKIP() << "no Vulkan device: " << e.what();
  }
  FrameTarget target = presenter->begin_frame();
  EXPECT_FALSE(target.on_device);
  EXPECT_EQ(target.cuda_surface, 0u);
  write_pattern(target, 2);
  ASSERT_EQ(presenter->present(), FrameStatus::Presented);
  std::vector<uint8_t> rgba;
  int w = 0, h = 0;
  ASSERT_TRUE(presenter->read_frame(rgba, w, h));
  int mismatches = 0;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) mismatches += expect_pixel(rgba, w, x, y, pattern_pixel(x, y, 2), 0, mismatches);
  EXPECT_EQ(mismatches, 0);
  PresenterStats stats = presenter->stats();
  EXPECT_EQ(stats.frame_path, FramePath::HostStaging);
  EXPECT_EQ(stats.cuda_frame_memory, CudaFrameMemory::None);
  EXPECT_EQ(stats.host_uploads, 1);
  EXPECT_EQ(stats.device_copies, 0);
}

// [SECTION] pack_rgba8_cuda through a surface, against the CPU spec

constexpr uint8_t kGuard = 0xA5;

using test::from_bf16_bits;
using test::to_bf16_bits;

// An RGBA8 CUDA array with surface load/store and a surface object over it, as SharedImage maps a
// Vulkan image; filled with guard bytes.
class SurfaceArray {
 public:
  SurfaceArray(int width, int height) : width_(width), height_(height) {
    cudaChannelFormatDesc format = cudaCreateChannelDesc(8, 8, 8, 8, cudaChannelFormatKindUnsigned);
    WL_CUDA_CHECK(cudaMallocArray(&array_, &format, width, height, cudaArraySurfaceLoadStore));
    cudaResourceDesc resource{};
    resource.resType = cudaResourceTypeArray;
    resource.res.array.array = array_;
    cudaSurfaceObject_t surface = 0;
    WL_CUDA_CHECK(cudaCreateSurfaceObject(&surface, &resource));
    surface_ = surface;
    std::vector<uint8_t> guard(bytes(), kGuard);
    WL_CUDA_CHECK(cudaMemcpy2DToArray(array_, 0, 0, guard.data(), row_bytes(), row_bytes(), height,
                                      cudaMemcpyHostToDevice));
  }
  ~SurfaceArray() {
    if (surface_) cudaDestroySurfaceObject(surface_);
    if (array_) cudaFreeArray(array_);
  }
  SurfaceArray(const SurfaceArray&) = delete;
  SurfaceArray& operator=(const SurfaceArray&) = delete;

  uint64_t surface() const { return surface_; }
  size_t row_bytes() const { return static_cast<size_t>(width_) * 4; }
  size_t bytes() const { return row_bytes() * height_; }
  std::vector<uint8_t> read() const {   // tightly packed rows
    std::vector<uint8_t> out(bytes());
    WL_CUDA_CHECK(cudaMemcpy2DFromArray(out.data(), row_bytes(), array_, 0, 0, row_bytes(), height_,
                                        cudaMemcpyDeviceToHost));
    return out;
  }

 private:
  int width_, height_;
  cudaArray_t array_ = nullptr;
  uint64_t surface_ = 0;
};

struct Shape {
  int height, width;
};
class PackRGBA8Surface : public ::testing::TestWithParam<std::tuple<Shape, bool>> {};

// The output lands at (dst_x, dst_y) = (3, 2) of an array 5 pixels wider and 4 taller, exactly as
// pack_rgba8_cpu writes it at that offset of a host image; every guard pixel around it stays.
TEST_P(PackRGBA8Surface, MatchesCpuInsideGuards) {
  if (!have_cuda_device()) GTEST_SKIP() << "no CUDA device";
  auto [shape, bf16] = GetParam();
  const int dst_x = 3, dst_y = 2, array_w = shape.width + 5, array_h = shape.height + 4;
  PackRGBA8Params p;
  p.height = shape.height, p.width = shape.width, p.src_plane = int64_t(shape.height) * shape.width + 7;
  std::mt19937 rng(1234);
  std::uniform_real_distribution<float> dist(-1.3f, 1.3f);
  std::vector<float> src(3 * p.src_plane);
  std::vector<uint16_t> src16(src.size());
  for (size_t i = 0; i < src.size(); ++i) {
    src[i] = dist(rng);
    src16[i] = to_bf16_bits(src[i]);
    if (bf16) src[i] = from_bf16_bits(src16[i]);   // the CPU spec sees exactly what the kernel sees
  }
  SurfaceArray array(array_w, array_h);
  std::vector<uint8_t> want(array.bytes(), kGuard);
  PackRGBA8Params cpu = p;
  cpu.dst_pitch = static_cast<int64_t>(array.row_bytes());
  pack_rgba8_cpu(src.data(), want.data() + dst_y * array.row_bytes() + 4 * dst_x, cpu);

  void* d_src = nullptr;
  const size_t in_bytes = bf16 ? src16.size() * 2 : src.size() * 4;
  ASSERT_EQ(cudaMalloc(&d_src, in_bytes), cudaSuccess);
  ASSERT_EQ(cudaMemcpy(d_src, bf16 ? static_cast<const void*>(src16.data()) : src.data(), in_bytes,
                       cudaMemcpyHostToDevice),
            cudaSuccess);
  p.dst_surface = array.surface();
  p.dst_x = dst_x;
  p.dst_y = dst_y;
  if (bf16)
    pack_rgba8_cuda(static_cast<const uint16_t*>(d_src), nullptr, p, nullptr);
  else
    pack_rgba8_cuda(static_cast<const float*>(d_src), nullptr, p, nullptr);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  cudaFree(d_src);
  std::vector<uint8_t> got = array.read();
  int mismatches = 0;
  for (size_t i = 0; i < got.size() && mismatches < 10; ++i)   // includes every guard pixel
    if (got[i] != want[i])
      ADD_FAILURE() << "byte " << i << " (array y=" << i / array.row_bytes() << ", x=" << (i % array.row_bytes()) / 4
                    << ", c=" << i % 4 << "): got " << int(got[i]) << " want " << int(want[i]),
          ++mismatches;
}

INSTANTIATE_TEST_SUITE_P(Shapes, PackRGBA8Surface,
                         ::testing::Combine(::testing::Values(Shape{1, 1}, Shape{17, 33}, Shape{480, 832}),
                                            ::testing::Bool()));

// A rectangle past the array, or both destinations at once, is refused before any launch.
TEST(PackRGBA8SurfaceChecks, RefusesWhatDoesNotFit) {
  if (!have_cuda_device()) GTEST_SKIP() << "no CUDA device";
  SurfaceArray array(8, 8);
  float* d_src = nullptr;
  ASSERT_EQ(cudaMalloc(reinterpret_cast<void**>(&d_src), 3 * 64 * sizeof(float)), cudaSuccess);
  PackRGBA8Params p;
  p.height = 8, p.width = 8, p.src_plane = 64;
  p.dst_surface = array.surface();
  p.dst_x = 1;   // one column past the right edge
  EXPECT_THROW(pack_rgba8_cuda(d_src, nullptr, p, nullptr), Error);
  p.dst_x = -1;
  EXPECT_THROW(pack_rgba8_cuda(d_src, nullptr, p, nullptr), Error);
  p.dst_x = 0;
  uint8_t* d_dst = nullptr;
  ASSERT_EQ(cudaMalloc(reinterpret_cast<void**>(&d_dst), 256), cudaSuccess);
  EXPECT_THROW(pack_rgba8_cuda(d_src, d_dst, p, nullptr), Error);
  pack_rgba8_cuda(d_src, nullptr, p, nullptr);   // the whole array: fits
  EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  cudaFree(d_dst);
  cudaFree(d_src);
}

}  // namespace
}  // namespace wl
