// The session record: what `play --record DIR` and `worldloop rollout` write beside the video, and
// what `worldloop replay` reads back (format and examples: docs/sessions.md).
//   DIR/video.mp4      the frames shown (render/recorder.h; none in a build without recording)
//   DIR/actions.jsonl  one FrameLine per frame shown: index, time, block, the action by field name
//                      (envs/action_spec.h), the raw input (play only) and the frame's FNV-1a 64
//   DIR/blocks.jsonl   one BlockLine per block the model made: its [T, A] actions, noise stream
//                      (seed, counter), denoise steps, state policy, epoch (what replay feeds back)
//   DIR/session.json   SessionHeader: engine, model (hash, label, source, config), world, seed,
//                      settings and their changes, events (save, load, reset, fork, continue),
//                      epochs' origins
// A ground-truth session (`play --ground-truth --record DIR`, kind "ground_truth") has no model and
// no blocks: its epochs start from World::reset(seed) (origin "simulator"), and DIR/preroll.jsonl
// holds the steps taken before the recording started, when it started mid-episode.
// Writers go through SessionFiles; readers name the file and line of anything malformed.
// Callers: sim/play.cpp (the loop's observer), sim/ground_truth.cpp, sim/replay.cpp,
// sim/rollout.cpp, tests.
#pragma once

#include <cstdint>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "envs/action_spec.h"
#include "envs/world.h"
#include "sim/frame_types.h"
#include "sim/loop.h"

namespace wl {

class Recorder;
class WorldModel;

inline constexpr const char* kSessionFormat = "worldloop-session";
inline constexpr int kSessionVersion = 1;

// [SECTION] the lines

struct FrameLine {
  int64_t frame = 0;                   // index of the frame shown (0, 1, ...)
  double time_s = 0.0;                 // when it was shown: loop clock (play) or frame / fps (rollout)
  int64_t block = -1;                  // the block it came from (BlockLine::block)
  int64_t block_frame = -1;            // its index within that block's decoded frames
  std::vector<float> action;           // [A]: the action in effect (play: sampled in that tick)
  std::optional<InputSnapshot> input;  // the raw input (play only)
  uint64_t fnv1a64 = 0;                // FNV-1a 64 of the frame's RGBA8 bytes, row by row
  int row = 0;                         // the block's batch row shown; -1: the grid of every row (branching)
  bool side_by_side = false;           // shown as model | simulator (the fidelity view)
  bool operator==(const FrameLine&) const;
};

struct BlockLine {
  int64_t block = 0;                   // blocks made: 0, 1, ...
  int64_t epoch = 0;                   // the session it ran on (SessionHeader::epochs)
  int64_t first_latent_frame = 0;      // Session::next_frame() when it started
  int64_t first_video_frame = 0;       // Session::next_video_frame() when it started
  ActionTensor actions;                // [T, A], exactly what the model saw
  uint64_t seed = 0, noise_counter = 0;   // NoiseSource it started from
  int denoise_steps = 4;
  std::string state_policy;            // StatePolicy::name form
  // Branching (a batch of K futures, sim/branching.h); empty for one sequence.
  std::vector<ActionTensor> rows;      // K x [T, A]: what batch row k saw (actions = the steered one)
  std::vector<uint64_t> row_seeds;     // K noise seeds; every row's counter is noise_counter
  int continued_from = -1;             // the row of the previous block's batch the session went on from
  bool operator==(const BlockLine&) const;
};

// One line of text each (no newline). Continuous actions print as the shortest decimal that reads
// back as the same float, so a line read back gives bit-equal values.
std::string frame_line_json(const ActionSpec& spec, const FrameLine& line);
std::string block_line_json(const BlockLine& line);
// `where` ("DIR/actions.jsonl:12") starts every error message.
FrameLine parse_frame_line(const ActionSpec& spec, std::string_view text, const std::string& where);
BlockLine parse_block_line(std::string_view text, const std::string& where);
std::vector<FrameLine> read_frame_lines(const std::string& path, const ActionSpec& spec);
std::vector<BlockLine> read_block_lines(const std::string& path);

// [SECTION] session.json

struct ModelSource {
  std::string kind = "random_tiny";    // "random_tiny", "dir", or "simulator" (ground truth: no model)
  std::string dir;                     // kind "dir": the world directory (absolute)
  std::string world = "voxel";         // kind "random_tiny": whose actions
  uint64_t seed = 1;                   // kind "random_tiny": its weight seed
  int latent_size = 8;                 // kind "random_tiny"
  bool operator==(const ModelSource&) const = default;
};

struct SettingsChange {
  int64_t block = 0;                   // first block made with these settings
  int denoise_steps = 4;
  uint64_t seed = 0;
  int block_frames = 3;
  std::string state_policy;
  bool operator==(const SettingsChange&) const = default;
};

struct SessionEvent {
  int64_t frame = 0;                   // frames shown before it
  double time_s = 0.0;
  std::string kind;                    // "save", "load", "reset", "fork", "continue", "record_start", "record_stop"
  std::string name;                    // slot name
  bool ok = true;
  std::string message;
  int64_t epoch = 0;                   // after the event
  bool operator==(const SessionEvent&) const = default;
};

// Where each epoch's session came from: a fresh one ("fresh", seed and policy from its first block),
// a snapshot copied into the session directory ("snapshot", file relative to it), a model state
// seeded from simulator frames ("simulator_context": not replayable, see docs/sessions.md), or, in a
// ground-truth session, the simulator reset with `seed` ("simulator") and then stepped `preroll`
// times with the actions in `file` (preroll.jsonl) before the first frame recorded.
struct EpochOrigin {
  int64_t epoch = 0;
  std::string origin = "fresh";
  std::string file;
  uint64_t seed = 0;                   // origin "simulator": World::reset's seed
  int64_t preroll = 0;                 // origin "simulator": steps before the epoch's first frame recorded
  int64_t context_frames = 0;          // origin "simulator_context": the simulator frames encoded (episode `seed`)
  bool operator==(const EpochOrigin&) const = default;
};

struct SessionHeader {
  std::string engine;                  // "worldloop 0.x (commit, flavour)"
  std::string kind = "play";           // "play", "rollout" or "ground_truth"
  std::string model_hash;              // WorldModel::hash_hex()
  std::string model_label;
  std::string model_config;            // the DiT config as JSON text (model/dit_config.h)
  ModelSource model_source;
  std::string device = "cpu";
  std::string world;
  double fps = 20.0;
  int width = 0, height = 0;           // frame size in pixels
  uint64_t seed = 0;                   // the first session's noise (and policy) seed
  std::string player;                  // "you", "policy lane_keep", "actions FILE", ...
  std::vector<SettingsChange> settings;   // the first entry: the settings at the start
  std::vector<SessionEvent> events;
  std::vector<EpochOrigin> epochs;
  int64_t frames = 0;                  // frames in actions.jsonl (updated at stop)
  int64_t blocks = 0;                  // blocks in blocks.jsonl
  uint64_t frames_fnv1a64 = 0;         // FNV-1a 64 chained over every frame shown
  bool complete = false;               // false while recording or after a kill
  bool operator==(const SessionHeader&) const = default;
};

// The fixed fields for `model` (engine, model hash/label/config/source, world, geometry).
SessionHeader make_session_header(const WorldModel& model, const ModelSource& source, const std::string& device,
                                  uint64_t seed, const std::string& player, const std::string& kind);
// The fixed fields of a ground-truth session (kind "ground_truth", no model): the `world`
// simulator at size x size pixels and `fps`, reset with `seed`, played by `player`.
SessionHeader make_ground_truth_header(const std::string& world, int size, double fps, uint64_t seed, const std::string& player);
// The model a header names (random_tiny, or the world directory); `device` "cpu" or "cuda".
std::unique_ptr<WorldModel> load_model(const ModelSource& source, const std::string& device);

std::string session_json(const SessionHeader& header);
SessionHeader parse_session_json(const std::string& text, const std::string& where);
SessionHeader read_session_json(const std::string& path);
// Temporary file + rename: a reader never sees half a file.
void write_file_atomic(const std::string& path, const std::string& text);

// [SECTION] writing a session directory

// `dir` must not exist, or be an empty directory; anything else is refused (never overwritten).
// `flag` names the option in the message ("--record").
void claim_new_dir(const std::string& dir, const std::string& flag);
// The directory for the count-th recording started from a window (count starts at 0 and is
// advanced): `base` (--record DIR) the first time, then base_2, base_3, ... (the first free one);
// without a base, session_<local date>_<time>[_N].
std::string next_session_dir(const std::string& base, int& count);

// Whether recorded sessions get video.mp4: true in a build with recording (FFmpeg); without, the
// session recorders write the logs alone (replay needs nothing else) and this warns once.
bool session_video();

// The per-frame RGBA8 hash actions.jsonl stores.
uint64_t frame_fnv1a64(const FrameTarget& frame);

// video.mp4 (optional), actions.jsonl and blocks.jsonl in a directory that already exists.
class SessionFiles {
 public:
  // blocks: write blocks.jsonl (a ground-truth session has no blocks).
  SessionFiles(const std::string& dir, const ActionSpec& spec, int width, int height, double fps, bool video, bool offline,
               bool blocks = true);
  ~SessionFiles();
  void frame(const FrameLine& line, const FrameTarget& pixels);   // pixels: host RGBA8
  void block(const BlockLine& line);
  // Flushes and closes every file; returns "N frames (libx264[, D dropped])". Throws on I/O errors.
  std::string finish();
  int64_t frames() const { return frames_; }
  uint64_t hash() const { return hash_; }   // chained over every frame
  int64_t dropped() const;                  // frames the video encoder dropped so far (it fell behind)

 private:
  std::string dir_;
  ActionSpec spec_;
  std::ofstream actions_, blocks_;
  std::shared_ptr<Recorder> recorder_;   // shared_ptr: Recorder stays incomplete here (none without FFmpeg)
  int64_t frames_ = 0;
  uint64_t hash_;
};

// [SECTION] recording a play session: the frame loop's observer

// Always follows the loop (the blocks since the current session began, where that session came
// from, the settings), so that recording can start at any moment: start(dir) writes what replay
// needs from the start of the current epoch, then every block, frame and event until stop().
// An epoch that began with a load keeps a copy of that snapshot in DIR/snapshots/.
class SessionRecorder final : public LoopObserver {
 public:
  // `header`: the fixed fields (engine, model, world, size, player); the rest is filled here.
  SessionRecorder(const WorldModel& model, SessionHeader header, bool offline);
  ~SessionRecorder() override;
  // Throws wl::Error (nothing written) for an existing directory or a loaded snapshot that changed
  // on disk since it was loaded.
  void start(const std::string& dir);
  std::string stop();   // "wrote DIR: ..." ("" when not recording)
  bool recording() const { return files_ != nullptr; }
  const std::string& dir() const { return dir_; }
  // For the overlay's record control: elapsed time (frames recorded / frame rate), frames, drops.
  RecordStatus status() const;

  void block_started(const BlockStarted& block) override;
  void frame_shown(const FrameShown& frame) override;
  void event(const LoopEvent& event) override;

 private:
  void write_header();
  std::string copy_origin();   // the current epoch's snapshot into DIR/snapshots/ ("" for fresh)
  EpochOrigin epoch_origin(int64_t epoch, const std::string& file) const;   // fresh, snapshot or simulator_context

  const WorldModel& model_;
  SessionHeader header_;
  bool offline_;
  std::string dir_;
  std::unique_ptr<SessionFiles> files_;
  int64_t epoch_ = 0;
  std::vector<BlockLine> epoch_blocks_;   // since the current epoch began
  std::string origin_path_, origin_checksum_;   // the snapshot the epoch was loaded from ("" = fresh)
  int64_t context_frames_ = 0;                  // > 0: the epoch began from this many encoded simulator frames
  uint64_t context_seed_ = 0;                   // ... of this episode seed
  std::optional<SettingsChange> settings_;      // the latest block's settings
  int64_t frames_seen_ = 0;
  double last_time_ = 0.0;
};

// [SECTION] recording a ground-truth session: the simulator's own frames

// The session record of ground-truth play (kind "ground_truth"). Follows the world at all times
// (the seed of the last reset and every action taken since), so that a recording can start at any
// frame: start() writes those actions as DIR/preroll.jsonl, which replay steps through to reach the
// first frame recorded. While recording, each frame goes to video.mp4 and actions.jsonl once its
// action is known (the next step; at a reset or stop, the action in effect); each reset is an
// event that begins a new epoch (origin "simulator", its seed). No blocks.jsonl: there is no model.
// Callers: sim/ground_truth.cpp, tests.
class SimulatorRecorder {
 public:
  // `header`: make_ground_truth_header(); offline (headless): the video encoder is waited for, in
  // real time a full queue drops frames (counted, shown by status()).
  SimulatorRecorder(SessionHeader header, const ActionSpec& spec, bool offline);
  ~SimulatorRecorder();   // stop(), logging instead of throwing

  // The world was reset with `seed`; `first` is its first frame, shown at `time_s`.
  void reset(uint64_t seed, const Frame& first, double time_s);
  // `action` (mapped from `input` when a person plays, else nullptr) was taken at the frame shown,
  // which gave `next`, shown at `time_s`.
  void step(const std::vector<float>& action, const InputSnapshot* input, const Frame& next, double time_s);
  // Records into `dir` (new, or empty) from the frame shown on. Throws wl::Error, leaving nothing
  // behind, for a directory that holds anything or cannot be written.
  void start(const std::string& dir);
  // `action`: the one in effect at the last frame (nullptr: the last one taken). Returns
  // "wrote DIR: ..." ("" when not recording). Throws on I/O errors (the files stay readable).
  std::string stop(const std::vector<float>* action = nullptr);
  bool recording() const { return files_ != nullptr; }
  RecordStatus status() const;

 private:
  void show(const Frame& frame, double time_s);
  void flush(const std::vector<float>& action, const InputSnapshot* input);
  void write_header();
  FrameTarget target();

  SessionHeader header_;
  ActionSpec spec_;
  bool offline_;
  std::vector<uint8_t> rgba_;                 // the frame shown, RGBA8
  double time_s_ = 0.0;                       // when it was shown
  bool pending_ = false;                      // it is recorded; its line waits for its action
  std::string dir_;
  std::unique_ptr<SessionFiles> files_;       // while recording
  int64_t epoch_ = -1;                        // +1 per reset
  uint64_t seed_ = 0;                         // of the last reset
  std::vector<std::vector<float>> steps_;     // every action taken since it
  std::vector<float> last_action_;
};

}  // namespace wl
