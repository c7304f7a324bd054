// bench_present: the headless present loop, timed. See bench_present.h.
#include "render/bench_present.h"

#include <chrono>
#include <cstring>
#include <vector>

#include "kernels/core/error.h"
#ifdef WL_WITH_CUDA
#include <cuda_runtime_api.h>

#include "kernels/cuda_check.h"
#include "render/cuda_interop.h"
#endif

namespace wl {
namespace {

// Fills the target as a decoder would: host rows (4 * width bytes each, row_pitch apart: the
// padding between rows is not the target's to write), or a device target on the stream
// (fill_frame_cuda: a memset or a surface-writing kernel, never a copy).
void write_frame(const FrameTarget& target, int frame, cudaStream_t stream) {
  const size_t row_bytes = static_cast<size_t>(target.width) * 4;
  const int value = frame & 0xFF;
  if (!target.on_device) {
    for (int y = 0; y < target.height; ++y) std::memset(target.pixels + y * target.row_pitch, value, row_bytes);
    return;
  }
#ifdef WL_WITH_CUDA
  fill_frame_cuda(target, static_cast<uint8_t>(value), stream);
#else
  WL_FAIL("a device FrameTarget in a build without CUDA");
#endif
}

}  // namespace

PresentBenchResult bench_present(const PresentBenchInfo& info) {
  WL_CHECK(info.frames > 0 && info.warmup >= 0, "bench_present needs frames > 0 and warmup >= 0, got ",
           info.frames, " and ", info.warmup);
  PresenterInfo presenter_info;
  presenter_info.headless = true;
  presenter_info.frame_width = info.frame_width;
  presenter_info.frame_height = info.frame_height;
  presenter_info.output_width = info.output_width;
  presenter_info.output_height = info.output_height;
  presenter_info.frames_in_flight = info.frames_in_flight;
  presenter_info.filter = info.filter;
  presenter_info.overlay = info.overlay;
  presenter_info.cuda_frames = info.cuda_frames;
  presenter_info.cuda_image_surface = info.cuda_image_surface;
#ifdef WL_WITH_CUDA
  // A stream of its own, as the model's would be; destroyed after the presenter (declared first).
  struct Stream {
    cudaStream_t handle = nullptr;
    ~Stream() {
      if (handle) cudaStreamDestroy(handle);
    }
  } stream;
  std::string why;
  if (info.cuda_frames && cuda_device_uuid(why))
    WL_CUDA_CHECK(cudaStreamCreateWithFlags(&stream.handle, cudaStreamNonBlocking));
  presenter_info.cuda_stream = stream.handle;
#else
  struct {
    cudaStream_t handle = nullptr;
  } stream;
#endif
  Presenter presenter(presenter_info);

  auto run = [&](int first, int count) {
    for (int frame = first; frame < first + count; ++frame) {
      FrameTarget target = presenter.begin_frame();
      if (info.write_frames) write_frame(target, frame, stream.handle);
      presenter.present();
    }
    // Drain: the newest frame (and with it every earlier one) has finished on the GPU.
    std::vector<uint8_t> rgba;
    int width = 0, height = 0;
    presenter.read_frame(rgba, width, height);
  };
  run(0, info.warmup);
  PresenterStats before = presenter.stats();
  auto start = std::chrono::steady_clock::now();
  run(info.warmup, info.frames);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  PresenterStats after = presenter.stats();

  PresentBenchResult result;
  result.frames = info.frames;
  result.ms_per_frame = seconds * 1e3 / info.frames;
  result.host_uploads_per_frame = static_cast<double>(after.host_uploads - before.host_uploads) / info.frames;
  result.device_copies_per_frame = static_cast<double>(after.device_copies - before.device_copies) / info.frames;
  result.frame_path = after.frame_path;
  result.frame_path_note = after.frame_path_note;
  result.cuda_frame_memory = after.cuda_frame_memory;
  result.cuda_frame_memory_note = after.cuda_frame_memory_note;
  result.device_name = after.device_name;
  return result;
}

}  // namespace wl
