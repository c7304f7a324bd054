// `worldloop play --ground-truth` (see ground_truth.h). Two loops over one Session:
//   headless: for t in 0..N-1: record frame t, action t from the policy, step;
//   window:   every displayed frame polls input (accumulated between world steps), and each time a
//             1/20 s step is due maps it (or asks the policy) to an action, steps and records; the
//             latest world frame is presented at the display's rate with the overlay on top.
// Both log action t as taken at frame t, as the dataset exporter does.
#include "sim/ground_truth.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <ostream>
#include <thread>

#include "envs/bindings.h"
#include "envs/policies.h"
#include "envs/world.h"
#include "kernels/core/error.h"
#include "kernels/core/log.h"
#include "render/presenter.h"
#include "sim/dataset.h"
#include "sim/view.h"
#ifdef WL_WITH_RECORDING
#include "render/recorder.h"
#endif

namespace wl {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int kFps = 20;                     // the worlds step 1/20 s per frame
constexpr int kEscapeKey = 41;               // USB HID usage id (= SDL scancode) of Esc
constexpr int kHeadlessFrames = 200;         // 10 s of play when no count is given
constexpr const char* kLogTag = "ground truth";

// The recording: the world's frames into an MP4 and the actions into <name>.actions.jsonl.
class RecordSink {
 public:
  // every_frame: headless, where every frame counts, so push() waits for the encoder; otherwise
  // (real time) a full queue drops the frame and the recorder counts it.
  RecordSink(const std::string& path, int size, bool every_frame) {
    if (path.empty()) return;
#ifdef WL_WITH_RECORDING
    recorder_ = std::make_unique<Recorder>(RecorderInfo{
        .path = path, .width = size, .height = size, .fps = {kFps, 1}, .block_when_full = every_frame});
    rgba_.assign(static_cast<size_t>(size) * size * 4, 255);
    size_ = size;
    actions_path_ = std::filesystem::path(path).replace_extension(".actions.jsonl").string();
    actions_.open(actions_path_, std::ios::binary | std::ios::trunc);
    WL_CHECK(actions_.good(), "cannot create ", actions_path_, " for the recording's actions");
    path_ = path;
#else
    (void)size, (void)every_frame;
    WL_FAIL("this build has no recording (FFmpeg), so --record ", path, " cannot be written; hint: rebuild with "
            "-DWL_RECORDING=ON");
#endif
  }
  bool on() const { return !path_.empty(); }

  // Queues the next frame (see every_frame above).
  void push(const Frame& frame) {
#ifdef WL_WITH_RECORDING
    if (!recorder_) return;
    FrameTarget target{rgba_.data(), size_, size_, 4LL * size_, false};
    write_rgb_to_target(frame.rgb, target);
    recorder_->push(target, next_index_++);
#else
    (void)frame;
#endif
  }
  // Logs the action taken at the frame pushed last (the recording's own frame numbers).
  void log(const ActionSpec& spec, const std::vector<float>& action) {
    if (on()) actions_ << action_json_line(spec, next_index_ - 1, action) << "\n";
  }
  double seconds() const { return static_cast<double>(next_index_) / kFps; }
  int64_t dropped() const {
#ifdef WL_WITH_RECORDING
    if (recorder_) return recorder_->stats().frames_dropped;
#endif
    return 0;
  }
  // Finalises the file; returns a summary ("" when not recording).
  std::string finish() {
    if (!on()) return "";
    actions_.close();
    WL_CHECK(!actions_.fail(), "cannot write ", actions_path_);
#ifdef WL_WITH_RECORDING
    recorder_->stop();
    RecorderStats s = recorder_->stats();
    return str("; recorded ", path_, ": ", s.frames_written, " frames (", s.encoder, s.frames_dropped ? ", " : "",
               s.frames_dropped ? str(s.frames_dropped, " dropped") : "", "), actions in ", actions_path_);
#else
    return "";
#endif
  }

 private:
  std::string path_, actions_path_;
  std::ofstream actions_;
  int64_t next_index_ = 0;
#ifdef WL_WITH_RECORDING
  std::unique_ptr<Recorder> recorder_;
  std::vector<uint8_t> rgba_;
  int size_ = 0;
#endif
};

// The names of an action's active dimensions with their values, for the overlay: "forward jump yaw 6".
std::string describe_action(const ActionSpec& spec, const std::vector<float>& action) {
  std::string text;
  for (int a = 0; a < spec.width() && a < static_cast<int>(action.size()); ++a) {
    const ActionDim& d = spec.dims[a];
    float rest = d.kind == ActionKind::Discrete ? std::round((d.min + d.max) * 0.5f) : std::max(d.min, 0.f);
    if (action[a] == rest) continue;
    text += (text.empty() ? "" : " ") + d.name;
    if (d.kind != ActionKind::Binary) text += str(" ", action[a]);
  }
  return text.empty() ? "-" : text;
}

void run_headless(const GroundTruthOptions& o, World& world, Policy& policy, RecordSink& sink, std::ostream& out,
                  const std::string& policy_name) {
  const int frames = o.frames > 0 ? o.frames : kHeadlessFrames;
  const Frame* frame = &world.reset(o.seed);
  policy.reset(o.seed);
  uint64_t hash = kFnvOffset;
  for (int t = 0; t < frames; ++t) {
    sink.push(*frame);
    hash = fnv1a(frame->rgb, hash);
    std::vector<float> action = clamp_action(world.action_spec(), policy.next(world));
    sink.log(world.action_spec(), action);
    if (t + 1 < frames) frame = &world.step(action);
  }
  std::string recorded = sink.finish();
  char hex[17];   // 16 digits, as the dataset manifests write them
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(hash));
  out << "ground truth " << o.world << ": " << frames << " frames played headless by policy " << policy_name << ", seed "
      << o.seed << ", frames fnv1a64 " << hex << recorded << "\n";
}

#ifdef WL_WITH_WINDOW
// Input between two world steps, as one snapshot: motion, wheel and key presses add up, held keys
// and buttons are the latest.
void accumulate(InputSnapshot& into, const InputSnapshot& in) {
  float dx = into.mouse_dx + in.mouse_dx, dy = into.mouse_dy + in.mouse_dy, wheel = into.wheel + in.wheel;
  auto pressed = into.keys_pressed | in.keys_pressed;
  into = in;
  into.mouse_dx = dx, into.mouse_dy = dy, into.wheel = wheel, into.keys_pressed = pressed;
}

void run_window(const GroundTruthOptions& o, World& world, Policy* policy, RecordSink& sink, std::ostream& out,
                const std::string& player) {
  Bindings bindings = o.bindings.empty() ? default_bindings(o.world) : load_bindings(o.bindings, o.world);
  InputMapper mapper(bindings);
  const ActionSpec& spec = world.action_spec();
  const std::string title = "worldloop: " + o.world + " (ground truth)";
  PresenterInfo info;
  info.frame_width = o.size;
  info.frame_height = o.size;
  info.output_width = 720;
  info.output_height = 720;
  info.title = title.c_str();
  info.filter = Filter::Nearest;   // the worlds' pixels, crisp
  info.overlay = true;
  info.cuda_frames = false;        // the simulator writes frames on the CPU
  Presenter presenter(info);
  Overlay& overlay = *presenter.overlay();
  overlay.settings().seed = static_cast<int>(o.seed);
  overlay.settings().recording = sink.on();

  uint64_t seed = o.seed;
  const Frame* frame = &world.reset(seed);
  if (policy) policy->reset(seed);
  int64_t t = 0;   // the frame on screen, counted from the last reset
  int64_t played = 0;
  if (overlay.settings().recording) sink.push(*frame);
  InputSnapshot pending;
  std::vector<float> action = clamp_action(spec, mapper.map(InputSnapshot{}));   // at rest, for the HUD
  bool warned_slots = false, warned_record = false;
  float step_ms = 0.f, present_ms = 0.f;
  const auto period = std::chrono::milliseconds(1000 / kFps);
  Clock::time_point due = Clock::now() + period;
  // --frames counts frames as headless play does: the first one plus one per step.
  while (o.frames == 0 || played + 1 < o.frames) {
    InputSnapshot input = presenter.poll_input();
    if (input.keys_pressed.test(kEscapeKey)) break;
    accumulate(pending, input);
    OverlayCommands commands = overlay.take_commands();
    if (commands.reset) {
      seed = static_cast<uint64_t>(overlay.settings().seed);
      frame = &world.reset(seed);
      if (policy) policy->reset(seed);
      mapper.reset();
      t = 0;
    }
    if ((commands.save_slot >= 0 || commands.load_slot >= 0) && !warned_slots) {
      WL_LOG_WARN(kLogTag, "the ground-truth worlds have no save slots; the overlay's save/load does nothing here");
      warned_slots = true;
    }
    if (overlay.settings().recording && !sink.on()) {
      if (!warned_record) WL_LOG_WARN(kLogTag, "to record, start with --record FILE.mp4");
      warned_record = true;
      overlay.settings().recording = false;
    }

    Clock::time_point now = Clock::now();
    if (now >= due) {
      auto step_start = now;
      action = clamp_action(spec, policy ? policy->next(world) : mapper.map(pending));
      if (overlay.settings().recording) sink.log(spec, action);
      frame = &world.step(action);
      ++t, ++played;
      if (overlay.settings().recording) sink.push(*frame);
      pending = InputSnapshot{};
      pending.keys = input.keys;
      due += period;
      if (due < now) due = now + period;   // after a stall (a dragged window), resume rather than race
      step_ms = std::chrono::duration<float, std::milli>(Clock::now() - step_start).count();
    }

    write_rgb_to_target(frame->rgb, presenter.begin_frame());
    OverlayFrame f;
    f.stages = {{"world step", step_ms}, {"present", present_ms}};
    f.model_info = str("ground truth: the ", o.world, " simulator, seed ", seed, ", played by ", player);
    f.world_info = str("frame ", t, "  action: ", describe_action(spec, action));
    f.record_seconds = sink.seconds();
    f.dropped_frames = sink.dropped();
    f.input = input;
    overlay.update(f);
    auto present_start = Clock::now();
    FrameStatus status = presenter.present();
    present_ms = std::chrono::duration<float, std::milli>(Clock::now() - present_start).count();
    if (status == FrameStatus::Closed) break;
  }
  std::string recorded = sink.finish();
  out << "ground truth " << o.world << ": " << played + 1 << " frames played by " << player << " in a window, seed " << seed
      << recorded << "\n";
}
#endif

}  // namespace

void run_ground_truth(const GroundTruthOptions& o, std::ostream& out) {
  WL_CHECK(o.frames >= 0, "--frames must be 0 or more, got ", o.frames);
  std::unique_ptr<World> world = make_world(o.world, WorldConfig{o.size, o.size});   // throws for an unknown world
  bool display = std::getenv("DISPLAY") || std::getenv("WAYLAND_DISPLAY");
  bool headless = o.headless || !display;
#ifndef WL_WITH_WINDOW
  WL_CHECK(headless, "this build has no window support (SDL2), so nobody can play in a window; hint: pass --headless to "
           "let a scripted policy play, or rebuild with -DWL_WINDOW=ON");
#endif
  if (!o.headless && !display)
    WL_LOG_INFO(kLogTag, "no display (DISPLAY is not set): a scripted policy plays headless");
  std::string policy_name = o.policy.empty() && headless ? policy_names(o.world).front() : o.policy;
  std::unique_ptr<Policy> policy = policy_name.empty() ? nullptr : make_policy(policy_name, o.world);
  RecordSink sink(o.record, o.size, /*every_frame=*/headless);
  if (headless) return run_headless(o, *world, *policy, sink, out, policy_name);
#ifdef WL_WITH_WINDOW
  run_window(o, *world, policy.get(), sink, out, policy ? "policy " + policy_name : std::string("you"));
#endif
}

}  // namespace wl
