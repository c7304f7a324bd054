// The CUDA interop frame path (CUDA builds, GPU machine): pack_rgba8_cuda writes a known pattern
// straight into the presenter's device target on a stream, Vulkan presents it headless, and the
// readback is exact; over 1,000 frames with the kernels and the presents overlapping (no host
// synchronisation), every 100th frame reads back as exactly its own pattern, so the timeline
// semaphores keep CUDA's writes and Vulkan's reads in order; no host uploads happen.
// Skips cleanly without a CUDA device or without a Vulkan device; fails when both exist on one GPU
// but the presenter did not take the CUDA path.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>
#include <vulkan/vulkan.h>

#include <cstdint>
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
  // no Vulkan device (a skip), or a presenter that did not take the CUDA path (also a failure).
  std::string make_presenter(int width, int height, int frames_in_flight) {
    PresenterInfo info;
    info.headless = true;
    info.frame_width = info.output_width = width;
    info.frame_height = info.output_height = height;
    info.filter = Filter::Nearest;
    info.frames_in_flight = frames_in_flight;
    info.validation = validation_layer_installed();
    info.cuda_stream = stream_;
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
    width_ = width;
    height_ = height;
    std::vector<float> planes(static_cast<size_t>(3) * width * height);
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < height; ++y)
        for (int x = 0; x < width; ++x) planes[(static_cast<size_t>(c) * height + y) * width + x] = base_value(x, y, c);
    WL_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&source_), planes.size() * sizeof(float)));
    WL_CUDA_CHECK(cudaMemcpy(source_, planes.data(), planes.size() * sizeof(float), cudaMemcpyHostToDevice));
    return "";
  }

  // Enqueues frame `frame`'s pattern into the target on the stream (no synchronisation). A decoy
  // with another offset goes first, so a read that slipped ahead of the real write shows.
  void write_frame(const FrameTarget& target, int frame) {
    ASSERT_TRUE(target.on_device);
    PackRGBA8Params params;
    params.height = target.height;
    params.width = target.width;
    params.src_plane = int64_t{target.width} * target.height;
    params.dst_pitch = target.row_pitch;
    params.scale = 1.f;
    params.offset = static_cast<float>((frame + kOffsetPeriod / 2) % kOffsetPeriod);
    pack_rgba8_cuda(source_, target.pixels, params, stream_);
    params.offset = static_cast<float>(frame % kOffsetPeriod);
    pack_rgba8_cuda(source_, target.pixels, params, stream_);
  }

  int count_mismatches(int frame) {
    std::vector<uint8_t> rgba;
    int w = 0, h = 0;
    EXPECT_TRUE(presenter_->read_frame(rgba, w, h));
    EXPECT_EQ(w, width_);
    EXPECT_EQ(h, height_);
    if (w != width_ || h != height_) return 1;
    int mismatches = 0;
    const int offset = frame % kOffsetPeriod;
    for (int y = 0; y < h; ++y) {
      for (int x = 0; x < w; ++x) {
        Rgba want{static_cast<uint8_t>(base_value(x, y, 0) + offset), static_cast<uint8_t>(base_value(x, y, 1) + offset),
                  static_cast<uint8_t>(base_value(x, y, 2) + offset), 255};
        mismatches += expect_pixel(rgba, w, x, y, want, 0, mismatches);
      }
    }
    if (mismatches) ADD_FAILURE() << mismatches << " pixels differ in frame " << frame;
    return mismatches;
  }

  cudaStream_t stream_ = nullptr;
  float* source_ = nullptr;
  std::unique_ptr<Presenter> presenter_;
  int width_ = 0, height_ = 0;
};

TEST_F(CudaPresenter, KernelWrittenFrameReadsBackExactly) {
  if (std::string why = make_presenter(67, 45, 2); !why.empty()) GTEST_SKIP() << why;   // odd sizes
  FrameTarget target = presenter_->begin_frame();
  EXPECT_EQ(target.width, 67);
  EXPECT_EQ(target.row_pitch, 67 * 4);
  write_frame(target, 5);
  ASSERT_EQ(presenter_->present(), FrameStatus::Presented);
  EXPECT_EQ(count_mismatches(5), 0);
  PresenterStats stats = presenter_->stats();
  EXPECT_EQ(stats.host_uploads, 0);
  EXPECT_EQ(stats.device_copies, 1);
  EXPECT_EQ(stats.validation_messages, 0);
}

TEST_F(CudaPresenter, ThousandOverlappingFramesKeepTheirOrder) {
  if (std::string why = make_presenter(640, 360, 3); !why.empty()) GTEST_SKIP() << why;
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
  EXPECT_EQ(stats.device_copies, 1000);
  EXPECT_EQ(stats.validation_messages, 0);
}

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
  EXPECT_EQ(stats.host_uploads, 1);
  EXPECT_EQ(stats.device_copies, 0);
}

}  // namespace
}  // namespace wl
