// `worldloop view IMAGE_OR_VIDEO`: shows an image or plays a video (anything FFmpeg decodes: MP4,
// PNG, ...) through the engine's own present path, Presenter plus overlay, at the video's frame
// rate; a video loops, an image stays. Esc or closing the window quits. Headless, it renders a
// number of frames offscreen and can save the last composed output (frame letterboxed, overlay on
// top) as a PNG, which is how the tests see it. Callers: main.cpp (the `view` subcommand).
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "sim/frame_types.h"

namespace wl {

struct ViewOptions {
  std::string path;                 // the image or video to show
  bool headless = false;            // render offscreen, no window or X server
  int frames = 0;                   // frames to present, 0 = until closed (windowed) or the file's
                                    //   length once (headless; an image counts one frame)
  std::string out_png;              // headless: save the last composed output here
  int output_width = 1280;          // window client size, or the headless output size
  int output_height = 720;
  bool nearest = false;             // nearest-neighbour scaling (crisp pixels) instead of linear
  bool overlay = true;              // start with the control overlay shown (F1 toggles it)
};

// Throws wl::Error for a missing or undecodable file, a build without FFmpeg, or a window asked
// for where there is no display (hint: --headless).
void run_view(const ViewOptions& options);

// Copies a tightly packed RGB8 image [target.height, target.width, 3] into an RGBA8 host target,
// alpha 255. Also used by the dataset exporter and ground-truth play to feed the presenter and the
// recorder. wl::Error when the sizes disagree or the target lives on the device.
void write_rgb_to_target(std::span<const uint8_t> rgb, const FrameTarget& target);

}  // namespace wl
