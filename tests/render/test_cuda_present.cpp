// The CUDA interop frame path (CUDA builds, GPU machine): pack_rgba8_cuda writes a known pattern
// straight into the presenter's device target on a stream, and Vulkan presents it headless; the
// readback is exact. The default frame memory is an exported buffer that Vulkan copies into an
// image once per frame (CudaFrameMemory::BufferCopy): over 1,000 frames with the kernels and the
// presents overlapping (no host synchronisation), every 100th frame reads back as exactly its own
// pattern, so the timeline semaphores keep CUDA's writes and Vulkan's reads in order; no host
// uploads and exactly one device copy per frame happen. The host path stays exact too.
// The experimental linear image (PresenterInfo::cuda_linear_image: CUDA writes a linear VkImage's
// memory at its pitch, Vulkan blits from it, no device copy) has its tests here as DISABLED_ ones
// (CudaLinearImage.*): they failed on an NVIDIA H200, see the comment above them.
// Skips cleanly without a CUDA device or without a Vulkan device; fails when both exist on one GPU
// but the presenter did not take the CUDA path, or not the frame memory asked for (it says why).
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>
#include <vulkan/vulkan.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kernels/cuda_check.h"
#include "kernels/pack_rgba8.h"
#include "render/presenter.h"
#include "tests/render/patterns.h"

namespace wl {
namespace {

// Planar base pattern in [0, 199]; frame i adds (i % 56), so no value clamps and consecutive frames
// differ in every byte.
constexpr int kOffsetPeriod = 56;

float base_value(int x, int y, int c) { return static_cast<float>((x * 7 + y * 13 + c * 61 + ((x ^ y) & 15)) % 200); }

// What a test asks of the presenter beyond the frame size.
struct PathOptions {
  int frames_in_flight = 2;
  int scale = 1;                        // output = frame * scale (integer, so nearest is exact)
  Filter filter = Filter::Nearest;
  bool linear_image = false;            // PresenterInfo::cuda_linear_image (experimental)
};

class CudaPresenter : public ::testing::Test {
 protected:
  void SetUp() override {
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
      cudaGetLastError();
      GTEST_SKIP() << "no CUDA device";
    }
    WL_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  }

  void TearDown() override {
    presenter_.reset();   // before the stream it waits on
    if (source_) cudaFree(source_);
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
    info.cuda_linear_image = options.linear_image;
    try {
      presenter_ = std::make_unique<Presenter>(info);
    } catch (const Error& e) {
      return str("no Vulkan device: ", e.what());
    }
    PresenterStats stats = presenter_->stats();
    EXPECT_EQ(stats.frame_path, FramePath::CudaInterop)
        << "a CUDA device is here but the presenter used host staging: " << stats.frame_path_note
        << " (Vulkan device " << stats.device_name << ")";
    if (stats.frame_path != FramePath::CudaInterop) return "host staging path";
    const CudaFrameMemory wanted = options.linear_image ? CudaFrameMemory::LinearImage : CudaFrameMemory::BufferCopy;
    EXPECT_EQ(stats.cuda_frame_memory, wanted)
        << (options.linear_image ? "the presenter fell back to a buffer + device copy: " : "")
        << stats.cuda_frame_memory_note << " (Vulkan device " << stats.device_name << ")";
    linear_image_ = stats.cuda_frame_memory == CudaFrameMemory::LinearImage;
    if (stats.cuda_frame_memory != wanted) return "not the CUDA frame memory asked for";
    width_ = width;
    height_ = height;
    scale_ = options.scale;
    std::vector<float> planes(static_cast<size_t>(3) * width * height);
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < height; ++y)
        for (int x = 0; x < width; ++x) planes[(static_cast<size_t>(c) * height + y) * width + x] = base_value(x, y, c);
    WL_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&source_), planes.size() * sizeof(float)));
    WL_CUDA_CHECK(cudaMemcpy(source_, planes.data(), planes.size() * sizeof(float), cudaMemcpyHostToDevice));
    return "";
  }

  // Enqueues frame `frame`'s pattern into the target on the stream (no synchronisation), rows
  // `pitch` bytes apart (the target's own unless a test says otherwise). A decoy with another
  // offset goes first, so a read that slipped ahead of the real write shows.
  void write_frame(const FrameTarget& target, int frame, int64_t pitch = 0) {
    ASSERT_TRUE(target.on_device);
    PackRGBA8Params params;
    params.height = target.height;
    params.width = target.width;
    params.src_plane = int64_t{target.width} * target.height;
    params.dst_pitch = pitch ? pitch : target.row_pitch;
    params.scale = 1.f;
    params.offset = static_cast<float>((frame + kOffsetPeriod / 2) % kOffsetPeriod);
    pack_rgba8_cuda(source_, target.pixels, params, stream_);
    params.offset = static_cast<float>(frame % kOffsetPeriod);
    pack_rgba8_cuda(source_, target.pixels, params, stream_);
  }

  // Pixels of the newest output that differ from frame `frame`'s pattern (scaled by nearest);
  // the first few are reported as failures when `report`.
  int count_mismatches(int frame, bool report = true) {
    std::vector<uint8_t> rgba;
    int w = 0, h = 0;
    EXPECT_TRUE(presenter_->read_frame(rgba, w, h));
    EXPECT_EQ(w, width_ * scale_);
    EXPECT_EQ(h, height_ * scale_);
    if (w != width_ * scale_ || h != height_ * scale_) return 1;
    int mismatches = 0;
    const int offset = frame % kOffsetPeriod;
    for (int y = 0; y < h; ++y) {
      for (int x = 0; x < w; ++x) {
        const int sx = x / scale_, sy = y / scale_;
        Rgba want{static_cast<uint8_t>(base_value(sx, sy, 0) + offset),
                  static_cast<uint8_t>(base_value(sx, sy, 1) + offset),
                  static_cast<uint8_t>(base_value(sx, sy, 2) + offset), 255};
        if (report) {
          mismatches += expect_pixel(rgba, w, x, y, want, 0, mismatches);
        } else {
          const uint8_t* p = rgba.data() + (static_cast<size_t>(y) * w + x) * 4;
          mismatches += p[0] != want.r || p[1] != want.g || p[2] != want.b;
        }
      }
    }
    if (mismatches && report) ADD_FAILURE() << mismatches << " pixels differ in frame " << frame;
    return mismatches;
  }

  cudaStream_t stream_ = nullptr;
  float* source_ = nullptr;
  std::unique_ptr<Presenter> presenter_;
  // Device copies per frame the path should make: one buffer -> image copy, or none from a linear image.
  int64_t copies_per_frame() const { return linear_image_ ? 0 : 1; }

  // [SECTION] Test bodies, run on the default buffer path and (disabled) on the linear image

  // One frame at odd sizes, written at the target's pitch, reads back exactly.
  void kernel_written_frame_reads_back_exactly(const PathOptions& options) {
    if (std::string why = make_presenter(67, 45, options); !why.empty()) GTEST_SKIP() << why;
    FrameTarget target = presenter_->begin_frame();
    EXPECT_EQ(target.width, 67);
    if (linear_image_) {
      // The linear image's own pitch (vkGetImageSubresourceLayout): at least a row, whole pixels.
      EXPECT_GE(target.row_pitch, 67 * 4);
      EXPECT_EQ(target.row_pitch % 4, 0);
    } else {
      EXPECT_EQ(target.row_pitch, 67 * 4);   // the buffer's rows are tightly packed
    }
    EXPECT_EQ(target.row_pitch, presenter_->stats().frame_row_pitch);
    std::printf("row pitch %lld bytes for a 67-pixel row (%d bytes)\n", static_cast<long long>(target.row_pitch),
                67 * 4);
    write_frame(target, 5);
    ASSERT_EQ(presenter_->present(), FrameStatus::Presented);
    EXPECT_EQ(count_mismatches(5), 0);
    PresenterStats stats = presenter_->stats();
    EXPECT_EQ(stats.host_uploads, 0);
    EXPECT_EQ(stats.device_copies, copies_per_frame());
    EXPECT_EQ(stats.validation_messages, 0);
  }

  // 1,000 frames, 3 in flight, kernels and presents overlapping, a decoy write before each real one:
  // every 100th frame reads back as exactly its own pattern.
  void thousand_overlapping_frames_keep_their_order(const PathOptions& options) {
    PathOptions three = options;
    three.frames_in_flight = 3;
    if (std::string why = make_presenter(640, 360, three); !why.empty()) GTEST_SKIP() << why;
    std::vector<uint8_t*> targets;
    int checked = 0;
    for (int frame = 0; frame < 1000; ++frame) {
      FrameTarget target = presenter_->begin_frame();
      if (frame < 3) targets.push_back(target.pixels);
      write_frame(target, frame);
      ASSERT_EQ(presenter_->present(), FrameStatus::Presented);
      if (frame % 100 == 99) {
        ASSERT_EQ(count_mismatches(frame), 0);
        ++checked;
      }
    }
    EXPECT_EQ(checked, 10);
    EXPECT_NE(targets[0], targets[1]);   // frames in flight have their own targets
    EXPECT_NE(targets[1], targets[2]);
    EXPECT_NE(targets[0], targets[2]);
    PresenterStats stats = presenter_->stats();
    EXPECT_EQ(stats.frames_presented, 1000);
    EXPECT_EQ(stats.host_uploads, 0);
    EXPECT_EQ(stats.device_copies, 1000 * copies_per_frame());
    EXPECT_EQ(stats.validation_messages, 0);
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
    EXPECT_EQ(presenter_->stats().device_copies, 4 * copies_per_frame());
    EXPECT_EQ(presenter_->stats().validation_messages, 0);
  }

  // Scaling 2x nearest: output (x, y) = frame (x/2, y/2).
  void scaled_blit_is_exact(const PathOptions& options) {
    PathOptions scaled = options;
    scaled.scale = 2;
    if (std::string why = make_presenter(53, 31, scaled); !why.empty()) GTEST_SKIP() << why;
    write_frame(presenter_->begin_frame(), 11);
    ASSERT_EQ(presenter_->present(), FrameStatus::Presented);
    EXPECT_EQ(count_mismatches(11), 0);
    EXPECT_EQ(presenter_->stats().device_copies, copies_per_frame());
    EXPECT_EQ(presenter_->stats().validation_messages, 0);
  }

  int width_ = 0, height_ = 0, scale_ = 1;
  bool linear_image_ = false;   // whether the presenter took the linear image
};

// The experimental linear image's tests: the same bodies with PresenterInfo::cuda_linear_image on.
class CudaLinearImage : public CudaPresenter {
 protected:
  static PathOptions linear() {
    PathOptions options;
    options.linear_image = true;
    return options;
  }
};

// [SECTION] The default path: an exported buffer, one buffer -> image copy per frame

TEST_F(CudaPresenter, BufferCopyIsTheDefault) {
  EXPECT_FALSE(PresenterInfo{}.cuda_linear_image);
  if (std::string why = make_presenter(16, 16); !why.empty()) GTEST_SKIP() << why;
  EXPECT_EQ(presenter_->stats().cuda_frame_memory, CudaFrameMemory::BufferCopy);
  EXPECT_EQ(presenter_->stats().cuda_frame_memory_note, "PresenterInfo::cuda_linear_image is off");
  EXPECT_EQ(presenter_->stats().frame_row_pitch, 16 * 4);
}

TEST_F(CudaPresenter, KernelWrittenFrameReadsBackExactly) { kernel_written_frame_reads_back_exactly({}); }

TEST_F(CudaPresenter, ThousandOverlappingFramesKeepTheirOrder) { thousand_overlapping_frames_keep_their_order({}); }

TEST_F(CudaPresenter, LinearFilterSameSizeIsExact) { linear_filter_same_size_is_exact({}); }

TEST_F(CudaPresenter, ScaledBlitIsExact) { scaled_blit_is_exact({}); }

// [SECTION] The experimental linear image (disabled)

// DISABLED until the linear-image path is fixed; run them with --gtest_also_run_disabled_tests
// --gtest_filter='CudaLinearImage.*'. On an NVIDIA H200 (driver 580, validation layers on) they
// failed:
//   KernelWrittenFrameReadsBackExactly: "linear image row pitch 288 bytes for a 67-pixel row
//     (268 bytes)"; pixel (0,0) got 40,134,213 want 5,66,127; (1,0) got 98,0,129 want 13,74,135;
//     (2,0) got 4,10,27 want 21,82,143; (3,0) got 97,32,8; (7,0) got 0,0,0; "1824 pixels differ in
//     frame 5";
//   ThousandOverlappingFramesKeepTheirOrder (row pitch 2560 bytes): pixel (0,0) got 40,134,33 want
//     43,104,165;
//   ScaledBlitFromTheLinearImage: "3072 pixels differ in frame 11";
//   LinearFilterKeepsTheLinearImage: failed;
//   AWriterIgnoringThePitchWouldShow: passed, but only because every frame read back wrong.
// The bytes read are neither the frame's pattern nor the decoy's, repeat across tests and show at
// 640 wide too, where the pitch is exactly 4 * width: Vulkan read bytes CUDA never wrote. See
// docs/render.md, "Open: linear-image path", for the suspected causes.

TEST_F(CudaLinearImage, DISABLED_KernelWrittenFrameReadsBackExactly) {
  kernel_written_frame_reads_back_exactly(linear());
}

// The exactness above means something only if a writer that ignored the pitch would be caught.
TEST_F(CudaLinearImage, DISABLED_AWriterIgnoringThePitchWouldShow) {
  if (std::string why = make_presenter(67, 45, linear()); !why.empty()) GTEST_SKIP() << why;
  FrameTarget target = presenter_->begin_frame();
  if (target.row_pitch == int64_t{target.width} * 4) {
    presenter_->present();
    GTEST_SKIP() << "this device pads no linear rows at width 67 (pitch " << target.row_pitch << ")";
  }
  // Tightly packed rows, as a pitch-blind writer would store them: within the first row's bytes
  // this is correct, so the image's first row still matches, and every later row is shifted.
  write_frame(target, 7, int64_t{target.width} * 4);
  ASSERT_EQ(presenter_->present(), FrameStatus::Presented);
  EXPECT_GT(count_mismatches(7, /*report=*/false), 0);
}

TEST_F(CudaLinearImage, DISABLED_ThousandOverlappingFramesKeepTheirOrder) {
  thousand_overlapping_frames_keep_their_order(linear());
}

// The default filter needs linear filtering from the linear image's tiling: the engine's own
// settings must keep the zero-copy path.
TEST_F(CudaLinearImage, DISABLED_LinearFilterKeepsTheLinearImage) { linear_filter_same_size_is_exact(linear()); }

TEST_F(CudaLinearImage, DISABLED_ScaledBlitFromTheLinearImage) { scaled_blit_is_exact(linear()); }

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

}  // namespace
}  // namespace wl
