// The "actions" arrow of the frame loop (sim/loop.h): where one action vector [A] per displayed
// frame comes from (the person through the world's bindings, or a scripted player), and how many
// frames' actions become one latent frame's row of the next block's ActionTensor [T, A]
// (aggregate_actions, ActionAggregator; the policy is in loop.h's [SECTION] Pipelining policy).
// Callers: sim/loop.cpp (display thread), `worldloop play`, bench, tests.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "envs/action_spec.h"
#include "sim/frame_types.h"

namespace wl {

struct Bindings;

// One action vector [A] per displayed frame: from the person (InputMapper) or a script.
class ActionSource {
 public:
  virtual ~ActionSource() = default;
  virtual std::vector<float> next(const InputSnapshot& input) = 0;
  virtual void reset(uint64_t seed) = 0;
  virtual std::string name() const = 0;
};
// The person at the keys, through the world's bindings.
std::unique_ptr<ActionSource> make_input_actions(const Bindings& bindings);
// "sticky_random" (any world), or a world's scripted policy ("explore", "lane_keep", "pick_place"),
// which plays the ground-truth simulator in lockstep (one step per displayed frame) and hands its
// actions to the model. Throws wl::Error naming the known policies.
std::unique_ptr<ActionSource> make_scripted_actions(const std::string& policy, const std::string& world, uint64_t seed);

// [SECTION] input -> actions (the "actions" arrow)

// Many displayed frames' actions -> one latent frame's row, per the kind of each dimension:
// Binary: 1 if pressed in any frame (taps survive); Continuous: the mean; Discrete: the value
// farthest from the range's centre (the camera's null bin), latest on ties, so a flick survives.
std::vector<float> aggregate_actions(const ActionSpec& spec, std::span<const std::vector<float>> frames);

// Collects one action per displayed frame and hands out [T, A] blocks (see the policy above).
class ActionAggregator {
 public:
  explicit ActionAggregator(ActionSpec spec);
  void add(std::vector<float> action, double time_s);
  // T rows from everything added since the last take; the last row held when nothing was added.
  ActionTensor take(int latent_frames);
  // Time of the earliest change of action among what the last take() used; < 0 if none.
  double last_event_time() const { return last_event_; }
  int pending() const { return static_cast<int>(frames_.size()); }
  void reset();

 private:
  ActionSpec spec_;
  std::vector<std::vector<float>> frames_;
  std::vector<float> previous_, held_;
  double event_ = -1.0, last_event_ = -1.0;
};

}  // namespace wl
