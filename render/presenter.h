// Presenter: puts the frames the engine writes on screen, or renders them offscreen (headless).
//
//   Presenter presenter({.frame_width = 640, .frame_height = 360});
//   while (true) {
//     InputSnapshot input = presenter.poll_input();     // once per displayed frame
//     FrameTarget target = presenter.begin_frame();     // RGBA8 frame_w x frame_h to write into
//     ... decoder writes the target (pack_rgba8) ...
//     if (presenter.present() == FrameStatus::Closed) break;
//   }
//
// Two frame paths behind that one interface (stats().frame_path tells which was chosen):
//   Host staging (CPU builds, or no CUDA device twin): target.pixels is host memory, on_device false;
//     write it on the CPU before present(), which uploads it (stats().host_uploads += 1).
//   CUDA interop (CUDA builds whose current CUDA device has a Vulkan twin with the same UUID):
//     the target is device memory (on_device true) that Vulkan reads; no host copy. Per frame in
//     flight, CUDA writes (stats().cuda_frame_memory tells which):
//       ImageSurface (the default, info.cuda_image_surface): an optimal-tiled VkImage imported into
//         CUDA as an array (SharedImage); target.pixels is nullptr, target.cuda_surface the CUDA
//         surface object to surf2Dwrite into, and Vulkan blits straight from the image: no device
//         copy. Exact on an NVIDIA H200 over 1,000 overlapping frames.
//       BufferCopy (cuda_image_surface off, or a device that cannot share the image): a SharedBuffer
//         through target.pixels, rows tightly packed (row_pitch = 4 * width), copied into an image
//         before the blit (device_copies += 1 per frame). Exact on an NVIDIA H200 as well.
//     Writers that handle both: pack_rgba8_cuda (PackRGBA8Params::dst_surface), fill_frame_cuda.
//     Per frame:
//       1. begin_frame(): waits (CPU) for the slot's previous frame, and enqueues on
//          info.cuda_stream a wait until Vulkan has finished reading this slot's memory;
//       2. the decoder launches its kernels writing the target on info.cuda_stream (never
//          synchronise: the present overlaps them);
//       3. present(): enqueues on info.cuda_stream a signal of this frame's number, and submits the
//          Vulkan work, which waits for that signal, copies the buffer into an image (BufferCopy)
//          or takes the image over from CUDA (ImageSurface), blits the frame, and signals back
//          when it is done with the memory.
//     No host copies (host_uploads stays 0). The stream must outlive the presenter.
//
// The frame is letterboxed into the window (or the headless output), aspect ratio kept. Windowed
// mode uses SDL2 + a Vulkan swapchain; headless mode needs no window or X server and read_frame()
// returns the composed RGBA pixels. With `overlay` on, the ImGui panel is drawn on top (see
// overlay.h). Called by the frame loop's "present" stage, `worldloop view`
// and tests. Not thread-safe: poll, begin and present from one thread.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "render/overlay.h"
#include "sim/frame_types.h"

struct CUstream_st;

namespace wl {

using cudaStream_t = CUstream_st*;   // identical to CUDA's own typedef (kernels/pack_rgba8.h has the same)

// Where the engine's frames live before Vulkan reads them.
enum class FramePath {
  HostStaging,   // a host-visible buffer per frame in flight, uploaded each frame
  CudaInterop,   // device memory shared with CUDA, ordered by timeline semaphores (see above)
};

// On the CUDA path, the memory CUDA writes each frame into.
enum class CudaFrameMemory {
  None,           // not on the CUDA path
  BufferCopy,     // the fallback: a VkBuffer's memory, copied into an image each frame (one device copy)
  ImageSurface,   // the default: an optimal-tiled VkImage as a CUDA surface, blitted from directly (no copy)
};

// How the frame is sampled when it is scaled to the output.
enum class Filter {
  Nearest,   // blocky, exact at integer scales
  Linear,    // smooth
};

// How presented frames meet the display refresh (windowed mode).
enum class PresentMode {
  Fifo,        // vsync, always offered (the default)
  Mailbox,     // vsync without blocking, newest frame wins; Fifo when not offered
  Immediate,   // no vsync, may tear; Fifo when not offered
};

struct PresenterInfo {
  bool headless = false;               // render offscreen: no SDL, no window, no X server
  int frame_width = 640;               // size of the FrameTarget the engine writes, in pixels
  int frame_height = 360;
  int output_width = 1280;             // initial window client size, or the headless output size
  int output_height = 720;
  const char* title = "worldloop";     // window title
  bool resizable = true;               // the user may resize the window
  Filter filter = Filter::Linear;      // sampling when the frame is scaled
  PresentMode present_mode = PresentMode::Fifo;
  int frames_in_flight = 2;            // frames the CPU may record ahead of the GPU, 1-4
  std::array<float, 4> clear_color = {0.f, 0.f, 0.f, 1.f};   // letterbox bars, RGBA in [0, 1]
  bool validation = false;             // Vulkan validation layers; messages are logged and counted
  bool overlay = false;                // draw the ImGui control overlay over the frame
  OverlayInfo overlay_info;            // its start-up options (state policy names, ...)
  // CUDA builds: share frame memory with the calling thread's current CUDA device when a Vulkan
  // device has its UUID (else, or when false, the host staging path is used).
  bool cuda_frames = true;
  // CUDA interop path: the stream the decoder writes the FrameTarget on (nullptr: the default
  // stream). The presenter enqueues its waits and signals there; it must outlive the presenter.
  cudaStream_t cuda_stream = nullptr;
  // CUDA interop path: write frames into an optimal-tiled VkImage through a CUDA surface object
  // (FrameTarget::cuda_surface) and blit from it (no device copy), where the device can share one
  // (exact on an NVIDIA H200, docs/render.md, "Image surface path"); false: an exported buffer and
  // one buffer -> image copy per frame.
  bool cuda_image_surface = true;
};

// Counters since the presenter was made.
struct PresenterStats {
  int64_t frames_presented = 0;        // present() calls that returned Presented
  int64_t frames_stale = 0;            // present() calls that returned SwapchainStale
  int64_t swapchain_recreations = 0;
  int64_t host_uploads = 0;            // staging-buffer -> image copies (one per frame on the host path)
  int64_t device_copies = 0;           // shared-buffer -> image copies (CUDA path: 1 per frame with
                                       // BufferCopy, the default; 0 with ImageSurface)
  FramePath frame_path = FramePath::HostStaging;
  std::string frame_path_note;         // why the CUDA path is not in use ("" when it is)
  CudaFrameMemory cuda_frame_memory = CudaFrameMemory::None;   // CUDA path: what CUDA writes into
  std::string cuda_frame_memory_note;  // BufferCopy: why not an image surface (not asked for, or what
                                       // the device lacks); "" otherwise
  int64_t frame_row_pitch = 0;         // bytes between rows of the FrameTarget begin_frame() returns
                                       // (0 with ImageSurface: the target is a surface, not rows)
  int validation_messages = 0;         // warnings and errors from the validation layers
  std::string device_name;             // the Vulkan device in use
};

class Presenter {
 public:
  explicit Presenter(const PresenterInfo& info);   // throws wl::Error
  ~Presenter();                                      // waits for the GPU, then frees in reverse order
  Presenter(const Presenter&) = delete;
  Presenter& operator=(const Presenter&) = delete;

  // Drains window events into a snapshot (headless: an empty one, focused).
  InputSnapshot poll_input();
  // Waits until this frame slot's previous use is done and returns where to write the next frame.
  FrameTarget begin_frame();
  // Uploads the target, letterboxes it, and presents (or renders offscreen). Expected conditions
  // come back as values: SwapchainStale when the window changed (the swapchain was recreated and
  // this frame may not have been shown), Closed once the user closed the window.
  FrameStatus present();
  // Headless: copies the most recently presented output, RGBA8 rows of output_width * 4 bytes, into
  // `rgba` (resized to fit). False before the first present. Waits for that frame's GPU work.
  bool read_frame(std::vector<uint8_t>& rgba, int& width, int& height);

  PresenterStats stats() const;
  // The control overlay (settings, commands, the numbers it shows); nullptr unless info.overlay.
  Overlay* overlay();
  // Windowed: resizes the window's client area (tests use it; users drag the frame).
  void set_window_size(int width, int height);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace wl
