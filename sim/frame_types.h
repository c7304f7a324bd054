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

// Where a decoder writes one displayed frame: RGBA8, row-major, `row_pitch` bytes between rows.
// On CUDA builds `pixels` is device memory imported from Vulkan (see render/), else host memory.
struct FrameTarget {
  uint8_t* pixels = nullptr;   // [height, row_pitch] bytes, 4 per pixel
  int width = 0;
  int height = 0;
  int64_t row_pitch = 0;       // bytes, >= 4 * width
  bool on_device = false;      // true: CUDA device pointer, write on the model's stream
};

// What presenting a frame came to. Expected conditions are values, never exceptions.
enum class FrameStatus {
  Presented,       // on screen (or read back, headless)
  SwapchainStale,  // window resized or minimised: swapchain recreated, frame skipped
  Dropped,         // no free frame in flight; counted, never silent
  Closed,          // the user closed the window
};

}  // namespace wl
