// Overlay: the Dear ImGui (1.86) control panel drawn over the presented frame.
//
// Shows frames per second and per-stage timing plots (stage names come from the caller), latency,
// state memory, model and world info, an action HUD (keys held, mouse delta, gamepad axes), and
// edits the live settings (denoise steps, seed, block size, state policy, prompt, recording, pause,
// branch count, fidelity view) and one-shot commands (save/load slot, resets, step, fork into K
// branches, continue from one: a button or a click on its cell of the grid). The engine talks to it
// only through these plain structs (the record control's numbers come through set_record_status(),
// from whoever owns the recording); view_grid()/side_by_side() are the one layout both the loop's
// composition and the overlay's click mapping use. F1 toggles it; F2 toggles mouse capture
// (relative mode), released while it is open.
// Made and drawn by the Presenter (PresenterInfo::overlay); callers reach it with presenter.overlay().
#pragma once

#include <array>
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
  bool paused = false;          // no new block starts (Pause key); the frames already made play out
  int branches = 4;             // K futures a fork makes, 2-9 (then keys 1..K or a click pick one)
  int steered_branch = 0;       // while branching, the branch your input drives; the others get a perturbed copy
  bool fidelity_view = false;   // the ground-truth simulator beside the model, with PSNR (F7)
};

// One-shot requests; take_commands() hands them over once and clears them.
struct OverlayCommands {
  bool reset = false;           // restart the world from its first frame
  int save_slot = -1;           // save state into this slot (0-3), -1 for none
  int load_slot = -1;           // load state from this slot (0-3), -1 for none
  bool step = false;            // paused: generate exactly one more block
  bool reset_new_seed = false;  // restart with a fresh state and a new random seed
  bool reset_from_simulator = false;   // restart with the state seeded from the simulator's frames
  bool fork = false;            // branch into LiveSettings::branches futures (F6)
  int continue_branch = -1;     // continue from this branch (0-based), -1 for none
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
  int64_t dropped_frames = 0;       // frames the presenter dropped (the recorder's: RecordStatus)
  InputSnapshot input;              // for the action HUD
  int frame_width = 0;              // the presented frame's size (maps clicks onto grid cells)
  int frame_height = 0;
  int branches = 0;                 // K while the frame is a grid of K branch views, else 0
  bool side_by_side = false;        // the frame is model | simulator (fidelity view)
  float psnr_db = 0.f;              // fidelity view: PSNR of the model frame against the simulator's
};

// The record control's state, set by the recording's owner (play, ground truth) whenever it
// changes; kept until the next set_record_status(), since OverlayFrame is refilled every frame by
// the loop, which does not own the recording.
struct RecordStatus {
  bool active = false;              // a recording is running
  double seconds = 0.0;             // its elapsed time: frames recorded / the world's frame rate
  int64_t frames = 0;               // frames recorded
  int64_t dropped = 0;              // frames the recorder dropped because its encoder fell behind
  std::string target;               // where it goes (a session directory)
  std::string note;                 // the last start/stop result or refusal, shown under the button
};

// [SECTION] view layout (shared by the loop's composition and the overlay's clicks)

inline constexpr int kMaxBranches = 9;   // keys 1..9 pick a branch

// A rectangle in frame pixels.
struct ViewRect {
  int x = 0, y = 0, width = 0, height = 0;
  bool contains(int px, int py) const { return px >= x && px < x + width && py >= y && py < y + height; }
  bool operator==(const ViewRect&) const = default;
};

// K views of a width x height frame, row-major in a grid of ceil(sqrt(K)) columns, each the frame
// scaled by 1 / max(columns, rows) (aspect kept), the grid centred. Cell i shows branch i.
std::vector<ViewRect> view_grid(int k, int width, int height);
// Model on the left, simulator on the right, each the frame at half size, centred vertically.
std::array<ViewRect, 2> side_by_side(int width, int height);
// The grid cell under output pixel (x, y) of an output_width x output_height output showing the
// frame letterboxed (as the presenter does), or -1.
int view_at(const std::vector<ViewRect>& views, int frame_width, int frame_height, int output_width, int output_height,
            float x, float y);

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
  void set_record_status(const RecordStatus& status) { record_ = status; }
  const RecordStatus& record_status() const { return record_; }
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
  RecordStatus record_;
  bool visible_ = true;
  OverlayBounds bounds_;
  std::deque<float> fps_history_;
  std::vector<std::deque<float>> stage_history_;   // one per stage, same order as frame_.stages
};

}  // namespace wl
