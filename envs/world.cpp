// The world factory, frame checksums, sticky random actions and the per-world benchmark
// (see world.h).
#include "envs/world.h"

#include <algorithm>
#include <chrono>

#include "envs/driving_world.h"
#include "envs/rng.h"
#include "envs/voxel_world.h"
#include "kernels/core/error.h"

namespace wl {

const std::vector<std::string>& world_names() {
  static const std::vector<std::string> kNames = {"voxel", "driving"};
  return kNames;
}

std::unique_ptr<World> make_world(const std::string& name, const WorldConfig& config) {
  WL_CHECK(config.width >= 16 && config.width <= 1024 && config.height >= 16 && config.height <= 1024,
           "world frame size ", config.width, "x", config.height, " is outside 16..1024 per side; hint: the default is 128x128");
  if (name == "voxel") return std::make_unique<VoxelWorld>(config);
  if (name == "driving") return std::make_unique<DrivingWorld>(config);
  std::string known;
  for (const auto& n : world_names()) known += (known.empty() ? "" : ", ") + n;
  WL_FAIL("unknown world '", name, "'; hint: the worlds are ", known);
}

uint64_t fnv1a(std::span<const uint8_t> bytes, uint64_t hash) {
  for (uint8_t b : bytes) hash = (hash ^ b) * 0x100000001b3ull;
  return hash;
}

ActionTensor sticky_random_actions(const ActionSpec& spec, int frames, uint64_t seed) {
  Rng rng(seed);
  ActionTensor actions{frames, spec.width(), std::vector<float>(static_cast<size_t>(frames) * spec.width())};
  std::vector<float> current(spec.width());
  std::vector<int> hold(spec.width(), 0);
  for (int t = 0; t < frames; ++t) {
    for (int a = 0; a < spec.width(); ++a) {
      if (hold[a]-- > 0) continue;
      const ActionDim& dim = spec.dims[a];
      hold[a] = 2 + rng.below(12);
      if (dim.kind == ActionKind::Binary) {
        current[a] = rng.uniform() < 0.25f ? 1.f : 0.f;
      } else if (dim.kind == ActionKind::Discrete) {
        // Mostly the middle class (a camera's null bin), otherwise any class.
        float mid = std::round((dim.min + dim.max) * 0.5f);
        current[a] = rng.uniform() < 0.6f ? mid : dim.min + static_cast<float>(rng.below(static_cast<int>(dim.max - dim.min) + 1));
      } else {
        current[a] = rng.uniform(dim.min, dim.max);
      }
    }
    std::copy(current.begin(), current.end(), actions.row(t));
  }
  return actions;
}

WorldBench bench_world(const std::string& name, int frames, const WorldConfig& config, uint64_t seed) {
  WL_CHECK(frames > 0, "bench_world needs at least one frame, got ", frames);
  std::unique_ptr<World> world = make_world(name, config);
  ActionTensor actions = sticky_random_actions(world->action_spec(), frames, seed);
  world->reset(seed);
  auto start = std::chrono::steady_clock::now();
  for (int t = 0; t < frames; ++t)
    world->step({actions.row(t), static_cast<size_t>(actions.dims)});
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return {name, config.width, config.height, frames, seconds, frames / std::max(seconds, 1e-9)};
}

}  // namespace wl
