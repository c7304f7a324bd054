// splitmix64: the one 64-bit mixing function behind our counter-based random streams (the
// sampler's noise, training's per-step generators): mix(seed ^ counter) gives independent,
// reproducible numbers without carrying generator state. Header-only, like the rest of wl_core.
#pragma once

#include <cstdint>

namespace wl {

constexpr uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

}  // namespace wl
