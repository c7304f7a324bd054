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
#include "sim/session_log.h"
#include "sim/view.h"

namespace wl {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int kFps = 20;                     // the worlds step 1/20 s per frame
constexpr int kEscapeKey = 41, kF8Key = 65;  // USB HID usage ids (= SDL scancodes) of Esc and F8
constexpr int kHeadlessFrames = 200;         // 10 s of play when no count is given
constexpr const char* kLogTag = "ground truth";

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

void run_headless(const GroundTruthOptions& o, World& world, Policy& policy, SimulatorRecorder& recorder, std::ostream& out,
                  const std::string& policy_name) {
  const int frames = o.frames > 0 ? o.frames : kHeadlessFrames;
  const Frame* frame = &world.reset(o.seed);
  policy.reset(o.seed);
  recorder.reset(o.seed, *frame, 0.0);
  if (!o.record.empty()) recorder.start(o.record);   // refused before anything is played
  uint64_t hash = kFnvOffset;
  std::vector<float> action;
  for (int t = 0; t < frames; ++t) {
    hash = fnv1a(frame->rgb, hash);
    action = clamp_action(world.action_spec(), policy.next(world));
    if (t + 1 < frames) {
      frame = &world.step(action);
      recorder.step(action, nullptr, *frame, static_cast<double>(t + 1) / kFps);
    }
  }
  std::string recorded = recorder.stop(&action);   // the action the policy chose at the last frame
  char hex[17];   // 16 digits, as the dataset manifests write them
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(hash));
  out << "ground truth " << o.world << ": " << frames << " frames played headless by policy " << policy_name << ", seed "
      << o.seed << ", frames fnv1a64 " << hex << (recorded.empty() ? "" : "; ") << recorded << "\n";
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

void run_window(const GroundTruthOptions& o, World& world, Policy* policy, SimulatorRecorder& recorder, std::ostream& out,
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

  const Clock::time_point start = Clock::now();
  auto seconds = [&] { return std::chrono::duration<double>(Clock::now() - start).count(); };
  uint64_t seed = o.seed;
  const Frame* frame = &world.reset(seed);
  if (policy) policy->reset(seed);
  recorder.reset(seed, *frame, 0.0);
  int recordings = 0;
  std::string record_note;   // the last start/stop result, under the overlay's record button
  if (!o.record.empty()) recorder.start(next_session_dir(o.record, recordings));   // refused before the window opens
  overlay.settings().recording = recorder.recording();
  int64_t t = 0;   // the frame on screen, counted from the last reset
  int64_t played = 0;
  InputSnapshot pending;
  std::vector<float> action = clamp_action(spec, mapper.map(InputSnapshot{}));   // at rest, for the HUD
  bool warned_slots = false;
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
      recorder.reset(seed, *frame, seconds());
    }
    if ((commands.save_slot >= 0 || commands.load_slot >= 0) && !warned_slots) {
      WL_LOG_WARN(kLogTag, "the ground-truth worlds have no save slots; the overlay's save/load does nothing here");
      warned_slots = true;
    }
    // The record button and F8 start and stop a session recording (--record DIR names the first).
    if (input.keys_pressed.test(kF8Key)) overlay.settings().recording = !overlay.settings().recording;
    if (overlay.settings().recording && !recorder.recording()) {
      try {
        recorder.start(next_session_dir(o.record, recordings));
        record_note.clear();
      } catch (const std::exception& e) {
        record_note = e.what();
        WL_LOG_WARN("record", record_note);
        overlay.settings().recording = false;
      }
    } else if (!overlay.settings().recording && recorder.recording()) {
      try {
        record_note = recorder.stop();
        WL_LOG_INFO("record", record_note);
      } catch (const std::exception& e) {
        record_note = str("recording failed: ", e.what());
        WL_LOG_WARN("record", record_note);
      }
    }

    Clock::time_point now = Clock::now();
    if (now >= due) {
      auto step_start = now;
      action = clamp_action(spec, policy ? policy->next(world) : mapper.map(pending));
      frame = &world.step(action);
      ++t, ++played;
      recorder.step(action, policy ? nullptr : &pending, *frame, seconds());
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
    RecordStatus record = recorder.status();
    record.note = record_note;
    overlay.set_record_status(record);
    f.input = input;
    overlay.update(f);
    auto present_start = Clock::now();
    FrameStatus status = presenter.present();
    present_ms = std::chrono::duration<float, std::milli>(Clock::now() - present_start).count();
    if (status == FrameStatus::Closed) break;
  }
  std::string recorded = recorder.stop();
  out << "ground truth " << o.world << ": " << played + 1 << " frames played by " << player << " in a window, seed " << seed
      << (recorded.empty() ? "" : "; ") << recorded << "\n";
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
  const std::string player = policy ? "policy " + policy_name : std::string("you");
  SimulatorRecorder recorder(make_ground_truth_header(o.world, o.size, kFps, o.seed, player), world->action_spec(),
                         /*offline=*/headless);
  if (headless) return run_headless(o, *world, *policy, recorder, out, policy_name);
#ifdef WL_WITH_WINDOW
  run_window(o, *world, policy.get(), recorder, out, player);
#endif
}

}  // namespace wl
