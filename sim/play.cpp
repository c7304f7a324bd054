// `worldloop play` with a world model (see play.h).
#include "sim/play.h"

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <memory>
#include <ostream>

#include "envs/bindings.h"
#include "envs/policies.h"
#include "envs/world.h"
#include "kernels/core/error.h"
#include "kernels/core/log.h"
#include "render/presenter.h"
#include "sim/loop.h"
#include "sim/session.h"
#include "sim/session_log.h"
#include "sim/world_files.h"
#include "sim/world_model.h"
#ifdef WL_WITH_RECORDING
#include "render/recorder.h"
#endif

namespace wl {

namespace {

constexpr int kHeadlessFrames = 200;

// The record stage's sink: an MP4 of the frames shown, at the world's frame rate.
struct Recording {
#ifdef WL_WITH_RECORDING
  std::unique_ptr<Recorder> recorder;
#endif
  uint64_t hash = kFnvOffset;   // FNV-1a over every recorded frame (determinism checks)
  int64_t frames = 0;

  void open(const std::string& path, int width, int height, double fps, bool offline) {
    if (path.empty()) return;
#ifdef WL_WITH_RECORDING
    RecorderInfo info{.path = path, .width = width, .height = height};
    info.fps = std::abs(fps - std::round(fps)) < 1e-9 ? FrameRate{static_cast<int>(std::round(fps)), 1}
                                                      : FrameRate{static_cast<int>(std::round(fps * 1000)), 1000};
    info.block_when_full = offline;   // headless runs are offline: wait for the encoder, drop nothing
    recorder = std::make_unique<Recorder>(info);
#else
    (void)width, (void)height, (void)fps, (void)offline;
    WL_FAIL("this build has no recording (FFmpeg), so --out ", path, " cannot be written; hint: rebuild with -DWL_RECORDING=ON");
#endif
  }
  void push(const FrameTarget& frame, int64_t index) {
    for (int y = 0; y < frame.height; ++y)
      hash = fnv1a({frame.pixels + y * frame.row_pitch, static_cast<size_t>(frame.width) * 4}, hash);
    ++frames;
#ifdef WL_WITH_RECORDING
    if (recorder) recorder->push(frame, index);
#else
    (void)index;
#endif
  }
  std::string finish(const std::string& path) {
#ifdef WL_WITH_RECORDING
    if (!recorder) return "";
    recorder->stop();
    RecorderStats s = recorder->stats();
    return str("; wrote ", path, ": ", s.frames_written, " frames (", s.encoder, s.frames_dropped ? str(", ", s.frames_dropped, " dropped") : "",
               ")");
#else
    (void)path;
    return "";
#endif
  }
};

// A new directory for a recording started from the window: --record DIR the first time, then
// DIR_2, DIR_3, ...; without --record, session_<local time>.
std::string next_record_dir(const std::string& base, int& count) {
  std::string stem = base;
  if (stem.empty()) {
    std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    char buffer[32];
    std::strftime(buffer, sizeof buffer, "session_%Y%m%d_%H%M%S", std::localtime(&now));
    stem = buffer;
  }
  if (count++ == 0 && (!base.empty() || !std::filesystem::exists(stem))) return stem;   // --record DIR: checked at start
  std::string dir = str(stem, "_", count);
  while (std::filesystem::exists(dir)) dir = str(stem, "_", ++count);
  return dir;
}

std::string summary(const WorldModel& model, const LoopStats& s, const std::string& player, const std::string& mode) {
  return str("play ", model.info().label, ": ", s.frames_shown, " frames (", s.blocks_started, " blocks) played by ", player, " ",
             mode, "; ", s.pacing.display_fps, " fps shown", s.pacing.behind ? " (generation slower than real time)" : "",
             ", jitter p99 ", s.pacing.jitter_p99_ms, " ms, input-to-photon median ", s.latency_median_ms, " ms (p99 ",
             s.latency_p99_ms, "), state ", s.state_bytes, " bytes");
}

}  // namespace

void run_model_play(const ModelPlayOptions& options, std::ostream& out) {
  ModelPlayOptions o = options;
  WL_CHECK(o.frames >= 0, "--frames must be 0 or more, got ", o.frames);
  WL_CHECK(o.random_tiny != !o.model_dir.empty(), "play needs a world: --model DIR or --random-tiny (random weights)");
  WorldModelOptions mo{o.device, o.device != "cpu"};
  std::unique_ptr<WorldModel> model = o.random_tiny ? WorldModel::random_tiny(o.world, 1, mo) : WorldModel::load(o.model_dir, mo);
  if (model->info().random_weights) WL_LOG_WARN("play", "random weights: what you see was not learnt (", model->info().label, ")");
  const std::string world = model->info().world;
  bool display_there = std::getenv("DISPLAY") || std::getenv("WAYLAND_DISPLAY");
  bool headless = o.headless || !display_there;
#ifndef WL_WITH_WINDOW
  WL_CHECK(headless, "this build has no window support (SDL2); hint: pass --headless, or rebuild with -DWL_WINDOW=ON");
#endif
  if (!o.headless && !display_there) {
    WL_LOG_INFO("play", "no display (DISPLAY is not set): a scripted policy plays headless");
    // Asked to play but nothing can be shown: keep what is played, as a replayable session record.
    if (o.out.empty() && o.record.empty()) {
      char stamp[32];
      const std::time_t now = std::time(nullptr);
      std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", std::localtime(&now));
      o.record = str("recordings/", world, "-", stamp);
      WL_LOG_INFO("play", "recording the session to ", o.record, "/ (video.mp4, actions.jsonl, session.json)");
    }
  }
  std::string policy = o.policy.empty() && headless ? "sticky_random" : o.policy;
  std::unique_ptr<ActionSource> actions =
      policy.empty() ? make_input_actions(o.bindings.empty() ? default_bindings(world) : load_bindings(o.bindings, world))
                     : make_scripted_actions(policy, world, o.seed);
  const int width = 8 * model->info().latent_w, height = 8 * model->info().latent_h;
  if (!o.record.empty()) claim_new_dir(o.record, "--record");   // refused before anything runs
  ModelSource source;
  if (o.random_tiny) {
    source.world = world;
  } else {
    source.kind = "dir";
    source.dir = std::filesystem::absolute(locate_world(o.model_dir).dir).string();   // a shipped name -> its folder
  }
  SessionRecorder session_log(*model, make_session_header(*model, source, o.device, o.seed, actions->name(), "play"), headless);
  Recording recording;
  recording.open(o.out, width, height, model->info().fps, headless);

  LoopInfo info;
  info.model = model.get();
  info.actions = actions.get();
  info.seed = o.seed;
  info.snapshot_dir = o.snapshot_dir;
  info.record = [&recording](const FrameTarget& frame, int64_t index) { recording.push(frame, index); };
  info.observer = &session_log;
  auto configure = [&](FrameLoop& loop) {
    LiveSettings& s = loop.settings();
    s.denoise_steps = o.denoise_steps > 0 ? o.denoise_steps : model->info().denoise_steps;
    if (o.block_frames > 0) s.block_size = o.block_frames;
    s.recording = !o.record.empty();
  };
  int recordings = 0;
  // The record button and F8 edit LiveSettings::recording; the session log follows it.
  [[maybe_unused]] auto follow_record_toggle = [&](FrameLoop& loop) {
    bool want = loop.settings().recording;
    if (want == session_log.recording()) return;
    if (!want) {
      WL_LOG_INFO("record", session_log.stop());
      return;
    }
    try {
      session_log.start(next_record_dir(o.record, recordings));
    } catch (const std::exception& e) {
      WL_LOG_WARN("record", e.what());
      loop.settings().recording = false;
    }
  };

  if (headless) {
    MemoryDisplay display(width, height);
    VirtualClock clock;
    info.display = &display;
    info.clock = &clock;
    info.threaded = false;   // deterministic: the ideal real-time session
    FrameLoop loop(info);
    configure(loop);
    if (!o.record.empty()) session_log.start(next_record_dir(o.record, recordings));
    const int frames = o.frames > 0 ? o.frames : kHeadlessFrames;
    while (loop.stats().frames_shown < frames) loop.tick();
    std::string written = recording.finish(o.out);
    if (session_log.recording()) written += "; " + session_log.stop();
    out << summary(*model, loop.stats(), actions->name(), "headless") << ", frames fnv1a64 " << hex64(recording.hash) << written
        << "\n";
    return;
  }
#ifdef WL_WITH_WINDOW
  const std::string title = str("worldloop: ", world, model->info().random_weights ? " (RANDOM WEIGHTS)" : "");
  PresenterInfo pinfo;
  pinfo.frame_width = width;
  pinfo.frame_height = height;
  pinfo.output_width = 768;
  pinfo.output_height = 768;
  pinfo.title = title.c_str();
  pinfo.overlay = true;
  pinfo.overlay_info.state_policies = state_policy_choices(model->info().state_policy);
  pinfo.cuda_frames = o.device != "cpu";
  Presenter presenter(pinfo);
  PresenterDisplay display(presenter);
  SteadyLoopClock clock;
  info.display = &display;
  info.clock = &clock;
  FrameLoop loop(info);
  configure(loop);
  while (o.frames == 0 || loop.stats().frames_shown < o.frames) {
    follow_record_toggle(loop);
    if (loop.tick() == FrameStatus::Closed || loop.quit_requested()) break;
  }
  loop.drain();
  std::string written = recording.finish(o.out);
  if (session_log.recording()) written += "; " + session_log.stop();
  out << summary(*model, loop.stats(), actions->name(), "in a window") << written << "\n";
#endif
}

}  // namespace wl
