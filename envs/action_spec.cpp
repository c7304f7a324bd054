// ActionSpec lookups and validation (see action_spec.h).
#include "envs/action_spec.h"

#include <cmath>

#include "envs/vpt_actions.h"
#include "kernels/core/error.h"

namespace wl {

int ActionSpec::index(const std::string& name) const {
  for (int i = 0; i < width(); ++i)
    if (dims[i].name == name) return i;
  return -1;
}

void ActionSpec::validate(const ActionTensor& actions) const {
  WL_CHECK(actions.dims == width(), "world '", world, "' expects ", width(), " action dims per frame, got ",
           actions.dims);
  WL_CHECK(actions.values.size() == static_cast<size_t>(actions.frames) * actions.dims, "action tensor of ",
           actions.frames, " frames x ", actions.dims, " dims holds ", actions.values.size(), " values");
  for (int t = 0; t < actions.frames; ++t) {
    const float* row = actions.row(t);
    for (int a = 0; a < width(); ++a) {
      const ActionDim& dim = dims[a];
      float v = row[a];
      bool ok = std::isfinite(v) && v >= dim.min && v <= dim.max;
      if (dim.kind != ActionKind::Continuous) ok = ok && v == std::round(v);
      WL_CHECK(ok, "world '", world, "', frame ", t, ": action '", dim.name, "' = ", v, " is outside ",
               dim.kind == ActionKind::Continuous ? "the range [" : "the integer range [", dim.min, ", ", dim.max, "]");
    }
  }
}

ActionSpec driving_action_spec() {
  return {"driving",
          {{"steer", ActionKind::Continuous, -1.f, 1.f, {}},
           {"throttle", ActionKind::Continuous, 0.f, 1.f, {}},
           {"brake", ActionKind::Continuous, 0.f, 1.f, {}}}};
}

ActionSpec robot_action_spec() {
  ActionSpec spec{"robot", {}};
  for (const char* name : {"dx", "dy", "dz", "droll", "dpitch", "dyaw"})
    spec.dims.push_back({name, ActionKind::Continuous, -1.f, 1.f, {}});
  spec.dims.push_back({"gripper", ActionKind::Continuous, 0.f, 1.f, {}});
  return spec;
}

ActionSpec action_spec_for(const std::string& world) {
  if (world == "voxel") return vpt_action_spec();
  if (world == "driving") return driving_action_spec();
  if (world == "robot") return robot_action_spec();
  WL_FAIL("unknown world '", world, "'; hint: the worlds are voxel, driving and robot");
}

}  // namespace wl
