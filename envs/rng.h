// Deterministic randomness for the simulators: a SplitMix64 stream (kernels/core/hash.h) and
// stateless integer hashes.
// Everything a world generates (terrain, traffic, block colours) comes from these, seeded by
// reset(seed), so the same seed gives the same world on every machine: no std:: distributions
// (their output is implementation-defined) and no global state. Header-only; used by envs/*_world.cpp.
#pragma once

#include <cstdint>

#include "kernels/core/hash.h"

namespace wl {

// Hash of a seed and up to three integer coordinates (a lattice point, a block, a texel).
inline uint64_t hash_coords(uint64_t seed, int32_t a, int32_t b = 0, int32_t c = 0) {
  uint64_t h = splitmix64(seed ^ (static_cast<uint64_t>(static_cast<uint32_t>(a)) * 0x8CB92BA72F3D8DD7ull));
  h = splitmix64(h ^ (static_cast<uint64_t>(static_cast<uint32_t>(b)) * 0xD6E8FEB86659FD93ull));
  return splitmix64(h ^ (static_cast<uint64_t>(static_cast<uint32_t>(c)) * 0xA0761D6478BD642Full));
}

// A hash mapped to [0, 1) with 24 bits, exactly representable as a float.
inline float hash01(uint64_t h) { return static_cast<float>(h >> 40) * (1.0f / 16777216.0f); }

// A sequential stream for things drawn in order (cars, blocks, policy choices).
class Rng {
 public:
  explicit Rng(uint64_t seed = 0) : state_(seed) {}
  uint64_t next() { return splitmix64(state_++); }
  float uniform() { return hash01(next()); }                          // [0, 1)
  float uniform(float lo, float hi) { return lo + (hi - lo) * uniform(); }
  int below(int n) { return static_cast<int>(next() % static_cast<uint64_t>(n)); }  // [0, n)

 private:
  uint64_t state_;
};

}  // namespace wl
