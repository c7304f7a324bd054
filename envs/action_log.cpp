// Reading and writing VPT jsonl action logs (see action_log.h). Every field read from a file is
// type-checked before use, so a malformed line is one wl::Error naming the file, line and field.
#include "envs/action_log.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "kernels/core/error.h"

namespace wl {
namespace {

using nlohmann::json;

// VPT's KEYBOARD_BUTTON_MAPPING, restricted to the 20 buttons of the action space.
struct KeyName {
  const char* key;
  int button;
};
constexpr KeyName kKeyNames[] = {
    {"key.keyboard.s", kBack},           {"key.keyboard.q", kDrop},       {"key.keyboard.w", kForward},
    {"key.keyboard.1", kHotbar1 + 0},    {"key.keyboard.2", kHotbar1 + 1}, {"key.keyboard.3", kHotbar1 + 2},
    {"key.keyboard.4", kHotbar1 + 3},    {"key.keyboard.5", kHotbar1 + 4}, {"key.keyboard.6", kHotbar1 + 5},
    {"key.keyboard.7", kHotbar1 + 6},    {"key.keyboard.8", kHotbar1 + 7}, {"key.keyboard.9", kHotbar1 + 8},
    {"key.keyboard.e", kInventory},      {"key.keyboard.space", kJump},   {"key.keyboard.a", kLeft},
    {"key.keyboard.d", kRight},          {"key.keyboard.left.shift", kSneak},
    {"key.keyboard.left.control", kSprint},
};
constexpr int kMouseAttack = 0;  // VPT mouse button ids
constexpr int kMouseUse = 1;

[[noreturn]] void fail_line(const std::string& name, int line, const std::string& what) {
  WL_FAIL(name, ":", line, ": ", what,
          "; hint: each line must be a JSON object like {\"mouse\": {\"dx\": 0, \"dy\": 0, \"buttons\": []}, "
          "\"keyboard\": {\"keys\": []}}");
}

// Returns obj[key] after checking it exists and has the expected type.
const json& field(const json& obj, const char* key, const char* path, json::value_t type, const std::string& name,
                  int line) {
  auto it = obj.find(key);
  if (it == obj.end()) fail_line(name, line, str("missing field '", path, "'"));
  bool ok = it->type() == type || (type == json::value_t::number_float && it->is_number());
  if (!ok) fail_line(name, line, str("'", path, "' should be ", json(type).type_name(), ", found ", it->dump()));
  return *it;
}

VptAction parse_line(const std::string& text, const std::string& name, int line, int& last_hotbar) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded()) fail_line(name, line, "not valid JSON: " + text.substr(0, 60));
  if (!j.is_object()) fail_line(name, line, str("expected a JSON object, found ", j.type_name()));
  constexpr auto kObject = json::value_t::object, kArray = json::value_t::array, kNumber = json::value_t::number_float;
  const json& mouse = field(j, "mouse", "mouse", kObject, name, line);
  const json& keyboard = field(j, "keyboard", "keyboard", kObject, name, line);
  VptAction action;
  for (const json& key : field(keyboard, "keys", "keyboard.keys", kArray, name, line)) {
    if (!key.is_string()) fail_line(name, line, str("'keyboard.keys' should hold strings, found ", key.dump()));
    for (const KeyName& k : kKeyNames)
      if (key.get_ref<const std::string&>() == k.key) action.buttons[k.button] = true;
  }
  double dx = field(mouse, "dx", "mouse.dx", kNumber, name, line).get<double>();
  double dy = field(mouse, "dy", "mouse.dy", kNumber, name, line).get<double>();
  action.camera_pitch_deg = dy * kVptDegreesPerCount;
  action.camera_yaw_deg = dx * kVptDegreesPerCount;
  for (const json& button : field(mouse, "buttons", "mouse.buttons", kArray, name, line)) {
    if (!button.is_number_integer())
      fail_line(name, line, str("'mouse.buttons' should hold integers, found ", button.dump()));
    if (button.get<int>() == kMouseAttack) action.buttons[kAttack] = true;
    if (button.get<int>() == kMouseUse) action.buttons[kUse] = true;
  }
  // The recorder misses hotbar changes made with the scroll wheel; VPT's loader presses the
  // button of the new slot whenever "hotbar" changes, and so do we.
  if (auto it = j.find("hotbar"); it != j.end()) {
    if (!it->is_number_integer() || it->get<int>() < 0 || it->get<int>() > 8)
      fail_line(name, line, str("'hotbar' should be an integer slot in [0, 8], found ", it->dump()));
    int hotbar = it->get<int>();
    if (hotbar != last_hotbar) action.buttons[kHotbar1 + hotbar] = true;
    last_hotbar = hotbar;
  }
  return action;
}

}  // namespace

std::vector<VptAction> read_vpt_jsonl(std::istream& in, const std::string& name) {
  std::vector<VptAction> actions;
  std::string text;
  int last_hotbar = 0;
  for (int line = 1; std::getline(in, text); ++line) {
    if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
    actions.push_back(parse_line(text, name, line, last_hotbar));
  }
  return actions;
}

std::vector<VptAction> read_vpt_jsonl(const std::string& path) {
  std::ifstream in(path);
  WL_CHECK(in.good(), "cannot open action log '", path, "'; hint: check the path (a .jsonl file)");
  return read_vpt_jsonl(in, path);
}

void write_vpt_jsonl(std::ostream& out, std::span<const VptAction> actions) {
  std::vector<std::string> previous_keys;
  std::vector<int> previous_buttons;
  int hotbar = 0;
  for (size_t tick = 0; tick < actions.size(); ++tick) {
    const VptAction& a = actions[tick];
    std::vector<std::string> keys, new_keys;
    for (const KeyName& k : kKeyNames)
      if (a.buttons[k.button]) keys.push_back(k.key);
    for (const auto& k : keys)
      if (std::find(previous_keys.begin(), previous_keys.end(), k) == previous_keys.end()) new_keys.push_back(k);
    std::vector<int> buttons, new_buttons;
    if (a.buttons[kAttack]) buttons.push_back(kMouseAttack);
    if (a.buttons[kUse]) buttons.push_back(kMouseUse);
    for (int b : buttons)
      if (std::find(previous_buttons.begin(), previous_buttons.end(), b) == previous_buttons.end())
        new_buttons.push_back(b);
    // The last pressed hotbar key wins, as in VPT's button groups.
    for (int slot = 0; slot < 9; ++slot)
      if (a.buttons[kHotbar1 + slot]) hotbar = slot;
    json line = {
        {"mouse", {{"x", 0.0}, {"y", 0.0}, {"dx", a.camera_yaw_deg / kVptDegreesPerCount},
                   {"dy", a.camera_pitch_deg / kVptDegreesPerCount}, {"scaledX", 0.0}, {"scaledY", 0.0},
                   {"dwheel", 0.0}, {"buttons", buttons}, {"newButtons", new_buttons}}},
        {"keyboard", {{"keys", keys}, {"newKeys", new_keys}, {"chars", ""}}},
        {"isGuiOpen", false},
        {"hotbar", hotbar},
        {"tick", tick},
    };
    out << line.dump() << '\n';
    previous_keys = std::move(keys);
    previous_buttons = std::move(buttons);
  }
}

void write_vpt_jsonl(const std::string& path, std::span<const VptAction> actions) {
  std::string temp = path + ".tmp";
  {
    std::ofstream out(temp, std::ios::trunc);
    WL_CHECK(out.good(), "cannot write action log '", temp, "'; hint: does the directory exist and is it writable?");
    write_vpt_jsonl(out, actions);
    out.flush();
    WL_CHECK(out.good(), "writing action log '", temp, "' failed; hint: is the disk full?");
  }
  WL_CHECK(std::rename(temp.c_str(), path.c_str()) == 0, "cannot rename '", temp, "' to '", path, "'");
}

}  // namespace wl
