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
// n on screen while block n + 1 is generated. Nothing else queues: a block is never started while
// the limit is reached, so memory and latency are bounded however slow generation is; the pacer
// (sim/pacer.h) lowers the frame rate evenly instead, and the window keeps ticking (presenting,
// polling input, taking commands) whatever the worker does: it never freezes.
// When a block starts (BlockStart, LoopInfo::block_start):
//   JustInTime (default): as late as possible. Block n + 1 starts at the last tick from which a
//     running estimate of the generation time (mean + 2 mean deviations of the recent blocks, as TCP
//     estimates a round trip; BlockStartPlanner) plus a margin (20 ms) still has it finish before
//     block n's last frame is shown. Since ticks come every frame, the frame after that is the true
//     deadline, one more frame of slack. Nothing queued (the start, after a reset or an underrun):
//     at once. A step while paused: at once.
//   Eager (the old policy): the moment the limit allows, i.e. when block n - 1 leaves the screen.
// Either way the block takes the actions sampled up to its start: the displayed frames' actions
// since the previous block started, split in order into T groups, each aggregated into one latent
// frame's row by aggregate_actions() (no input is dropped, taps survive, order is kept; with no new
// input the last row is held). Starting later samples later: input-to-photon latency falls from
// one to two blocks' display time (Eager) to about one block's plus the generation time
// (JustInTime). Measured in docs/PERFORMANCE.md. max_blocks_in_flight = 1 gives no overlap at all.
// Settings (denoise steps, seed, block size, state policy, pause) apply to the next block started;
// a changed state policy starts a fresh state. Save, load, reset wait for the block in flight.
//
// [SECTION] Branching and the fidelity view (docs/play.md)
// F6 or the overlay forks the session into K futures (LiveSettings::branches) that run as one batch
// and show as a grid; 1..K or a click continues from one (sim/branching.h). Frames already made stay
// valid, so neither switch discards or stalls anything: queued blocks of the old shape play out.
// F7 or the overlay's checkbox shows the ground-truth simulator beside the model (sim/fidelity.h).
//
// [SECTION] Save-states
// F5 saves and F9 loads the quick slot, the overlay's slots 0-3 save/load slot<N>, save(name) and
// load(name) any named slot: files <snapshot_dir>/<name>.wlsnap (sim/snapshot.h). A snapshot holds
// the state after the newest generated block (up to one block ahead of the screen). Failures are
// values (last_message(), the overlay, the log): a bad file never stops or changes the session.
// Saving is refused while branching (a batch of futures is not a save-state); load ends branching.
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
#include "sim/actions.h"
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

// [SECTION] observing the loop (the session log: sim/play.cpp, sim/session_log.h)

// A block handed to the model: what a replay needs to make it again.
struct BlockStarted {
  int64_t index = 0;                     // blocks started by this loop: 0, 1, ...
  int64_t epoch = 0;                     // +1 each time reset or load replaced the session
  const ActionTensor* actions = nullptr; // [T, A], as the model sees them
  uint64_t seed = 0, noise_counter = 0;  // the noise stream the block starts from
  int denoise_steps = 4;
  std::string state_policy;
  int64_t first_latent_frame = 0, first_video_frame = 0;
  // Branching (sim/branching.h): the K streams [T, A] as batch rows 0..K-1 see them and their
  // seeds (empty for one sequence); the row a continue took the session from (-1: none).
  const std::vector<ActionTensor>* rows = nullptr;
  std::vector<uint64_t> row_seeds;
  int continued_from = -1;
};

// A new frame on screen (called from the record stage, display thread).
struct FrameShown {
  int64_t index = 0;                     // new frames shown: 0, 1, ...
  double time_s = 0.0;                   // loop clock
  int64_t block = 0, block_frame = 0;    // BlockStarted::index it came from, frame within that block
  const InputSnapshot* input = nullptr;  // the raw input of the tick that showed it
  const std::vector<float>* action = nullptr;   // the [A] action sampled in that tick
  const FrameTarget* pixels = nullptr;   // host RGBA8
  int row = 0;                           // the batch row shown; -1: the grid of every row (branching)
  bool side_by_side = false;             // the fidelity view: model | simulator
  bool context = false;                  // the seeded context's last frame (reset_from_simulator), shown
                                         // before block `block` is: the simulator's frame, encoded and decoded
};

// save, load, reset: after the fact (`ok` false: refused, nothing changed).
struct LoopEvent {
  std::string kind;                      // "save", "load", "reset"
  std::string name;                      // slot name ("quick", "slot0", ...) or ""
  std::string path;                      // the .wlsnap file for save/load
  bool ok = true;
  std::string message;
  int64_t epoch = 0;                     // the epoch after the event
  uint64_t seed = 0;                     // reset "simulator": the simulator episode's seed (also the noise seed)
  int context_frames = 0;                // reset "simulator": its frames encoded as context
};

class LoopObserver {
 public:
  virtual ~LoopObserver() = default;
  virtual void block_started(const BlockStarted&) {}
  virtual void frame_shown(const FrameShown&) {}
  virtual void event(const LoopEvent&) {}
};

// [SECTION] the loop

// The state policies the overlay's combo offers (OverlayInfo::state_policies), the model's own first;
// LiveSettings::state_policy indexes this list.
std::vector<std::string> state_policy_choices(const std::string& model_policy);

// When the next block starts (see the pipelining policy above).
enum class BlockStart {
  Eager,        // as soon as fewer than max_blocks_in_flight blocks exist
  JustInTime,   // as late as the generation-time estimate allows
};

struct LoopInfo {
  const WorldModel* model = nullptr;   // required; outlives the loop
  Display* display = nullptr;          // required
  ActionSource* actions = nullptr;     // required
  LoopClock* clock = nullptr;          // required: SteadyLoopClock to play, VirtualClock for tests and headless
  bool threaded = true;                // generate on a worker thread; false: inline in tick() (deterministic)
  int max_blocks_in_flight = 2;        // 1..4, see the policy above
  BlockStart block_start = BlockStart::JustInTime;
  BlockStartInfo block_start_info;     // JustInTime: estimate smoothing, deviations, margin
  uint64_t seed = 0;                   // noise seed of the first session
  std::string snapshot_dir = ".";      // where F5/F9 and named slots live
  // The record stage: each newly shown frame as host RGBA8 with its index (0, 1, ...); empty: off.
  std::function<void(const FrameTarget& frame, int64_t index)> record;
  LoopObserver* observer = nullptr;    // optional: blocks, shown frames and events (the session log)
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
  int branches = 0;                   // K while branching, else 0
  float psnr_db = 0.f;                // fidelity view: model vs simulator, the frame on screen
  double generation_estimate_s = 0.0; // JustInTime: the running estimate blocks are started by
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
  void reset_with_new_seed();                    // a fresh state and a new seed (derived from the old one)
  // A fresh state seeded from N frames of the simulator (WorldModel::encode + Session::seed); false
  // with last_message() for a world without an encoder (TAEHV, Wan2.1 decoders).
  bool reset_from_simulator();
  void fork(int k);                              // K futures, from the next block on
  void continue_branch(int i);                   // 0-based; shown at once, the session follows
  int branches() const;                          // K once a fork took effect, until a continue does; else 0
  const std::string& last_message() const;

  LoopStats stats() const;
  int blocks_in_flight() const;
  // Waits for the block in flight and queues its frames (tests, save). The session is then idle.
  void drain();
  const Session& session() const;
  // The actions of the most recent blocks started, in order (tests and tools). Bounded so that an
  // hours-long session keeps constant memory: past kBlockHistory blocks the oldest half is dropped,
  // and block_history_offset() says how many blocks came before element 0.
  static constexpr size_t kBlockHistory = 1024;
  const std::vector<ActionTensor>& block_actions() const;
  // The clock time each of those blocks started (the pipelining policy's tests).
  const std::vector<double>& block_start_times() const;
  int64_t block_history_offset() const;

  struct Impl;   // loop.cpp

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace wl
