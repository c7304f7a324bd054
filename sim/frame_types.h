// The plain types that cross between the engine's parts: one per arrow of the frame loop
//   poll input -> actions -> denoise block -> commit state -> decode -> present -> record
// InputSnapshot (render -> envs/sim), ActionTensor (envs -> model), LatentBlock (model -> decoder),
// FrameTarget (decoder -> render), FrameStatus (render -> sim).
// model/ and render/ meet only here: nothing in this header may include torch, Vulkan, SDL or CUDA.
#pragma once

#include <array>
#include <bitset>
#include <cstdint>
#include <vector>

namespace wl {

// What the person at the controls is doing, sampled once per displayed frame.
struct InputSnapshot {
  static constexpr int kKeyCount = 512;   // USB HID usage ids (equal to SDL scancodes)
  static constexpr int kAxisCount = 6;    // left x/y, right x/y, left trigger, right trigger
  double time_s = 0.0;                    // when it was sampled, seconds on the loop's clock
  std::bitset<kKeyCount> keys;            // keys held down
  std::bitset<kKeyCount> keys_pressed;    // keys that went down since the last snapshot (no repeats)
  float mouse_dx = 0.f, mouse_dy = 0.f;   // relative motion in mouse counts since the last snapshot
  uint32_t mouse_buttons = 0;             // bit 0 left, 1 middle, 2 right, 3 x1, 4 x2
  float wheel = 0.f;                      // wheel ticks since the last snapshot (+ away from the user)
  std::array<float, kAxisCount> gamepad_axes{};  // sticks in [-1, 1], triggers in [0, 1]
  uint32_t gamepad_buttons = 0;           // one bit per SDL_GameControllerButton
  bool focused = true;                    // the window has keyboard focus (always true headless)
};

// Actions for T latent frames of one world, row-major [T, A] (A = the world's ActionSpec width).
struct ActionTensor {
  int frames = 0;              // T
  int dims = 0;                // A
  std::vector<float> values;   // T * A values
  float* row(int t) { return values.data() + static_cast<size_t>(t) * dims; }
  const float* row(int t) const { return values.data() + static_cast<size_t>(t) * dims; }
};

// Where a decoder writes one displayed frame: RGBA8 (R first), `width` x `height` pixels, in one of
// two kinds of memory:
//   pixels (cuda_surface == 0): row-major, `row_pitch` bytes between rows; host memory, or on CUDA
//     builds device memory imported from Vulkan (on_device, see render/);
//   cuda_surface: a CUDA surface object over an RGBA8 CUDA array (a Vulkan image imported into
//     CUDA); pixels is nullptr and row_pitch 0, and this target's pixel (x, y) is the surface's pixel
//     (surface_x + x, surface_y + y). Written only by CUDA kernels (surf2Dwrite, x in bytes).
// Writers that take any target go through kernels/pack_rgba8 (PackRGBA8Params::dst_surface).
struct FrameTarget {
  uint8_t* pixels = nullptr;   // [height, row_pitch] bytes, 4 per pixel; nullptr with cuda_surface
  int width = 0;
  int height = 0;
  int64_t row_pitch = 0;       // bytes, >= 4 * width; 0 with cuda_surface
  bool on_device = false;      // true: CUDA memory (pointer or surface), write on the model's stream
  uint64_t cuda_surface = 0;   // cudaSurfaceObject_t (never 0 when valid); 0: write through `pixels`
  int surface_x = 0;           // with cuda_surface: where this target's pixel (0, 0) lies in it
  int surface_y = 0;

  // The rectangle (x, y, w, h) of this target as a target of its own over the same memory; the
  // caller keeps it inside (0 <= x, x + w <= width, likewise y).
  FrameTarget region(int x, int y, int w, int h) const {
    FrameTarget out = *this;
    out.width = w;
    out.height = h;
    if (cuda_surface) {
      out.surface_x += x;
      out.surface_y += y;
    } else {
      out.pixels = pixels + static_cast<int64_t>(y) * row_pitch + 4LL * x;
    }
    return out;
  }
};

// What presenting a frame came to. Expected conditions are values, never exceptions.
enum class FrameStatus {
  Presented,       // on screen (or read back, headless)
  SwapchainStale,  // window resized or minimised: swapchain recreated, frame skipped
  Dropped,         // no free frame in flight; counted, never silent
  Closed,          // the user closed the window
};

}  // namespace wl
