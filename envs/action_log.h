// VPT-style jsonl action logs: one JSON object per tick, in the fields of the VPT contractor
// recordings that VPT's own loader reads (run_inverse_dynamics_model.py, data_loader.py):
//   {"mouse": {"dx", "dy", "buttons": [0 = attack, 1 = use], ...},
//    "keyboard": {"keys": ["key.keyboard.w", ...], ...}, "hotbar": 0..8, "isGuiOpen": false, ...}
// Camera degrees = mouse counts x 360/2400; a change of "hotbar" presses that hotbar button.
// Keys VPT does not map (escape, swapHands) are ignored as VPT does. Callers: dataset export, replay.
#pragma once

#include <iosfwd>
#include <span>
#include <string>
#include <vector>

#include "envs/vpt_actions.h"

namespace wl {

// Reads every line of `in`; blank lines are skipped. `name` (a path) prefixes error messages, which
// name the line: "actions.jsonl:12: 'mouse.dx' should be a number, found \"x\"; hint: ...".
std::vector<VptAction> read_vpt_jsonl(std::istream& in, const std::string& name);
std::vector<VptAction> read_vpt_jsonl(const std::string& path);

// Writes one line per action with keyboard keys, mouse counts and buttons, newKeys/newButtons
// (relative to the previous line), the selected hotbar slot and a tick counter.
void write_vpt_jsonl(std::ostream& out, std::span<const VptAction> actions);
// Writes to `path` through a temporary file and a rename, so a reader never sees half a log.
void write_vpt_jsonl(const std::string& path, std::span<const VptAction> actions);

}  // namespace wl
