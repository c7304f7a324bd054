// bf16 <-> float bit conversions for tests that build bf16 inputs on the host (as CUDA's
// __float2bfloat16: round to nearest even, NaN to the canonical quiet NaN).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

namespace wl::test {

inline uint16_t to_bf16_bits(float v) {
  uint32_t u;
  std::memcpy(&u, &v, 4);
  if (std::isnan(v)) return 0x7FC0;
  u += 0x7FFF + ((u >> 16) & 1);
  return static_cast<uint16_t>(u >> 16);
}

inline float from_bf16_bits(uint16_t b) {
  uint32_t u = uint32_t(b) << 16;
  float v;
  std::memcpy(&v, &u, 4);
  return v;
}

}  // namespace wl::test
