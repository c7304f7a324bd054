// FrameLoop: the real-time world loop. One tick() per displayed frame:
//   poll input -> actions -> denoise block -> commit state -> decode -> present -> record
// (the stages, their types and threads are listed at the top of loop.cpp).
//
// [SECTION] Pipelining policy
// A block is T latent frames (LiveSettings::block_size), which decode to 4T video frames (4T - 3
// for the stream's first). Blocks are generated ("denoise block", "commit state", "decode") on one
// worker thread, one at a time, while the display thread paces out frames of earlier blocks. At
// most LoopInfo::max_blocks_in_flight blocks exist at once, counting the one being generated, the
// finished ones waiting, and the one on screen until its last frame has been shown; default 2: block
// n on screen while block n + 1 is generated. Block n + 1 therefore starts the moment block n - 1
// leaves the screen, with the actions sampled up to that moment: the displayed frames' actions
// since the previous block started, split in order into T groups, each aggregated into one latent
// frame's row by aggregate_actions() (no input is dropped, taps survive, order is kept; with no new
// input the last row is held). Input-to-photon latency is therefore between one and two blocks'
// display time; max_blocks_in_flight = 1 trades smoothness for latency (no overlap). Nothing else
// queues: a block is never started while the limit is reached, so memory and latency are bounded
// however slow generation is; the pacer (sim/pacer.h) lowers the frame rate evenly instead.
// Settings (denoise steps, seed, block size, state policy, pause) apply to the next block started;
// a changed state policy starts a fresh state. Save, load, reset wait for the block in flight.
//
// [SECTION] Save-states
// F5 saves and F9 loads the quick slot, the overlay's slots 0-3 save/load slot<N>, save(name) and
// load(name) any named slot: files <snapshot_dir>/<name>.wlsnap (sim/snapshot.h). A snapshot holds
// the state after the newest generated block (up to one block ahead of the screen). Failures are
// values (last_message(), the overlay, the log): a bad file never stops or changes the session.
// Callers: `worldloop play` (sim/play.cpp), tests.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "envs/action_spec.h"
#include "render/overlay.h"
#include "sim/frame_types.h"
#include "sim/pacer.h"

namespace wl {

class WorldModel;
class Presenter;
class Session;
struct Bindings;

// Stage names: log tags, overlay plot rows and NVTX ranges, in loop order.
inline constexpr const char* kStagePollInput = "poll input";
inline constexpr const char* kStageActions = "actions";
inline constexpr const char* kStageDenoise = "denoise block";
inline constexpr const char* kStageCommit = "commit state";
inline constexpr const char* kStageDecode = "decode";
inline constexpr const char* kStagePresent = "present";
inline constexpr const char* kStageRecord = "record";
inline constexpr std::array<const char*, 7> kStageNames = {kStagePollInput, kStageActions, kStageDenoise, kStageCommit,
                                                          kStageDecode,    kStagePresent, kStageRecord};

// [SECTION] where frames go and input comes from

class Display {
 public:
  virtual ~Display() = default;
  virtual InputSnapshot poll_input() = 0;
  virtual FrameTarget begin_frame() = 0;
  virtual FrameStatus present() = 0;
  virtual Overlay* overlay() { return nullptr; }
};

// Host memory, no Vulkan: tests and headless play. Input comes from push_input() (else idle, focused).
class MemoryDisplay final : public Display {
 public:
  MemoryDisplay(int width, int height);
  InputSnapshot poll_input() override;
  FrameTarget begin_frame() override;
  FrameStatus present() override;
  void push_input(const InputSnapshot& input) { inputs_.push_back(input); }
  const std::vector<uint8_t>& pixels() const { return pixels_; }   // the last frame, RGBA8
  int64_t presented() const { return presented_; }

 private:
  int width_, height_;
  std::vector<uint8_t> pixels_;
  std::vector<InputSnapshot> inputs_;
  size_t next_input_ = 0;
  int64_t presented_ = 0;
};

// The window (or Vulkan offscreen) through render/presenter.h.
class PresenterDisplay final : public Display {
 public:
  explicit PresenterDisplay(Presenter& presenter) : presenter_(presenter) {}
  InputSnapshot poll_input() override;
  FrameTarget begin_frame() override;
  FrameStatus present() override;
  Overlay* overlay() override;

 private:
  Presenter& presenter_;
};

// One action vector [A] per displayed frame: from the person (InputMapper) or a script.
class ActionSource {
 public:
  virtual ~ActionSource() = default;
  virtual std::vector<float> next(const InputSnapshot& input) = 0;
  virtual void reset(uint64_t seed) = 0;
  virtual std::string name() const = 0;
};
// The person at the keys, through the world's bindings.
std::unique_ptr<ActionSource> make_input_actions(const Bindings& bindings);
// "sticky_random" (any world), or a world's scripted policy ("explore", "lane_keep", "pick_place"),
// which plays the ground-truth simulator in lockstep (one step per displayed frame) and hands its
// actions to the model. Throws wl::Error naming the known policies.
std::unique_ptr<ActionSource> make_scripted_actions(const std::string& policy, const std::string& world, uint64_t seed);

// [SECTION] input -> actions (the "actions" arrow)

// Many displayed frames' actions -> one latent frame's row, per the kind of each dimension:
// Binary: 1 if pressed in any frame (taps survive); Continuous: the mean; Discrete: the value
// farthest from the range's centre (the camera's null bin), latest on ties, so a flick survives.
std::vector<float> aggregate_actions(const ActionSpec& spec, std::span<const std::vector<float>> frames);

// Collects one action per displayed frame and hands out [T, A] blocks (see the policy above).
class ActionAggregator {
 public:
  explicit ActionAggregator(ActionSpec spec);
  void add(std::vector<float> action, double time_s);
  // T rows from everything added since the last take; the last row held when nothing was added.
  ActionTensor take(int latent_frames);
  // Time of the earliest change of action among what the last take() used; < 0 if none.
  double last_event_time() const { return last_event_; }
  int pending() const { return static_cast<int>(frames_.size()); }
  void reset();

 private:
  ActionSpec spec_;
  std::vector<std::vector<float>> frames_;
  std::vector<float> previous_, held_;
  double event_ = -1.0, last_event_ = -1.0;
};

// [SECTION] the loop

// The state policies the overlay's combo offers (OverlayInfo::state_policies), the model's own first;
// LiveSettings::state_policy indexes this list.
std::vector<std::string> state_policy_choices(const std::string& model_policy);

struct LoopInfo {
  const WorldModel* model = nullptr;   // required; outlives the loop
  Display* display = nullptr;          // required
  ActionSource* actions = nullptr;     // required
  LoopClock* clock = nullptr;          // required: SteadyLoopClock to play, VirtualClock for tests and headless
  bool threaded = true;                // generate on a worker thread; false: inline in tick() (deterministic)
  int max_blocks_in_flight = 2;        // 1..4, see the policy above
  uint64_t seed = 0;                   // noise seed of the first session
  std::string snapshot_dir = ".";      // where F5/F9 and named slots live
  // The record stage: each newly shown frame as host RGBA8 with its index (0, 1, ...); empty: off.
  std::function<void(const FrameTarget& frame, int64_t index)> record;
  // Inline mode on a VirtualClock: each block becomes ready this many virtual seconds after it
  // starts (tests of slow generation); 0: at once.
  double simulated_generation_s = 0.0;
};

struct LoopStats {
  int64_t ticks = 0;
  int64_t frames_shown = 0;           // new frames put on screen (repeats excluded)
  int64_t blocks_started = 0;
  int64_t blocks_shown = 0;
  int max_in_flight_seen = 0;         // never above LoopInfo::max_blocks_in_flight
  int64_t presents_stale = 0, presents_dropped = 0;
  PacerStats pacing;
  double latency_median_ms = 0.0, latency_p99_ms = 0.0;   // input change -> first frame made with it shown
  int64_t state_bytes = 0;
  std::vector<StageTime> stages;      // latest time of each stage, in loop order
};

class FrameLoop {
 public:
  explicit FrameLoop(const LoopInfo& info);   // throws wl::Error for a missing field
  ~FrameLoop();                               // waits for the block in flight
  FrameLoop(const FrameLoop&) = delete;
  FrameLoop& operator=(const FrameLoop&) = delete;

  // One displayed frame, then a sleep until the next one is due. Closed when the window closed.
  FrameStatus tick();
  bool quit_requested() const;                   // Esc was pressed

  // The live knobs: the overlay's when the display has one (copied at each tick), else these.
  LiveSettings& settings();
  // Save-states by slot name; results are values (true/false + last_message()).
  bool save(const std::string& name);
  bool load(const std::string& name);
  void reset();
  const std::string& last_message() const;

  LoopStats stats() const;
  int blocks_in_flight() const;
  // Waits for the block in flight and queues its frames (tests, save). The session is then idle.
  void drain();
  const Session& session() const;
  // The actions of every block started, in order (what a replay feeds back; see issue 8).
  const std::vector<ActionTensor>& block_actions() const;

  struct Impl;   // loop.cpp

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace wl
