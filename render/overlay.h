// Overlay: the Dear ImGui (1.86) control panel drawn over the presented frame.
//
// Shows frames per second and per-stage timing plots (stage names come from the caller), latency,
// state memory, model and world info, an action HUD (keys held, mouse delta, gamepad axes), and
// edits the live settings (denoise steps, seed, block size, state policy, prompt, recording) and
// one-shot commands (save/load slot, reset). The engine talks to it only through these plain
// structs. F1 toggles it; F2 toggles mouse capture (relative mode), released while it is open.
// Made and drawn by the Presenter (PresenterInfo::overlay); callers reach it with presenter.overlay().
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "sim/frame_types.h"

namespace wl {

// Live knobs: the overlay edits them, the loop copies them at the start of each tick.
struct LiveSettings {
  int denoise_steps = 4;        // sampler steps per block, 1-50
  int seed = 0;                 // noise seed for the next block
  int block_size = 3;           // latent frames per block, 1-16
  int state_policy = 0;         // index into OverlayInfo::state_policies
  std::string prompt;           // text conditioning, where the model takes it
  bool recording = false;       // record start/stop
};

// One-shot requests; take_commands() hands them over once and clears them.
struct OverlayCommands {
  bool reset = false;           // restart the world from its first frame
  int save_slot = -1;           // save state into this slot (0-3), -1 for none
  int load_slot = -1;           // load state from this slot (0-3), -1 for none
};

// How long one stage of the frame loop took this tick, under its loop/profiler name.
struct StageTime {
  std::string name;             // "denoise block", "decode", ...
  float ms = 0.f;
};

// What the overlay shows for the current frame, filled by the loop before present().
struct OverlayFrame {
  std::vector<StageTime> stages;    // in loop order
  float latency_ms = 0.f;           // input sampled -> frame presented
  int64_t state_bytes = 0;          // model state (KV cache etc.) in memory
  std::string model_info;           // one line: model name, dtype, resolution
  std::string world_info;           // one line: world name, action space
  double record_seconds = 0.0;      // elapsed time of the current recording
  int64_t dropped_frames = 0;       // recorder or presenter drops
  InputSnapshot input;              // for the action HUD
};

// Fixed at start-up.
struct OverlayInfo {
  // Names for the policy combo; the engine passes the model's (see model/world_state.h).
  std::vector<std::string> state_policies = {"global", "window:8", "sink+window:8"};
  bool visible = true;              // shown at start
  int history = 120;                // samples kept per plot
};

// Where the overlay drew last frame, in output pixels (empty when hidden).
struct OverlayBounds {
  float x0 = 0.f, y0 = 0.f, x1 = 0.f, y1 = 0.f;
  bool empty() const { return x1 <= x0 || y1 <= y0; }
};

class Overlay {
 public:
  explicit Overlay(const OverlayInfo& info);
  virtual ~Overlay() = default;
  Overlay(const Overlay&) = delete;
  Overlay& operator=(const Overlay&) = delete;

  void update(const OverlayFrame& frame);      // the numbers to show on the next present()
  LiveSettings& settings() { return settings_; }
  OverlayCommands take_commands();
  void set_visible(bool visible) { visible_ = visible; }
  bool visible() const { return visible_; }
  OverlayBounds last_bounds() const { return bounds_; }

 protected:
  // Builds the ImGui windows for one frame (between ImGui::NewFrame and ImGui::Render).
  void build(float frame_seconds, float height);
  void set_bounds(OverlayBounds bounds) { bounds_ = bounds; }

 private:
  OverlayInfo info_;
  LiveSettings settings_;
  OverlayCommands commands_;
  OverlayFrame frame_;
  bool visible_ = true;
  OverlayBounds bounds_;
  std::deque<float> fps_history_;
  std::vector<std::deque<float>> stage_history_;   // one per stage, same order as frame_.stages
};

}  // namespace wl
