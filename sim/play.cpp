// `worldloop play` with a world model, and random SANA-Video world directories (see play.h).
#include "sim/play.h"

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <ostream>
#include <vector>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include "envs/bindings.h"
#include "envs/policies.h"
#include "envs/world.h"
#include "kernels/core/error.h"
#include "kernels/core/log.h"
#include "model/checkpoint.h"
#include "model/sampler.h"
#include "model/taehv.h"
#include "model/tensor_io.h"
#include "model/wan_vae.h"
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

// The player of a model without action conditioning (world "none", e.g. SANA-Video): every frame's
// action is the empty vector, whatever the keys do.
class NoActions final : public ActionSource {
 public:
  std::vector<float> next(const InputSnapshot&) override { return {}; }
  void reset(uint64_t) override {}
  std::string name() const override { return "no-actions"; }
};

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
  WL_CHECK(o.start == "auto" || o.start == "simulator" || o.start == "noise", "play: --start must be auto, simulator or noise, got '",
           o.start, "'");
  WorldModelOptions mo{o.device, o.device != "cpu"};
  std::unique_ptr<WorldModel> model = o.random_tiny ? WorldModel::random_tiny(o.world, 1, mo) : WorldModel::load(o.model_dir, mo);
  if (model->info().random_weights) WL_LOG_WARN("play", "random weights: what you see was not learnt (", model->info().label, ")");
  const std::string world = model->info().world;
  WL_CHECK(o.start != "simulator" || model->can_encode(), "play --start simulator: ", model->info().label,
           " has no encoder (only worlds whose decoder is our autoencoder do); hint: --start noise");
  const bool from_simulator = o.start == "simulator" || (o.start == "auto" && model->can_encode());
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
  const bool no_actions = model->action_spec().width() == 0;
  WL_CHECK(!no_actions || (o.policy.empty() && o.bindings.empty()), "play: ", model->info().label,
           " takes no actions, so --policy and --bindings have nothing to drive; hint: leave them out");
  std::unique_ptr<ActionSource> actions =
      no_actions       ? std::make_unique<NoActions>()
      : policy.empty() ? make_input_actions(o.bindings.empty() ? default_bindings(world) : load_bindings(o.bindings, world))
                       : make_scripted_actions(policy, world, o.seed);
  if (no_actions) WL_LOG_INFO("play", "the model takes no actions (text-conditioned only): input changes nothing it makes");
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
  // The state starts from the simulator's frames (after the recording starts, so a replay sees it).
  auto start_from_simulator = [&](FrameLoop& loop) {
    if (from_simulator) WL_CHECK(loop.reset_from_simulator(), "play: ", loop.last_message());
  };
  const std::string start_note = from_simulator ? ", started from the simulator's frames" : "";
  int recordings = 0;
  std::string record_note;   // the last start/stop result, under the overlay's record button
  // The record button and F8 edit LiveSettings::recording; the session log follows it, and the
  // overlay's record control shows its elapsed time and dropped frames.
  [[maybe_unused]] auto follow_record_toggle = [&](FrameLoop& loop, Overlay* overlay) {
    bool want = loop.settings().recording;
    if (want && !session_log.recording()) {
      try {
        session_log.start(next_session_dir(o.record, recordings));
        record_note.clear();
      } catch (const std::exception& e) {
        record_note = e.what();
        WL_LOG_WARN("record", record_note);
        loop.settings().recording = false;
      }
    } else if (!want && session_log.recording()) {
      try {
        record_note = session_log.stop();
        WL_LOG_INFO("record", record_note);
      } catch (const std::exception& e) {   // disk full, ...: the logs are flushed per line, the MP4 per fragment
        record_note = str("recording failed: ", e.what());
        WL_LOG_WARN("record", record_note);
      }
    }
    if (overlay) {
      RecordStatus status = session_log.status();
      status.note = record_note;
      overlay->set_record_status(status);
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
    if (!o.record.empty()) session_log.start(next_session_dir(o.record, recordings));
    start_from_simulator(loop);
    const int frames = o.frames > 0 ? o.frames : kHeadlessFrames;
    // Long headless runs say how far they are once a minute (wall time).
    auto next_note = std::chrono::steady_clock::now() + std::chrono::minutes(1);
    while (loop.stats().frames_shown < frames) {
      loop.tick();
      if (std::chrono::steady_clock::now() >= next_note) {
        next_note += std::chrono::minutes(1);
        WL_LOG_INFO("play", loop.stats().frames_shown, " of ", frames, " frames shown");
      }
    }
    std::string written = recording.finish(o.out);
    if (session_log.recording()) written += "; " + session_log.stop();
    out << summary(*model, loop.stats(), actions->name(), "headless") << start_note << ", frames fnv1a64 " << hex64(recording.hash) << written
        << "\n";
    return;
  }
#ifdef WL_WITH_WINDOW
  const std::string title = str("worldloop: ", no_actions ? "text-conditioned model (no actions)" : world,
                                model->info().random_weights ? " (RANDOM WEIGHTS)" : "");
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
  follow_record_toggle(loop, presenter.overlay());   // --record: the log starts before the state does
  start_from_simulator(loop);
  while (o.frames == 0 || loop.stats().frames_shown < o.frames) {
    follow_record_toggle(loop, presenter.overlay());
    if (loop.tick() == FrameStatus::Closed || loop.quit_requested()) break;
  }
  loop.drain();
  std::string written = recording.finish(o.out);
  if (session_log.recording()) written += "; " + session_log.stop();
  out << summary(*model, loop.stats(), actions->name(), "in a window") << start_note << written << "\n";
#endif
}

// [SECTION] random SANA-Video worlds

void write_random_sana_video_world(const std::string& dir, const RandomSanaVideoSpec& spec, std::ostream& out) {
  namespace fs = std::filesystem;
  WL_CHECK(spec.decoder == "taehv" || spec.decoder == "wan", "--decoder must be taehv or wan, got '", spec.decoder, "'");
  WL_CHECK(spec.dtype == "f32" || spec.dtype == "f16" || spec.dtype == "bf16", "--dtype must be f32, f16 or bf16, got '",
           spec.dtype, "'");
  WL_CHECK(spec.latent_h >= 2 && spec.latent_w >= 2 && spec.latent_h <= 512 && spec.latent_w <= 512 && spec.latent_h % 2 == 0 &&
               spec.latent_w % 2 == 0,
           "--latent-h and --latent-w must be even and in 2..512 (the DiT patches 2x2), got ", spec.latent_h, "x", spec.latent_w);
  DiTConfig config = dit_preset(spec.preset);   // throws naming the presets
  const bool tiny = spec.preset == "tiny";
  config.in_channels = config.out_channels = 16;   // Wan2.1's latent space, which both decoders read
  config.action_dims = 0;                          // SANA-Video takes text, not actions
  if (fs::exists(dir)) {
    WL_CHECK(fs::is_directory(dir), "export: ", dir, " is a file; hint: name a new folder");
    WL_CHECK(fs::is_empty(dir), "export: ", dir, " is not empty; hint: name a new folder");
  }
  fs::create_directories(dir);
  const at::ScalarType dtype = spec.dtype == "f32" ? at::kFloat : spec.dtype == "f16" ? at::kHalf : at::kBFloat16;
  auto cast = [dtype](TensorMap t) {
    for (auto& [name, tensor] : t) tensor = tensor.to(dtype);   // one at a time: the fp32 copy goes as its cast comes
    return t;
  };
  const fs::path root = dir;
  save_dit_checkpoint((root / "model.safetensors").string(), cast(random_dit_weights(config, spec.seed, false)), config);

  TensorMap decoder;
  std::string decoder_file, decoder_label;
  if (spec.decoder == "wan") {
    WanVAEConfig wan;
    if (tiny) wan.dims = {32, 32, 32, 16, 16};
    decoder = random_wan_vae_weights(wan, spec.seed + 1);
    decoder_file = "wan_vae.safetensors";
    decoder_label = wan.describe();
  } else {
    TAEHVConfig tae;
    if (tiny) tae.widths = {32, 16, 16, 16};
    decoder = random_taehv_weights(tae, spec.seed + 1);
    decoder_file = "taehv.safetensors";
    decoder_label = tae.describe();
  }
  decoder = cast(std::move(decoder));
  save_tensors((root / decoder_file).string(), {decoder.begin(), decoder.end()});

  NoiseSource noise(spec.seed + 2);
  const int64_t tokens = 8;
  save_tensors((root / "caption.safetensors").string(),
               {{"caption", noise.normal({1, tokens, config.caption_channels}, at::kFloat)}, {"caption_mask", at::ones({1, tokens})}});

  nlohmann::json j = nlohmann::json::parse(config_to_json(config));
  j["world"] = {{"name", kNoActionsWorld},
                {"latent_h", spec.latent_h},
                {"latent_w", spec.latent_w},
                {"fps", 16},
                {"block_frames", 3},
                {"state_policy", "global"},
                {"decoder", decoder_file},
                {"sampler", {{"schedule", "longsana"}, {"flow_shift", 7.0}, {"steps", 4}}},
                {"random_weights", true}};
  {
    const fs::path tmp = root / "config.json.tmp";
    std::ofstream f(tmp);
    f << j.dump(2) << "\n";
    WL_CHECK(f.good(), "export: cannot write ", tmp.string());
    f.close();
    fs::rename(tmp, root / "config.json");
  }
  out << "export: RANDOM-WEIGHT SANA-Video world -> " << dir << " (" << config.describe() << "; " << decoder_label << "; "
      << spec.latent_h * 8 << "x" << spec.latent_w * 8 << " video, " << spec.dtype << "); play it with `worldloop play --model "
      << dir << "`" << std::endl;
}

}  // namespace wl
