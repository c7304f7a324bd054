// World: the interface every procedural ground-truth simulator implements (voxel, driving, robot).
// reset(seed) builds a fresh episode; step(action [A]) advances one frame (20 Hz) and renders it as
// RGB8 [H, W, 3]. Same seed and actions give byte-identical frames. Also: the factory, an FNV-1a
// frame checksum (goldens, dataset manifests) and bench_world(), which `worldloop bench` prints.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "envs/action_spec.h"
#include "envs/rng.h"

namespace wl {

// One rendered frame, row-major RGB8.
struct Frame {
  int height = 0;             // H
  int width = 0;              // W
  std::vector<uint8_t> rgb;   // H * W * 3 bytes
};

struct WorldConfig {
  int width = 128;            // frame width in pixels, 16..1024
  int height = 128;           // frame height in pixels, 16..1024
};

class World {
 public:
  virtual ~World() = default;
  virtual const ActionSpec& action_spec() const = 0;
  // Starts a new episode from `seed` and returns its first frame.
  virtual const Frame& reset(uint64_t seed) = 0;
  // Advances one frame (1/20 s). `action` must have the spec's width (wl::Error otherwise); values
  // outside a dimension's range are clamped, so a model's raw output can drive the world.
  virtual const Frame& step(std::span<const float> action) = 0;
  virtual const Frame& frame() const = 0;  // the latest frame
  // An independent copy in the same state: stepping either leaves the other as it was (training
  // plays one state on with two different actions).
  virtual std::unique_ptr<World> clone() const = 0;
  // Which surface each pixel of the latest frame shows ([H * W], row-major; -1: sky, the overlay or
  // nothing, which the camera's pose alone determines), for worlds that can tell; empty otherwise.
  // eval splits its fidelity by it into content the context frames showed and content they did not.
  virtual std::span<const int32_t> surface_ids() const { return {}; }
};

// "voxel", "driving" or "robot"; wl::Error naming the known worlds otherwise, or for a bad config.
std::unique_ptr<World> make_world(const std::string& name, const WorldConfig& config = {});
const std::vector<std::string>& world_names();

// FNV-1a 64 over bytes; chain calls by passing the previous hash.
inline constexpr uint64_t kFnvOffset = 0xcbf29ce484222325ull;
uint64_t fnv1a(std::span<const uint8_t> bytes, uint64_t hash = kFnvOffset);

// `frames` sticky random actions for a spec: each dimension keeps its value for a few frames, then
// redraws (binary dims are mostly off, camera bins mostly null), deterministic by seed. Drives the
// benchmark and the golden tests so that every part of a world moves.
ActionTensor sticky_random_actions(const ActionSpec& spec, int frames, uint64_t seed);

// The same stream one frame at a time (the "sticky_random" policy): next() gives row t of
// sticky_random_actions(spec, frames, seed) on its t-th call.
class StickyRandomActions {
 public:
  StickyRandomActions(ActionSpec spec, uint64_t seed);
  const std::vector<float>& next();

 private:
  ActionSpec spec_;
  Rng rng_;
  std::vector<float> current_;
  std::vector<int> hold_;
};

struct WorldBench {
  std::string world;
  int width = 0, height = 0;
  int frames = 0;
  double seconds = 0.0;       // wall time of the steps alone (reset excluded)
  double frames_per_s = 0.0;  // on one core: the worlds are single-threaded
};
// Resets `name` with `seed` and times `frames` steps of sticky random actions.
WorldBench bench_world(const std::string& name, int frames, const WorldConfig& config = {}, uint64_t seed = 1);

}  // namespace wl
