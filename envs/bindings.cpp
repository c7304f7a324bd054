// Default bindings, the bindings-file parser and the snapshot -> action mapping (see bindings.h).
#include "envs/bindings.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "envs/vpt_actions.h"
#include "kernels/core/error.h"

namespace wl {
namespace {

using nlohmann::json;
using Source = InputId::Source;

// [SECTION] Input names. Letters and digits follow the HID usage table; the rest are listed.
struct NamedInput {
  const char* name;
  InputId input;
};
constexpr NamedInput kNamedInputs[] = {
    {"Enter", {Source::Key, 40}},       {"Escape", {Source::Key, 41}},     {"Backspace", {Source::Key, 42}},
    {"Tab", {Source::Key, 43}},         {"Space", {Source::Key, 44}},      {"Right", {Source::Key, 79}},
    {"Left", {Source::Key, 80}},        {"Down", {Source::Key, 81}},       {"Up", {Source::Key, 82}},
    {"LCtrl", {Source::Key, 224}},      {"LShift", {Source::Key, 225}},    {"LAlt", {Source::Key, 226}},
    {"RCtrl", {Source::Key, 228}},      {"RShift", {Source::Key, 229}},    {"RAlt", {Source::Key, 230}},
    {"MouseLeft", {Source::MouseButton, 0}},   {"MouseMiddle", {Source::MouseButton, 1}},
    {"MouseRight", {Source::MouseButton, 2}},  {"MouseX1", {Source::MouseButton, 3}},
    {"MouseX2", {Source::MouseButton, 4}},
};
constexpr int kHidA = 4, kHid1 = 30, kHid0 = 39;

// [SECTION] Controls per world, with their default inputs.
struct DefaultControl {
  const char* control;
  std::vector<const char*> inputs;
};

std::vector<DefaultControl> default_controls(const std::string& world) {
  if (world == "voxel") {
    std::vector<DefaultControl> controls = {
        {"attack", {"MouseLeft"}}, {"back", {"S"}},       {"forward", {"W"}},    {"jump", {"Space"}},
        {"left", {"A"}},           {"right", {"D"}},      {"sneak", {"LShift"}}, {"sprint", {"LCtrl"}},
        {"use", {"MouseRight"}},   {"drop", {"Q"}},       {"inventory", {"E"}},
    };
    static const char* kDigits[] = {"1", "2", "3", "4", "5", "6", "7", "8", "9"};
    for (int i = 0; i < 9; ++i) controls.push_back({kVptButtonNames[kHotbar1 + i].data(), {kDigits[i]}});
    // Arrow keys turn the camera too, so the world can be played without a mouse.
    for (auto [control, key] : {std::pair{"look_up", "Up"}, {"look_down", "Down"}, {"look_left", "Left"},
                                {"look_right", "Right"}})
      controls.push_back({control, {key}});
    return controls;
  }
  if (world == "driving")
    return {{"throttle", {"W", "Up"}}, {"brake", {"S", "Down", "Space"}}, {"steer_left", {"A", "Left"}},
            {"steer_right", {"D", "Right"}}};
  if (world == "robot")
    return {{"forward", {"W"}},      {"back", {"S"}},          {"left", {"A"}},           {"right", {"D"}},
            {"up", {"Space"}},       {"down", {"LShift"}},     {"roll_left", {"Q"}},      {"roll_right", {"E"}},
            {"pitch_up", {"Up"}},    {"pitch_down", {"Down"}}, {"yaw_left", {"Left"}},    {"yaw_right", {"Right"}},
            {"close_gripper", {"MouseLeft", "G"}}};
  WL_FAIL("unknown world '", world, "'; hint: the worlds are voxel, driving and robot");
}

int control_index(const Bindings& b, std::string_view control) {
  for (size_t i = 0; i < b.controls.size(); ++i)
    if (b.controls[i].control == control) return static_cast<int>(i);
  return -1;
}

std::string control_list(const Bindings& b) {
  std::string list;
  for (const auto& c : b.controls) list += (list.empty() ? "" : ", ") + c.control;
  return list;
}

// [SECTION] Tuning knobs by name, each with its valid range.
struct TuningField {
  const char* name;
  float InputTuning::*real;
  int InputTuning::*integer;
  double min, max;
};
const TuningField kTuningFields[] = {
    {"mouse_scale", &InputTuning::mouse_scale, nullptr, -100, 100},
    {"look_key_deg", &InputTuning::look_key_deg, nullptr, 0, 10},
    {"steer_rate", &InputTuning::steer_rate, nullptr, 0.01, 1000},
    {"steer_return_rate", &InputTuning::steer_return_rate, nullptr, 0.01, 1000},
    {"pedal_rate", &InputTuning::pedal_rate, nullptr, 0.01, 1000},
    {"gamepad_deadzone", &InputTuning::gamepad_deadzone, nullptr, 0, 0.9},
    {"steer_axis", nullptr, &InputTuning::steer_axis, 0, InputSnapshot::kAxisCount - 1},
    {"throttle_axis", nullptr, &InputTuning::throttle_axis, 0, InputSnapshot::kAxisCount - 1},
    {"brake_axis", nullptr, &InputTuning::brake_axis, 0, InputSnapshot::kAxisCount - 1},
    {"robot_mouse_scale", &InputTuning::robot_mouse_scale, nullptr, -10, 10},
    {"frame_dt_s", &InputTuning::frame_dt_s, nullptr, 0.001, 1},
};

void apply_section(Bindings& b, const json& section, const std::string& name) {
  std::string where = str(name, ": '", b.world, "'");
  WL_CHECK(section.is_object(), where, " should be an object with \"controls\" and/or \"tuning\", found ",
           section.type_name());
  for (const auto& [key, value] : section.items())
    WL_CHECK(key == "controls" || key == "tuning", where, " has an unknown field '", key,
             "'; hint: a world's section holds \"controls\" and \"tuning\"");
  if (auto it = section.find("controls"); it != section.end()) {
    WL_CHECK(it->is_object(), where, ".controls should be an object {control: [inputs]}, found ", it->type_name());
    for (const auto& [control, inputs] : it->items()) {
      int index = control_index(b, control);
      WL_CHECK(index >= 0, where, ".controls has an unknown control '", control, "'; hint: the controls are ",
               control_list(b));
      WL_CHECK(inputs.is_array(), where, ".controls.", control, " should be a list of input names like [\"W\"], found ",
               inputs.dump());
      std::vector<InputId> parsed;
      for (const json& input : inputs) {
        std::optional<InputId> id = input.is_string() ? parse_input_name(input.get<std::string>()) : std::nullopt;
        WL_CHECK(id.has_value(), where, ".controls.", control, ": unknown input ", input.dump(),
                 "; hint: use a letter or digit, Space, Enter, Escape, Tab, LShift, LCtrl, LAlt, Up/Down/Left/Right, "
                 "MouseLeft/MouseRight/MouseMiddle, or Key<HID id> such as Key58");
        parsed.push_back(*id);
      }
      b.controls[index].inputs = std::move(parsed);
    }
  }
  if (auto it = section.find("tuning"); it != section.end()) {
    WL_CHECK(it->is_object(), where, ".tuning should be an object {knob: number}, found ", it->type_name());
    for (const auto& [knob, value] : it->items()) {
      const TuningField* field = nullptr;
      for (const auto& f : kTuningFields)
        if (knob == f.name) field = &f;
      std::string knobs;
      for (const auto& f : kTuningFields) knobs += (knobs.empty() ? "" : ", ") + std::string(f.name);
      WL_CHECK(field, where, ".tuning has an unknown knob '", knob, "'; hint: the knobs are ", knobs);
      bool ok = value.is_number() && value.get<double>() >= field->min && value.get<double>() <= field->max &&
                (field->real || value.is_number_integer());
      WL_CHECK(ok, where, ".tuning.", knob, " = ", value.dump(), " is invalid; hint: expected ",
               field->real ? "a number" : "an integer", " in [", field->min, ", ", field->max, "]");
      if (field->real) b.tuning.*(field->real) = value.get<float>();
      else b.tuning.*(field->integer) = value.get<int>();
    }
  }
}

float toward(float value, float target, float max_step) {
  return value < target ? std::min(target, value + max_step) : std::max(target, value - max_step);
}

// Rescales |v| in [deadzone, 1] to [0, 1], so the output starts at zero just past the dead zone.
float dead_zoned(float v, float deadzone) {
  if (!std::isfinite(v) || std::abs(v) <= deadzone) return 0.f;
  float scaled = (std::abs(v) - deadzone) / (1.f - deadzone);
  return std::copysign(std::min(scaled, 1.f), v);
}

}  // namespace

std::optional<InputId> parse_input_name(std::string_view name) {
  if (name.size() == 1 && name[0] >= 'A' && name[0] <= 'Z') return InputId{Source::Key, kHidA + (name[0] - 'A')};
  if (name.size() == 1 && name[0] >= 'a' && name[0] <= 'z') return InputId{Source::Key, kHidA + (name[0] - 'a')};
  if (name.size() == 1 && name[0] >= '1' && name[0] <= '9') return InputId{Source::Key, kHid1 + (name[0] - '1')};
  if (name == "0") return InputId{Source::Key, kHid0};
  for (const auto& named : kNamedInputs)
    if (name == named.name) return named.input;
  if (name.size() > 3 && name.substr(0, 3) == "Key") {
    int code = 0;
    for (char c : name.substr(3)) {
      if (c < '0' || c > '9' || code > InputSnapshot::kKeyCount) return std::nullopt;
      code = code * 10 + (c - '0');
    }
    if (code < InputSnapshot::kKeyCount) return InputId{Source::Key, code};
  }
  return std::nullopt;
}

std::string input_name(InputId input) {
  for (const auto& named : kNamedInputs)
    if (named.input == input) return named.name;
  if (input.source == Source::Key && input.code >= kHidA && input.code < kHidA + 26)
    return std::string(1, static_cast<char>('A' + input.code - kHidA));
  if (input.source == Source::Key && input.code >= kHid1 && input.code < kHid0)
    return std::string(1, static_cast<char>('1' + input.code - kHid1));
  if (input.source == Source::Key && input.code == kHid0) return "0";
  return input.source == Source::Key ? str("Key", input.code) : str("MouseButton", input.code);
}

Bindings default_bindings(const std::string& world) {
  Bindings b{world, {}, {}};
  for (const DefaultControl& c : default_controls(world)) {
    ControlBinding binding{c.control, {}};
    for (const char* input : c.inputs) binding.inputs.push_back(*parse_input_name(input));
    b.controls.push_back(std::move(binding));
  }
  return b;
}

Bindings parse_bindings(const std::string& json_text, const std::string& name, const std::string& world) {
  Bindings b = default_bindings(world);
  json root;
  try {
    root = json::parse(json_text);
  } catch (const json::parse_error& e) {
    WL_FAIL("bindings file ", name, " is not valid JSON (byte ", e.byte, "); hint: ",
            "expected {\"voxel\": {\"controls\": {\"forward\": [\"W\"]}}}");
  }
  WL_CHECK(root.is_object(), "bindings file ", name, " should hold a JSON object keyed by world, found ",
           root.type_name());
  for (const auto& [section, value] : root.items())
    WL_CHECK(section == "voxel" || section == "driving" || section == "robot", "bindings file ", name,
             " has an unknown world section '", section, "'; hint: the sections are voxel, driving and robot");
  if (auto it = root.find(world); it != root.end()) apply_section(b, *it, name);
  return b;
}

Bindings load_bindings(const std::string& path, const std::string& world) {
  std::ifstream in(path);
  WL_CHECK(in.good(), "cannot open bindings file '", path, "'; hint: check the path, or leave it out for defaults");
  std::stringstream text;
  text << in.rdbuf();
  return parse_bindings(text.str(), path, world);
}

// [SECTION] Mapping.
InputMapper::InputMapper(Bindings bindings) : bindings_(std::move(bindings)), spec_(action_spec_for(bindings_.world)) {
  // The mapping functions look controls up by their fixed position, so the list must be complete.
  Bindings defaults = default_bindings(bindings_.world);
  WL_CHECK(bindings_.controls.size() == defaults.controls.size(), "bindings for '", bindings_.world, "' list ",
           bindings_.controls.size(), " controls, expected ", defaults.controls.size(),
           "; hint: start from default_bindings()");
  for (size_t i = 0; i < defaults.controls.size(); ++i)
    WL_CHECK(bindings_.controls[i].control == defaults.controls[i].control, "bindings for '", bindings_.world,
             "': control ", i, " is '", bindings_.controls[i].control, "', expected '", defaults.controls[i].control, "'");
}

void InputMapper::reset() { steer_ = throttle_ = brake_ = 0.f; }

bool InputMapper::held(int control, const InputSnapshot& input) const {
  for (InputId id : bindings_.controls[control].inputs) {
    if (id.source == Source::Key && id.code >= 0 && id.code < InputSnapshot::kKeyCount && input.keys[id.code]) return true;
    if (id.source == Source::MouseButton && id.code >= 0 && id.code < 32 && (input.mouse_buttons >> id.code & 1u))
      return true;
  }
  return false;
}

std::vector<float> InputMapper::map(const InputSnapshot& input) {
  if (bindings_.world == "voxel") return map_voxel(input);
  if (bindings_.world == "driving") return map_driving(input);
  return map_robot(input);
}

std::vector<float> InputMapper::map_voxel(const InputSnapshot& input) const {
  // Controls 0..19 are the VPT buttons in order, then look_up, look_down, look_left, look_right.
  VptAction action;
  for (int i = 0; i < kVptButtonCount; ++i) action.buttons[i] = held(i, input);
  const InputTuning& t = bindings_.tuning;
  auto key = [&](int offset) { return held(kVptButtonCount + offset, input) ? t.look_key_deg : 0.f; };
  float dx = std::isfinite(input.mouse_dx) ? input.mouse_dx : 0.f;
  float dy = std::isfinite(input.mouse_dy) ? input.mouse_dy : 0.f;
  action.camera_pitch_deg = dy * t.mouse_scale * kVptDegreesPerCount + key(1) - key(0);
  action.camera_yaw_deg = dx * t.mouse_scale * kVptDegreesPerCount + key(3) - key(2);
  return vpt_to_vector(action);  // cancels forward+back, left+right; quantises the camera
}

std::vector<float> InputMapper::map_driving(const InputSnapshot& input) {
  const InputTuning& t = bindings_.tuning;
  float pad_steer = dead_zoned(input.gamepad_axes[t.steer_axis], t.gamepad_deadzone);
  float pad_throttle = std::max(0.f, dead_zoned(input.gamepad_axes[t.throttle_axis], t.gamepad_deadzone));
  float pad_brake = std::max(0.f, dead_zoned(input.gamepad_axes[t.brake_axis], t.gamepad_deadzone));
  if (pad_steer != 0.f || pad_throttle != 0.f || pad_brake != 0.f) {
    // An analogue pad is already smooth; the keyboard state follows it so switching back is seamless.
    steer_ = pad_steer, throttle_ = pad_throttle, brake_ = pad_brake;
  } else {
    // Keys are all-or-nothing; ramping them avoids the jerky full-lock steering a model would learn.
    float dt = t.frame_dt_s;
    float target = (held(3, input) ? 1.f : 0.f) - (held(2, input) ? 1.f : 0.f);
    bool returning = target == 0.f || (steer_ != 0.f && (steer_ > 0.f) != (target > 0.f));
    steer_ = toward(steer_, target, (returning ? t.steer_return_rate : t.steer_rate) * dt);
    throttle_ = toward(throttle_, held(0, input) ? 1.f : 0.f, t.pedal_rate * dt);
    brake_ = toward(brake_, held(1, input) ? 1.f : 0.f, t.pedal_rate * dt);
  }
  std::vector<float> action(kDrivingActionDims);
  action[kDrivingSteer] = steer_;
  action[kDrivingThrottle] = throttle_;
  action[kDrivingBrake] = brake_;
  return action;
}

std::vector<float> InputMapper::map_robot(const InputSnapshot& input) const {
  // Controls: forward back left right up down roll_left roll_right pitch_up pitch_down yaw_left yaw_right
  // close_gripper. Pitch + tilts the gripper forward (down), yaw + turns it left (counter-clockwise).
  auto axis = [&](int plus, int minus) { return (held(plus, input) ? 1.f : 0.f) - (held(minus, input) ? 1.f : 0.f); };
  float scale = bindings_.tuning.robot_mouse_scale;
  float dx = std::isfinite(input.mouse_dx) ? input.mouse_dx : 0.f;
  float dy = std::isfinite(input.mouse_dy) ? input.mouse_dy : 0.f;
  std::vector<float> action(kRobotActionDims);
  action[kRobotDx] = axis(0, 1);
  action[kRobotDy] = axis(2, 3);
  action[kRobotDz] = axis(4, 5);
  action[kRobotDroll] = axis(7, 6);
  action[kRobotDpitch] = std::clamp(dy * scale + axis(9, 8), -1.f, 1.f);
  action[kRobotDyaw] = std::clamp(-dx * scale + axis(10, 11), -1.f, 1.f);
  action[kRobotGripper] = held(12, input) ? 0.f : 1.f;
  return action;
}

}  // namespace wl
