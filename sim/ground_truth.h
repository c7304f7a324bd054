// `worldloop play --ground-truth --world W`: the simulator itself, played by a person in the window
// (keys and mouse -> InputMapper -> World::step at the world's 20 frames/s, presented through the
// Presenter with the overlay's FPS plot and action HUD), or watched while a scripted policy plays.
// Without a display, or with --headless, the policy plays N frames with no window at all.
// --record DIR writes a session directory as a world model's play does (sim/session_log.h,
// docs/sessions.md): video.mp4 of the world's own frames (not the letterboxed window) at 20
// frames/s, actions.jsonl (the action taken at each frame, and the raw input when a person plays),
// session.json (kind "ground_truth": world, size, policy, seed, resets); `worldloop replay DIR`
// regenerates it bit for bit. In the window the overlay's record button and F8 start and stop
// recordings (DIR, then DIR_2, ...; without --record session_<time>). Callers: main.cpp (`play`).
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>

namespace wl {

struct GroundTruthOptions {
  std::string world = "voxel";   // "voxel", "driving" or "robot"
  std::string policy;            // a scripted policy plays ("" = the person at the keys; headless:
                                 //   the world's first policy)
  int frames = 0;                // frames to play, 0 = until Esc or close (headless: 200)
  uint64_t seed = 0;             // world and policy seed (the overlay's seed field + reset change it)
  int size = 128;                // world frame width = height in pixels, 16..1024
  std::string record;            // record the session into this new (or empty) directory
  bool headless = false;         // no window even when a display is there
  std::string bindings;          // a bindings file overriding the default keys (envs/bindings.h)
};

// Plays until the frame count, Esc or the window closes, then prints one summary line to `out`.
// Throws wl::Error for an unknown world or policy, a bad bindings file, an unwritable recording, or
// a window asked of a build without one.
void run_ground_truth(const GroundTruthOptions& options, std::ostream& out);

}  // namespace wl
