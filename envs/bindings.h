// Input bindings: how an InputSnapshot (keys, mouse, gamepad) becomes one frame's action vector [A]
// for a world. Each world has named controls ("forward", "steer_left", "close_gripper") bound to
// keys or mouse buttons, plus a few numeric tuning knobs; default_bindings() gives sensible ones and
// a JSON bindings file overrides them per world:
//   {"voxel": {"controls": {"forward": ["W", "Up"]}, "tuning": {"look_key_deg": 3}},
//    "driving": {...}, "robot": {...}}
// Callers: the frame loop's "actions" stage (InputMapper::map once per frame), play and dataset tools.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "envs/action_spec.h"
#include "sim/frame_types.h"

namespace wl {

// One physical input: a keyboard key (USB HID usage id = SDL scancode) or a mouse button (bit index
// of InputSnapshot::mouse_buttons).
struct InputId {
  enum class Source { Key, MouseButton };
  Source source = Source::Key;
  int code = 0;
  bool operator==(const InputId&) const = default;
};
// "W", "7", "Space", "LShift", "Up", "MouseLeft", or "Key<id>" for any other key; nullopt if unknown.
std::optional<InputId> parse_input_name(std::string_view name);
std::string input_name(InputId input);

struct ControlBinding {
  std::string control;          // a world's control name, e.g. "jump"
  std::vector<InputId> inputs;  // any of them held presses the control
};

struct InputTuning {
  float mouse_scale = 1.0f;         // voxel: mouse counts are multiplied by this before 360/2400 deg/count
  float look_key_deg = 2.0f;        // voxel: camera degrees per frame while a look_* key is held
  float steer_rate = 3.0f;          // driving: steer units per second toward a held steer key
  float steer_return_rate = 5.0f;   // driving: steer units per second back to centre with no steer key
  float pedal_rate = 4.0f;          // driving: throttle/brake units per second up (held) and down (released)
  float gamepad_deadzone = 0.12f;   // driving: sticks and triggers below this count as untouched
  int steer_axis = 0;               // driving: gamepad axis index for steering (left stick x)
  int throttle_axis = 5;            // driving: gamepad axis index for throttle (right trigger)
  int brake_axis = 4;               // driving: gamepad axis index for brake (left trigger)
  float robot_mouse_scale = 0.05f;  // robot: pitch/yaw action per mouse count (20 counts = a full step)
  float frame_dt_s = 0.05f;         // seconds per action frame, for the driving smoothing (worlds run at 20 Hz)
};

struct Bindings {
  std::string world;                     // "voxel", "driving" or "robot"
  std::vector<ControlBinding> controls;  // every control of the world, in a fixed order
  InputTuning tuning;
};

// Throws wl::Error for an unknown world.
Bindings default_bindings(const std::string& world);
// The defaults for `world`, overridden by that world's section of a bindings file. Any malformed
// content (bad JSON, unknown section, control, input name or tuning knob) is one wl::Error that
// names the file, the field and the value, with a hint.
Bindings load_bindings(const std::string& path, const std::string& world);
Bindings parse_bindings(const std::string& json_text, const std::string& name, const std::string& world);

// Maps snapshots to action vectors. Stateful only for driving (pedal and steer smoothing).
class InputMapper {
 public:
  explicit InputMapper(Bindings bindings);
  const ActionSpec& action_spec() const { return spec_; }
  // One frame: the action vector [A] of the world's ActionSpec.
  std::vector<float> map(const InputSnapshot& input);
  void reset();  // forgets the smoothing state (a new episode)

 private:
  bool held(int control, const InputSnapshot& input) const;
  std::vector<float> map_voxel(const InputSnapshot& input) const;
  std::vector<float> map_driving(const InputSnapshot& input);
  std::vector<float> map_robot(const InputSnapshot& input) const;

  Bindings bindings_;
  ActionSpec spec_;
  float steer_ = 0.f, throttle_ = 0.f, brake_ = 0.f;  // driving smoothing state
};

}  // namespace wl
