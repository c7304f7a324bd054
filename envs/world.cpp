// The world factory, frame checksums, sticky random actions and the per-world benchmark
// (see world.h).
#include "envs/world.h"

#include <algorithm>
#include <chrono>

#include "envs/driving_world.h"
#include "envs/rng.h"
#include "envs/robot_world.h"
#include "envs/voxel_world.h"
#include "kernels/core/error.h"

namespace wl {

const std::vector<std::string>& world_names() {
  static const std::vector<std::string> kNames = {"voxel", "driving", "robot"};
  return kNames;
}

std::unique_ptr<World> make_world(const std::string& name, const WorldConfig& config) {
  WL_CHECK(config.width >= 16 && config.width <= 1024 && config.height >= 16 && config.height <= 1024,
           "world frame size ", config.width, "x", config.height, " is outside 16..1024 per side; hint: the default is 128x128");
  if (name == "voxel") return std::make_unique<VoxelWorld>(config);
  if (name == "driving") return std::make_unique<DrivingWorld>(config);
  if (name == "robot") return std::make_unique<RobotWorld>(config);
  std::string known;
  for (const auto& n : world_names()) known += (known.empty() ? "" : ", ") + n;
  WL_FAIL("unknown world '", name, "'; hint: the worlds are ", known);
}

uint64_t fnv1a(std::span<const uint8_t> bytes, uint64_t hash) {
  for (uint8_t b : bytes) hash = (hash ^ b) * 0x100000001b3ull;
  return hash;
}

StickyRandomActions::StickyRandomActions(ActionSpec spec, uint64_t seed)
    : spec_(std::move(spec)), rng_(seed), current_(spec_.width()), hold_(spec_.width(), 0) {}

const std::vector<float>& StickyRandomActions::next() {
  for (int a = 0; a < spec_.width(); ++a) {
    if (hold_[a]-- > 0) continue;
    const ActionDim& dim = spec_.dims[a];
    hold_[a] = 2 + rng_.below(12);
    if (dim.kind == ActionKind::Binary) {
      current_[a] = rng_.uniform() < 0.25f ? 1.f : 0.f;
    } else if (dim.kind == ActionKind::Discrete) {
      // Mostly the middle class (a camera's null bin), otherwise any class.
      float mid = std::round((dim.min + dim.max) * 0.5f);
      current_[a] = rng_.uniform() < 0.6f ? mid : dim.min + static_cast<float>(rng_.below(static_cast<int>(dim.max - dim.min) + 1));
    } else {
      current_[a] = rng_.uniform(dim.min, dim.max);
    }
  }
  return current_;
}

ActionTensor sticky_random_actions(const ActionSpec& spec, int frames, uint64_t seed) {
  StickyRandomActions stream(spec, seed);
  ActionTensor actions{frames, spec.width(), std::vector<float>(static_cast<size_t>(frames) * spec.width())};
  for (int t = 0; t < frames; ++t) std::copy_n(stream.next().begin(), spec.width(), actions.row(t));
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
