// Test patterns for the render tests: a pattern whose every pixel differs from its neighbours, so
// that a shift, flip, swizzle or wrong scale shows up, and a pixel comparison that reports the
// first mismatches with their coordinates.
#pragma once

#include <gtest/gtest.h>
#include <vulkan/vulkan.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "sim/frame_types.h"

namespace wl {

// Whether the Khronos validation layer is installed. CI and development machines have it
// (tools/setup.sh installs vulkan-validationlayers); the GPU machine has only the loader unless
// the layer is carried there, and its tests then run without validation.
inline bool validation_layer_installed() {
  uint32_t count = 0;
  vkEnumerateInstanceLayerProperties(&count, nullptr);
  std::vector<VkLayerProperties> layers(count);
  vkEnumerateInstanceLayerProperties(&count, layers.data());
  for (const VkLayerProperties& layer : layers)
    if (std::strcmp(layer.layerName, "VK_LAYER_KHRONOS_validation") == 0) return true;
  return false;
}

struct Rgba {
  uint8_t r = 0, g = 0, b = 0, a = 255;
};

// Distinct neighbours in all three channels; `seed` shifts the whole pattern.
inline Rgba pattern_pixel(int x, int y, int seed) {
  return Rgba{static_cast<uint8_t>(x * 7 + seed * 13), static_cast<uint8_t>(y * 11 + seed * 5),
              static_cast<uint8_t>((x * 3) ^ (y * 5) ^ (seed * 29)), 255};
}

inline void write_pattern(const FrameTarget& target, int seed) {
  for (int y = 0; y < target.height; ++y) {
    uint8_t* row = target.pixels + y * target.row_pitch;
    for (int x = 0; x < target.width; ++x) {
      Rgba p = pattern_pixel(x, y, seed);
      row[4 * x + 0] = p.r;
      row[4 * x + 1] = p.g;
      row[4 * x + 2] = p.b;
      row[4 * x + 3] = p.a;
    }
  }
}

// 1 when the RGB of pixel (x, y) of a tightly packed RGBA image is off by more than `tolerance`
// (alpha is not compared: screenshots have none). The first few mismatches are printed.
inline int expect_pixel(const std::vector<uint8_t>& rgba, int width, int x, int y, Rgba want, int tolerance,
                        int mismatches_so_far) {
  const uint8_t* p = rgba.data() + (static_cast<size_t>(y) * width + x) * 4;
  auto off = [&](uint8_t got, uint8_t expected) { return std::abs(int{got} - int{expected}) > tolerance; };
  if (!off(p[0], want.r) && !off(p[1], want.g) && !off(p[2], want.b)) return 0;
  if (mismatches_so_far < 8)
    ADD_FAILURE() << "pixel (" << x << ", " << y << "): got " << int{p[0]} << "," << int{p[1]} << "," << int{p[2]}
                  << " want " << int{want.r} << "," << int{want.g} << "," << int{want.b};
  return 1;
}

}  // namespace wl
