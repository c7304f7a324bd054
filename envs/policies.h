// Scripted policies: who plays the ground-truth worlds when no person does (dataset export, headless
// play, tests). A policy looks at a world's state and returns the next action vector [A] of that
// world's ActionSpec. Deterministic: the same seed and world give the same actions. Per world one
// purposeful policy plus "sticky_random" for any world:
//   voxel   "explore":    walk and sprint about, look around, jump over one-block steps, turn at
//                         walls, water and the world's edge; now and then place a block and break one.
//   driving "lane_keep":  follow a lane at a target speed, slowing for bends and cars ahead; change
//                         lanes and target speeds from time to time when the lane is clear.
//   robot   "pick_place": pick a clear block and put it on top of another, again and again (towers).
// Callers: the dataset exporter, `worldloop play --ground-truth` without a person, tests.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "envs/world.h"

namespace wl {

class Policy {
 public:
  virtual ~Policy() = default;
  // Starts a new episode's decisions (call after the world's reset).
  virtual void reset(uint64_t seed) = 0;
  // The action for the next step of `world`, from its current state. wl::Error when the world is
  // not the kind the policy was made for.
  virtual std::vector<float> next(const World& world) = 0;
};

// `name` is "sticky_random" or the world's scripted policy ("explore", "lane_keep", "pick_place");
// wl::Error naming the world's known policies otherwise.
std::unique_ptr<Policy> make_policy(const std::string& name, const std::string& world);
// The policies of a world, the scripted one first.
std::vector<std::string> policy_names(const std::string& world);

}  // namespace wl
