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

}  // namespace wl
