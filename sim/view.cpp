// `worldloop view` (see view.h): decode with VideoReader, copy each RGB frame into the presenter's
// RGBA FrameTarget on the host, present. Windowed, the video advances by the clock at its own frame
// rate while the presenter runs at the display's; headless, one video frame per presented frame.
#include "sim/view.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>

#include "envs/image_io.h"
#include "kernels/core/error.h"
#include "render/presenter.h"
#ifdef WL_WITH_RECORDING
#include "render/video_reader.h"
#endif

namespace wl {
namespace {

constexpr int kEscapeKey = 41;   // USB HID usage id (= SDL scancode) of Esc

}  // namespace

#ifdef WL_WITH_RECORDING
namespace {

using Clock = std::chrono::steady_clock;

// The file's frames in order, starting over at the end (a video loops while the window is open).
class FrameSource {
 public:
  explicit FrameSource(std::string path) : path_(std::move(path)), reader_(std::make_unique<VideoReader>(path_)) {
    WL_CHECK(reader_->read(current_), path_, ": holds no video frames; hint: is it an image or a video?");
    // A second frame tells a video from a still image (FFmpeg reads a PNG as a one-frame stream).
    have_next_ = reader_->read(next_);
  }
  const VideoInfo& info() const { return reader_->info(); }
  bool still() const { return still_ && !have_next_; }
  const VideoFrame& frame() const { return current_; }
  // Moves to the next frame; false when the file ended (the source then starts over on next call).
  bool advance() {
    still_ = false;
    if (have_next_) {
      std::swap(current_, next_);
      have_next_ = reader_->read(next_);
      return true;
    }
    reader_ = std::make_unique<VideoReader>(path_);
    WL_CHECK(reader_->read(current_), path_, ": holds no video frames after reopening");
    have_next_ = reader_->read(next_);
    return false;
  }

 private:
  std::string path_;
  std::unique_ptr<VideoReader> reader_;
  VideoFrame current_, next_;
  bool have_next_ = false;
  bool still_ = true;   // true until the first advance: only then is "no second frame" an image
};

}  // namespace
#endif

void write_rgb_to_target(std::span<const uint8_t> rgb, const FrameTarget& target) {
  WL_CHECK(!target.on_device && target.pixels, "write_rgb_to_target needs a host target");
  WL_CHECK(rgb.size() == static_cast<size_t>(target.width) * target.height * 3, "an RGB image of ", rgb.size(),
           " bytes for a ", target.width, "x", target.height, " target");
  for (int y = 0; y < target.height; ++y) {
    const uint8_t* src = rgb.data() + static_cast<size_t>(y) * target.width * 3;
    uint8_t* dst = target.pixels + y * target.row_pitch;
    for (int x = 0; x < target.width; ++x) {
      dst[4 * x + 0] = src[3 * x + 0];
      dst[4 * x + 1] = src[3 * x + 1];
      dst[4 * x + 2] = src[3 * x + 2];
      dst[4 * x + 3] = 255;
    }
  }
}

void run_view(const ViewOptions& o) {
  WL_CHECK(std::filesystem::exists(o.path), o.path, ": no such file; hint: give the path of an image (PNG, JPEG) or a video (MP4)");
  WL_CHECK(o.out_png.empty() || o.headless, "--out saves the headless output; hint: add --headless");
  WL_CHECK(o.frames >= 0, "--frames must be 0 or more, got ", o.frames);
  WL_CHECK(o.output_width > 0 && o.output_height > 0, "the output size must be positive, got ", o.output_width, "x",
           o.output_height);
#ifndef WL_WITH_RECORDING
  WL_FAIL("this build has no FFmpeg, so `view` cannot decode ", o.path, "; hint: rebuild with -DWL_RECORDING=ON");
#else
  if (!o.headless) {
#ifndef WL_WITH_WINDOW
    WL_FAIL("this build has no window support (SDL2); hint: pass --headless, or rebuild with -DWL_WINDOW=ON");
#endif
    WL_CHECK(std::getenv("DISPLAY") || std::getenv("WAYLAND_DISPLAY"),
             "no display to open a window on (DISPLAY is not set); hint: pass --headless, or run under xvfb-run");
  }
  FrameSource source(o.path);
  const VideoInfo info = source.info();
  const double fps = info.fps_num > 0 && info.fps_den > 0 ? static_cast<double>(info.fps_num) / info.fps_den : 25.0;
  const auto period = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / fps));
  const std::string name = std::filesystem::path(o.path).filename().string();
  const std::string title = "worldloop view: " + name;

  PresenterInfo pinfo;
  pinfo.headless = o.headless;
  pinfo.frame_width = info.width;
  pinfo.frame_height = info.height;
  pinfo.output_width = o.output_width;
  pinfo.output_height = o.output_height;
  pinfo.title = title.c_str();
  pinfo.filter = o.nearest ? Filter::Nearest : Filter::Linear;
  pinfo.overlay = true;
  pinfo.overlay_info.visible = o.overlay;
  pinfo.cuda_frames = false;   // frames are decoded and written on the CPU
  Presenter presenter(pinfo);

  int64_t presented = 0, video_frame = 0;
  Clock::time_point due = Clock::now() + period;
  float decode_ms = 0.f, present_ms = 0.f;
  while (true) {
    InputSnapshot input = presenter.poll_input();
    if (input.keys_pressed.test(kEscapeKey)) break;
    auto decode_start = Clock::now();
    if (presented > 0 && !source.still() && (o.headless || decode_start >= due)) {
      bool more = source.advance();
      if (!more && o.headless && o.frames == 0) break;   // the whole file, once
      video_frame = more ? video_frame + 1 : 0;
      due += period;
      if (due < decode_start) due = decode_start + period;   // after a stall, resume rather than race
    }
    FrameTarget target = presenter.begin_frame();
    write_rgb_to_target(source.frame().rgb, target);
    decode_ms = std::chrono::duration<float, std::milli>(Clock::now() - decode_start).count();
    if (Overlay* overlay = presenter.overlay()) {
      OverlayFrame f;
      f.stages = {{"decode", decode_ms}, {"present", present_ms}};
      f.model_info = "view: no model";
      f.world_info = str(name, ": ", info.width, "x", info.height, " ", info.codec, source.still() ? ", image" : "",
                         source.still() ? "" : str(", ", fps, " fps, frame ", video_frame));
      f.input = input;
      overlay->update(f);
    }
    auto present_start = Clock::now();
    FrameStatus status = presenter.present();
    present_ms = std::chrono::duration<float, std::milli>(Clock::now() - present_start).count();
    if (status == FrameStatus::Closed) break;
    if (status == FrameStatus::Presented) ++presented;
    if (o.frames > 0 && presented >= o.frames) break;
    if (o.headless && o.frames == 0 && source.still()) break;
  }

  if (!o.out_png.empty()) {
    std::vector<uint8_t> rgba;
    int width = 0, height = 0;
    WL_CHECK(presenter.read_frame(rgba, width, height), "no frame was presented, so there is nothing to save to ", o.out_png);
    Frame composed{height, width, std::vector<uint8_t>(static_cast<size_t>(width) * height * 3)};
    for (size_t p = 0, n = static_cast<size_t>(width) * height; p < n; ++p)
      std::copy_n(&rgba[4 * p], 3, &composed.rgb[3 * p]);
    write_png(o.out_png, composed);
  }
  std::cout << "view " << name << ": " << info.width << "x" << info.height << ", presented " << presented << " frame"
            << (presented == 1 ? "" : "s") << (o.out_png.empty() ? "" : ", saved " + o.out_png) << "\n";
#endif
}

}  // namespace wl
