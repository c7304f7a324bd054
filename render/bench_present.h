// bench_present: what presenting costs per frame, for `worldloop bench` (tables and JSON there;
// tests never assert on time). Headless: begin_frame -> write the target -> present, N times, at a
// given frame size and output size, through whichever frame path the build and machine give
// (host staging, or CUDA interop where a CUDA device has a Vulkan twin).
//
//   PresentBenchResult r = bench_present({.frame_width = 640, .frame_height = 360});
//   // r.ms_per_frame, r.host_uploads_per_frame (1 on the host path, 0 on the CUDA path),
//   // r.device_copies_per_frame (1 on the CUDA path's default buffer + copy, 0 with the image
//   // surface)
#pragma once

#include <cstdint>
#include <string>

#include "render/presenter.h"

namespace wl {

struct PresentBenchInfo {
  int frame_width = 640;        // FrameTarget size the engine writes
  int frame_height = 360;
  int output_width = 1280;      // headless output it is letterboxed into
  int output_height = 720;
  int frames = 300;             // timed frames
  int warmup = 20;              // untimed frames first (pipeline start, first-use costs)
  int frames_in_flight = 2;
  Filter filter = Filter::Linear;
  bool overlay = false;         // also draw the ImGui overlay
  bool write_frames = true;     // fill the target each frame as a decoder would: host memset, or
                                // on the CUDA path fill_frame_cuda (cudaMemset2DAsync at the row
                                // pitch, or a kernel writing the surface: no copy either way);
                                // false measures present alone
  bool cuda_frames = true;      // allow the CUDA interop path (CUDA builds)
  bool cuda_image_surface = true;  // CUDA path: the image surface, no device copy (PresenterInfo's
                                    // field; false: the exported buffer + one device copy)
};

struct PresentBenchResult {
  double ms_per_frame = 0.0;            // wall time per frame, steady state, including the final drain
  double host_uploads_per_frame = 0.0;  // staging -> image copies per frame
  double device_copies_per_frame = 0.0; // shared buffer -> image copies per frame (CUDA path: 1 with
                                        // BufferCopy, the default; 0 with ImageSurface)
  int frames = 0;
  FramePath frame_path = FramePath::HostStaging;
  std::string frame_path_note;          // why not the CUDA path, when not
  CudaFrameMemory cuda_frame_memory = CudaFrameMemory::None;   // CUDA path: buffer + copy or image surface
  std::string cuda_frame_memory_note;   // BufferCopy: why not an image surface (PresenterStats' field)
  std::string device_name;              // the Vulkan device
};

// Throws wl::Error when no Vulkan device can be made (as the Presenter does).
PresentBenchResult bench_present(const PresentBenchInfo& info);

}  // namespace wl
