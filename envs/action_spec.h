// ActionSpec: what one frame's action vector of a world means, dimension by dimension (name,
// kind, range, labels). Worlds publish one; the model checks its action width against it; the
// overlay's action HUD and the action logs use its names. Shapes: one action vector is [A].
#pragma once

#include <string>
#include <vector>

#include "sim/frame_types.h"

namespace wl {

enum class ActionKind {
  Binary,      // 0 or 1 (a button)
  Discrete,    // an integer class in [min, max] (a quantised camera bin)
  Continuous,  // a real number in [min, max]
};

struct ActionDim {
  std::string name;                // "forward", "camera_pitch", "steer"
  ActionKind kind = ActionKind::Binary;
  float min = 0.f;                 // inclusive range
  float max = 1.f;
  std::vector<std::string> labels; // optional, one per discrete value (HUD text)
};

struct ActionSpec {
  std::string world;               // "voxel", "driving", "robot"
  std::vector<ActionDim> dims;     // A entries

  int width() const { return static_cast<int>(dims.size()); }
  // Index of the dimension called `name`, or -1.
  int index(const std::string& name) const;
  // Throws wl::Error naming the frame, the dimension and the bad value when `actions` does not fit
  // this spec (wrong width, a value out of range, a non-integer discrete value, NaN).
  void validate(const ActionTensor& actions) const;
};

// [SECTION] The driving and robot action spaces (the voxel one is VPT's, in envs/vpt_actions.h).

// Driving, [A = 3], CARLA's convention: steer in [-1, 1] (+ turns right), throttle and brake in [0, 1].
inline constexpr int kDrivingSteer = 0, kDrivingThrottle = 1, kDrivingBrake = 2, kDrivingActionDims = 3;
ActionSpec driving_action_spec();

// Robot head-cam, [A = 7], the Bridge / Cosmos action-conditioned convention: a delta of the gripper
// pose in the gripper frame (x forward, y left, z up; roll, pitch, yaw), each in [-1, 1] as a fraction
// of the world's largest step per frame, then the gripper: 1 open, 0 closed.
inline constexpr int kRobotDx = 0, kRobotDy = 1, kRobotDz = 2, kRobotDroll = 3, kRobotDpitch = 4, kRobotDyaw = 5,
                     kRobotGripper = 6, kRobotActionDims = 7;
ActionSpec robot_action_spec();

// The spec of a world by name ("voxel", "driving", "robot"); throws wl::Error naming the known ones.
ActionSpec action_spec_for(const std::string& world);

}  // namespace wl
