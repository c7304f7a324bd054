// The frame loop. One tick per displayed frame; the stages, what flows between them, and where:
//   1. poll input     Display -> InputSnapshot                             display thread
//   2. actions        InputSnapshot -> [A] per frame -> ActionTensor [T, A] display thread
//                     (rows for the next block, when a block may start)
//   3. denoise block  ActionTensor -> LatentBlock (noise -> clean latents)  worker thread
//   4. commit state   LatentBlock -> WorldState (the t = 0 pass)           worker thread
//   5. decode         LatentBlock -> VideoBlock [B, 3, F, H, W]            worker thread
//   6. present        VideoBlock frame due now (Pacer) -> FrameTarget -> FrameStatus   display thread
//   7. record         the newly shown frame -> the record sink (render/recorder)      display thread
// Stages 3-5 run as one job per block (run_block) on the worker, overlapping the display of the
// previous block; tick() hands it the actions (start_block) and takes finished blocks back
// (take_finished). Each stage is timed under its name (kStage*): the overlay's plot row, the log
// tag and, on CUDA builds, the NVTX range. The pipelining and save-state policies are in loop.h;
// the action sources and aggregation in sim/actions.cpp, branching and the fidelity view in
// sim/branching.cpp and sim/fidelity.cpp.
#include "sim/loop.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <mutex>
#include <optional>
#include <thread>

#include "envs/bindings.h"
#include "envs/policies.h"
#include "envs/world.h"
#include "kernels/core/error.h"
#include "kernels/core/hash.h"
#include "kernels/core/log.h"
#include "model/device.h"
#include "render/presenter.h"
#include "sim/branching.h"
#include "sim/dataset.h"
#include "sim/fidelity.h"
#include "sim/session.h"
#include "sim/snapshot.h"
#include "sim/world_model.h"
#if defined(WL_WITH_CUDA) && __has_include(<nvtx3/nvToolsExt.h>)
#include <nvtx3/nvToolsExt.h>
#define WL_NVTX 1
#endif

namespace wl {

namespace {

constexpr int kEscapeKey = 41, kF5Key = 62, kF8Key = 65, kF9Key = 66, kPauseKey = 72, kPeriodKey = 55;   // USB HID usage ids
constexpr int kF6Key = 63, kF7Key = 64, kDigit1Key = 30;   // fork, fidelity view, 1..9 continue a branch
constexpr const char* kQuickSlot = "quick";
constexpr int kSeedFrames = 8;   // simulator frames a "reset from simulator" encodes as context

// Times one stage under its name: returns milliseconds; NVTX range on CUDA builds. `device`:
// synchronised before the clock is read, so asynchronous GPU work is counted where it belongs.
template <typename F>
float time_stage(const char* name, const std::string& device, F&& body) {
#ifdef WL_NVTX
  nvtxRangePushA(name);
#endif
  auto start = std::chrono::steady_clock::now();
  body();
  if (device != "cpu") synchronize(device);
  float ms = std::chrono::duration<float, std::milli>(std::chrono::steady_clock::now() - start).count();
#ifdef WL_NVTX
  nvtxRangePop();
#endif
  WL_LOG_DEBUG(name, ms, " ms");
  return ms;
}

// While branching the number keys pick a branch: the world's actions do not see them.
InputSnapshot without_digits(InputSnapshot input) {
  for (int i = 0; i < kMaxBranches; ++i) {
    input.keys.reset(kDigit1Key + i);
    input.keys_pressed.reset(kDigit1Key + i);
  }
  return input;
}

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0.0;
  size_t k = std::min(v.size() - 1, static_cast<size_t>(std::ceil(q * static_cast<double>(v.size()))) - (q > 0 ? 1 : 0));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

}  // namespace

std::vector<std::string> state_policy_choices(const std::string& model_policy) {
  std::vector<std::string> out = {model_policy};
  for (const char* p : {"global", "window:4", "window:16", "sink+window:4", "sink+window:16"})
    if (p != model_policy) out.push_back(p);
  return out;
}

// [SECTION] displays

MemoryDisplay::MemoryDisplay(int width, int height) : width_(width), height_(height) {
  WL_CHECK(width > 0 && height > 0, "memory display needs a positive size, got ", width, "x", height);
  pixels_.assign(static_cast<size_t>(width) * height * 4, 0);
}

InputSnapshot MemoryDisplay::poll_input() {
  if (next_input_ < inputs_.size()) return inputs_[next_input_++];
  return InputSnapshot{};
}

FrameTarget MemoryDisplay::begin_frame() { return {pixels_.data(), width_, height_, 4LL * width_, false}; }

FrameStatus MemoryDisplay::present() {
  ++presented_;
  return FrameStatus::Presented;
}

InputSnapshot PresenterDisplay::poll_input() { return presenter_.poll_input(); }
FrameTarget PresenterDisplay::begin_frame() { return presenter_.begin_frame(); }
FrameStatus PresenterDisplay::present() { return presenter_.present(); }
Overlay* PresenterDisplay::overlay() { return presenter_.overlay(); }

// [SECTION] the loop

namespace {

struct BlockJob {
  std::vector<ActionTensor> actions;
  SamplerConfig sampler;
  double input_event_s = -1.0;   // earliest action change the block carries
  double start_s = 0.0;
  int64_t block = 0;             // FrameLoop's block counter (BlockStarted::index)
};

struct FinishedBlock {
  VideoBlock video;
  double input_event_s = -1.0;
  double ready_s = 0.0;          // clock time the block may be shown from
  double generation_s = 0.0;     // wall time of stages 3-5
  std::array<float, 3> stage_ms{};
  int64_t state_bytes = 0;       // read here, on the worker, while nothing else touches the session
  std::string error;             // a failure on the worker, shown once and the loop stops
  int64_t block = 0;
  std::vector<ActionTensor> actions;   // each row's [T, A] (the fidelity view's simulator follows them)
};

// Stages 3-5 for one block; runs on the worker.
FinishedBlock run_block(Session& session, const BlockJob& job, const std::string& device) {
  FinishedBlock out;
  out.input_event_s = job.input_event_s;
  out.block = job.block;
  out.actions = job.actions;
  auto start = std::chrono::steady_clock::now();
  try {
    LatentBlock block;
    out.stage_ms[0] = time_stage(kStageDenoise, device, [&] { block = session.denoise_block(job.actions, job.sampler); });
    out.stage_ms[1] = time_stage(kStageCommit, device, [&] { session.commit_state(block); });
    out.stage_ms[2] = time_stage(kStageDecode, device, [&] { out.video = session.decode(block); });
    out.state_bytes = session.state_bytes();
  } catch (const std::exception& e) {
    out.error = e.what();
  }
  out.generation_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return out;
}

// A block whose frames are queued in the pacer or on screen.
struct ShownBlock {
  VideoBlock video;
  int64_t stream_first = 0;   // pacer stream index of its first frame
  double input_event_s = -1.0;
  bool first_shown = false;
  bool released = false;      // its last frame was shown: no longer counted in flight
  int64_t block = 0;          // BlockStarted::index
  int row = 0;                // batch row shown; -1: the grid of every row (branching)
  std::vector<ActionTensor> actions;   // per row, as FinishedBlock::actions
  bool context = false;       // seeded context, not generated: the simulator already stands there
};

}  // namespace

struct FrameLoop::Impl {
  LoopInfo info;
  const WorldModel& model;
  std::string device;
  LiveSettings own_settings;
  LiveSettings settings;                 // the copy this tick runs with
  std::unique_ptr<Session> session;
  uint64_t seed = 0;
  std::string policy;
  std::vector<std::string> policies;
  ActionAggregator aggregator;
  Pacer pacer;
  int64_t stream_next = 0;               // pacer stream index of the next block's first frame
  std::deque<ShownBlock> shown;          // front: the block on screen
  int in_flight = 0;
  bool step_once = false;                // "." or the overlay's step: one block while paused
  std::string failure;                   // the worker's error: tick() throws it
  std::string message;                   // the last save/load/reset result, for the overlay
  bool quit = false;
  std::vector<ActionTensor> block_actions;
  int64_t epoch = 0;                     // +1 per replace_session (LoopObserver)
  InputSnapshot last_input;              // this tick's, for the observer
  std::vector<float> last_action;
  BlockStartPlanner planner;             // JustInTime's generation-time estimate
  std::vector<double> block_starts;      // clock time of each block's start
  int64_t block_history_offset = 0;      // blocks dropped from the front of block_actions/block_starts
  Branching branching;                   // K futures (sim/branching.h)
  std::unique_ptr<FidelityView> fidelity;   // the simulator beside the model, while that view is on
  float psnr = 0.f;

  // The worker: one job at a time (in threaded mode a thread, else inline).
  std::thread worker;
  std::mutex mutex;
  std::condition_variable wake;
  std::optional<BlockJob> job;           // waiting for the worker
  bool busy = false;                     // a job is queued or running
  std::optional<FinishedBlock> finished; // waiting for the display thread
  bool stop = false;

  LoopStats stats;
  std::array<float, 7> stage_ms{};
  std::deque<double> latencies_ms;
  std::vector<uint8_t> record_pixels;
  int64_t recorded = 0;

  // The frame on screen: block front(), frame `current` (-1: nothing yet).
  int64_t current = -1;

  // Stages and helpers, in tick order (defined below).
  void apply_commands(FrameLoop& loop, const InputSnapshot& input);
  ActionTensor sample_actions(const InputSnapshot& input);
  void start_block(ActionTensor actions);
  bool take_finished(bool wait);
  bool pace(double now);                 // true: a new frame is due and now current
  FrameStatus present();
  void record();
  void wait_for_next_tick(double tick_start);
  bool can_start() const;
  void discard_queued();
  void replace_session(std::unique_ptr<Session> next);
  LiveSettings& live() { return info.display->overlay() ? info.display->overlay()->settings() : own_settings; }
  void write_view(const FrameTarget& target);   // the frame on screen: one row, the grid, or model | simulator
  void step_simulator(const ShownBlock& b);
  void set_fidelity(bool on);
  void end_branching();                  // reset, load: back to one sequence

  Impl(const LoopInfo& i)
      : info(i),
        model(*i.model),
        aggregator(i.model->action_spec()),
        pacer(PacerInfo{.fps = i.model->info().fps}),
        planner(i.block_start_info) {}

  void worker_main() {
    std::unique_lock<std::mutex> lock(mutex);
    while (true) {
      wake.wait(lock, [&] { return stop || job.has_value(); });
      if (stop) return;
      BlockJob j = std::move(*job);
      job.reset();
      lock.unlock();
      FinishedBlock f = run_block(*session, j, device);
      lock.lock();
      finished = std::move(f);
      busy = false;
      wake.notify_all();
    }
  }
};

FrameLoop::FrameLoop(const LoopInfo& info) {
  WL_CHECK(info.model && info.display && info.actions && info.clock,
           "FrameLoop needs LoopInfo::model, display, actions and clock; one of them is null");
  WL_CHECK(info.max_blocks_in_flight >= 1 && info.max_blocks_in_flight <= 4, "max_blocks_in_flight must be 1..4, got ",
           info.max_blocks_in_flight);
  impl_ = std::make_unique<Impl>(info);
  Impl& m = *impl_;
  m.device = str(m.model.latent_options().device());
  m.seed = info.seed;
  m.policy = m.model.info().state_policy;
  m.policies = state_policy_choices(m.policy);
  m.own_settings.seed = static_cast<int>(info.seed);
  m.own_settings.block_size = m.model.info().block_frames;
  m.session = std::make_unique<Session>(m.model, StatePolicy::parse(m.policy), std::vector<uint64_t>{m.seed});
  if (Overlay* o = info.display->overlay()) {
    o->settings().seed = m.own_settings.seed;
    o->settings().block_size = m.own_settings.block_size;
  }
  m.settings = settings();
  if (info.threaded) m.worker = std::thread([&m] { m.worker_main(); });
}

FrameLoop::~FrameLoop() {
  Impl& m = *impl_;
  if (m.worker.joinable()) {
    {
      std::lock_guard<std::mutex> lock(m.mutex);
      m.stop = true;
    }
    m.wake.notify_all();
    m.worker.join();
  }
}

LiveSettings& FrameLoop::settings() {
  if (Overlay* o = impl_->info.display->overlay()) return o->settings();
  return impl_->own_settings;
}

const Session& FrameLoop::session() const { return *impl_->session; }
int FrameLoop::blocks_in_flight() const { return impl_->in_flight; }


// [SECTION] the stages and their helpers (display thread)

bool FrameLoop::Impl::can_start() const {
  if (!failure.empty() || busy || in_flight >= info.max_blocks_in_flight) return false;
  if (step_once) return true;
  if (settings.paused) return false;
  if (info.block_start == BlockStart::Eager) return true;
  // JustInTime: the latest tick from which the estimate still lands before the queue's last frame.
  return planner.due(info.clock->now(), pacer.last_due(), 1.0 / model.info().fps);
}

ActionTensor FrameLoop::Impl::sample_actions(const InputSnapshot& input) {
  last_action = info.actions->next(branching.branches() > 0 ? without_digits(input) : input);
  aggregator.add(last_action, input.time_s);
  if (!can_start()) return {};
  return aggregator.take(std::clamp(settings.block_size, 1, 16));
}

void FrameLoop::Impl::start_block(ActionTensor actions) {
  if (actions.frames == 0) return;
  step_once = false;
  // The worker is idle here, so the session may change: a fork or continue asked for takes effect
  // (queued frames stay valid and play out), and a new seed restarts the noise stream.
  std::string change;
  const int continuing = branching.pending_continue();
  int continued_from = -1;
  if (double factor = branching.apply(*session, change); !change.empty()) {
    if (factor < 1) continued_from = continuing;
    planner.scale(factor);   // a batch of K costs about K times one sequence
    seed = session->noise().front().seed();
    live().seed = settings.seed = static_cast<int>(seed);
    message = change;
    WL_LOG_INFO("branching", message);
    if (info.observer) info.observer->event({factor > 1 ? "fork" : "continue", "", "", true, message, epoch});
  }
  if (branching.branches() == 0 && static_cast<uint64_t>(settings.seed) != seed) {
    seed = static_cast<uint64_t>(settings.seed);
    session->noise().front() = NoiseSource(seed, 0);
  }
  block_starts.push_back(info.clock->now());
  BlockJob j{branching.actions_for_block(model.action_spec(), actions, settings.steered_branch), sampler_for_steps(model.info(), std::clamp(settings.denoise_steps, 1, 50)), aggregator.last_event_time(),
             info.clock->now(), stats.blocks_started};
  if (info.observer) {
    BlockStarted b{stats.blocks_started, epoch, &actions, session->noise().front().seed(), session->noise().front().counter(),
                   std::clamp(settings.denoise_steps, 1, 50), policy, session->next_frame(), session->next_video_frame()};
    if (j.actions.size() > 1) {
      b.rows = &j.actions;
      for (const NoiseSource& n : session->noise()) b.row_seeds.push_back(n.seed());
    }
    b.continued_from = continued_from;
    info.observer->block_started(b);
  }
  ++in_flight;
  ++stats.blocks_started;
  stats.max_in_flight_seen = std::max(stats.max_in_flight_seen, in_flight);
  busy = true;
  if (info.threaded) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      job = std::move(j);
    }
    wake.notify_all();
  } else {
    FinishedBlock f = run_block(*session, j, device);
    f.ready_s = j.start_s + info.simulated_generation_s;
    finished = std::move(f);
  }
}

bool FrameLoop::Impl::take_finished(bool wait) {
  std::optional<FinishedBlock> f;
  if (info.threaded) {
    std::unique_lock<std::mutex> lock(mutex);
    if (wait) wake.wait(lock, [&] { return !busy; });
    f = std::move(finished);
    finished.reset();
  } else if (finished && (wait || info.clock->now() >= finished->ready_s)) {
    if (wait) info.clock->sleep_until(finished->ready_s);
    f = std::move(finished);
    finished.reset();
    busy = false;
  }
  if (!f) return false;
  if (!f->error.empty()) {
    failure = f->error;
    --in_flight;
    return true;
  }
  for (int i = 0; i < 3; ++i) stage_ms[2 + i] = f->stage_ms[i];
  stats.state_bytes = f->state_bytes;
  const int64_t frames = f->video.count();
  const double generation_s = info.threaded ? f->generation_s : info.simulated_generation_s;
  pacer.add_block(frames, info.clock->now(), generation_s);
  planner.add(generation_s);
  shown.push_back({std::move(f->video), stream_next, f->input_event_s, false, false});
  shown.back().block = f->block;
  shown.back().row = branching.row_for(shown.back().video.frames.size(0));
  shown.back().actions = std::move(f->actions);
  stream_next += frames;
  return true;
}

bool FrameLoop::Impl::pace(double now) {
  std::optional<int64_t> index = pacer.due(now);
  if (!index) return false;
  while (!shown.empty() && *index >= shown.front().stream_first + shown.front().video.count()) shown.pop_front();
  WL_CHECK(!shown.empty(), "pacer and loop disagree about queued frames (a bug)");
  ShownBlock& b = shown.front();
  current = *index - b.stream_first;
  if (fidelity && !b.context) step_simulator(b);
  if (!b.first_shown) {
    b.first_shown = true;
    if (b.input_event_s >= 0) {
      latencies_ms.push_back((now - b.input_event_s) * 1000.0);
      if (latencies_ms.size() > 256) latencies_ms.pop_front();
    }
  }
  if (!b.released && current + 1 == b.video.count()) {   // its last frame is up: a slot frees
    b.released = true;
    --in_flight;
    ++stats.blocks_shown;
  }
  ++stats.frames_shown;
  return true;
}

FrameStatus FrameLoop::Impl::present() {
  FrameTarget target = info.display->begin_frame();
  if (current >= 0 && !shown.empty()) {
    write_view(target);
  } else if (!target.on_device && target.pixels) {
    for (int y = 0; y < target.height; ++y) std::fill_n(target.pixels + y * target.row_pitch, 4 * target.width, uint8_t{0});
  }
  if (Overlay* o = info.display->overlay()) {
    OverlayFrame f;
    for (size_t i = 0; i < kStageNames.size(); ++i) f.stages.push_back({kStageNames[i], stage_ms[i]});
    f.latency_ms = latencies_ms.empty() ? 0.f : static_cast<float>(latencies_ms.back());
    f.state_bytes = stats.state_bytes;
    f.model_info = model.info().label;
    PacerStats p = pacer.stats();
    f.frame_width = target.width;
    f.frame_height = target.height;
    const bool grid = current >= 0 && !shown.empty() && shown.front().row < 0;
    f.branches = grid ? static_cast<int>(shown.front().video.frames.size(0)) : 0;
    f.side_by_side = fidelity && current >= 0 && !grid;
    f.psnr_db = psnr;
    f.world_info = str("latent frame ", stream_next, "  ", p.display_fps, " fps",
                       settings.paused ? "  PAUSED (Pause: resume, .: step)" : "",
                       p.behind ? "  generation slower than real time: frame rate lowered" : "",
                       message.empty() ? "" : "  | ", message);
    f.dropped_frames = stats.presents_dropped;
    o->update(f);
  }
  FrameStatus status = info.display->present();
  if (status == FrameStatus::SwapchainStale) ++stats.presents_stale;
  if (status == FrameStatus::Dropped) ++stats.presents_dropped;
  return status;
}

void FrameLoop::Impl::record() {
  if ((!info.record && !info.observer) || current < 0) return;
  const VideoBlock& v = shown.front().video;
  const int H = static_cast<int>(v.frames.size(3)), W = static_cast<int>(v.frames.size(4));
  record_pixels.resize(static_cast<size_t>(H) * W * 4);
  FrameTarget target{record_pixels.data(), W, H, 4LL * W, false};
  write_view(target);   // what is on screen: one branch, the grid, or model | simulator
  if (info.record) info.record(target, recorded++);
  if (info.observer)
    info.observer->frame_shown({stats.frames_shown - 1, info.clock->now(), shown.front().block, current, &last_input, &last_action,
                                &target, shown.front().row, fidelity && shown.front().row >= 0, shown.front().context});
}

void FrameLoop::Impl::write_view(const FrameTarget& target) {
  const ShownBlock& b = shown.front();
  if (b.row < 0) {
    write_grid(*session, b.video, current, target);
  } else if (fidelity) {
    psnr = fidelity->compose(*session, b.video, b.row, current, target);
  } else {
    session->write_frame(b.video, b.row, current, target);
  }
}

// A new model frame is up: the simulator takes the action row it was made with (the steered
// branch's while the grid is shown), so both show the result of the same inputs.
void FrameLoop::Impl::step_simulator(const ShownBlock& b) {
  if (b.actions.empty()) return;
  const int row = b.row >= 0 ? b.row : std::clamp(settings.steered_branch, 0, static_cast<int>(b.actions.size()) - 1);
  const ActionTensor& a = b.actions[std::min<size_t>(static_cast<size_t>(row), b.actions.size() - 1)];
  fidelity->step(a.row(latent_row(current, b.video.count(), a.frames)));
}

void FrameLoop::Impl::set_fidelity(bool on) {
  if (on == static_cast<bool>(fidelity)) return;
  if (!on) {
    fidelity.reset();
    message = "fidelity view off";
    return;
  }
  try {
    fidelity = std::make_unique<FidelityView>(model, seed);
    message = str("fidelity view: the ", model.info().world, " simulator from seed ", seed, " with the model's inputs");
  } catch (const std::exception& e) {
    live().fidelity_view = settings.fidelity_view = false;
    message = str("fidelity view unavailable: ", e.what());
    WL_LOG_WARN("fidelity", message);
  }
}

void FrameLoop::Impl::end_branching() {
  if (branching.branches() > 0) planner.scale(1.0 / branching.branches());
  branching.cancel();
}

void FrameLoop::Impl::wait_for_next_tick(double tick_start) {
  double next = std::min(pacer.next_due(), tick_start + 1.0 / model.info().fps);
  if (!info.threaded && finished) next = std::min(next, std::max(finished->ready_s, info.clock->now()));
  info.clock->sleep_until(next);
}

void FrameLoop::Impl::discard_queued() {
  pacer.clear();
  // Keep the frame on screen (no black flash); everything queued behind it goes.
  while (shown.size() > 1) shown.pop_back();
  if (!shown.empty()) {
    shown.front().released = true;
    shown.front().stream_first = stream_next - shown.front().video.count();   // ends where the next block starts
  }
  in_flight = 0;
}

void FrameLoop::Impl::replace_session(std::unique_ptr<Session> next) {
  session = std::move(next);
  ++epoch;
  discard_queued();
  end_branching();
}

void FrameLoop::Impl::apply_commands(FrameLoop& loop, const InputSnapshot& input) {
  if (input.keys_pressed.test(kEscapeKey)) quit = true;
  LiveSettings& knobs = live();
  if (input.keys_pressed.test(kPauseKey)) knobs.paused = !knobs.paused;
  if (input.keys_pressed.test(kPeriodKey) && knobs.paused) step_once = true;
  if (input.keys_pressed.test(kF6Key)) branching.request_fork(knobs.branches);
  if (input.keys_pressed.test(kF7Key)) knobs.fidelity_view = !knobs.fidelity_view;
  for (int i = 0; i < branching.branches(); ++i)
    if (input.keys_pressed.test(kDigit1Key + i)) loop.continue_branch(i);
  if (input.keys_pressed.test(kF8Key)) loop.settings().recording = !loop.settings().recording;
  if (input.keys_pressed.test(kF5Key)) loop.save(kQuickSlot);
  if (input.keys_pressed.test(kF9Key)) loop.load(kQuickSlot);
  if (Overlay* o = info.display->overlay()) {
    OverlayCommands c = o->take_commands();
    if (c.save_slot >= 0) loop.save(str("slot", c.save_slot));
    if (c.load_slot >= 0) loop.load(str("slot", c.load_slot));
    if (c.reset) loop.reset();
    if (c.step && knobs.paused) step_once = true;
    if (c.reset_new_seed) loop.reset_with_new_seed();
    if (c.reset_from_simulator) loop.reset_from_simulator();
    if (c.fork) branching.request_fork(knobs.branches);
    if (c.continue_branch >= 0) loop.continue_branch(c.continue_branch);
  }
  set_fidelity(knobs.fidelity_view);
  // A different state policy needs a different state: start afresh with it.
  int index = std::clamp(settings.state_policy, 0, static_cast<int>(policies.size()) - 1);
  if (policies[index] != policy) {
    policy = policies[index];
    loop.reset();
  }
  settings = live();   // what the keys and commands changed applies from this tick
}

// [SECTION] FrameLoop

FrameStatus FrameLoop::tick() {
  Impl& m = *impl_;
  if (!m.failure.empty()) throw Error(str("the world model failed while generating a block: ", m.failure));
  m.settings = settings();                                 // live knobs, copied once per tick
  const double start = m.info.clock->now();
  InputSnapshot input;
  m.stage_ms[0] = time_stage(kStagePollInput, "cpu", [&] {
    input = m.info.display->poll_input();
    input.time_s = start;
  });
  m.last_input = input;
  m.apply_commands(*this, input);                          // Esc, Pause, F5/F9, the overlay's slots and reset
  m.take_finished(false);                                  // a block done since the last tick counts as queued
  ActionTensor actions;
  m.stage_ms[1] = time_stage(kStageActions, "cpu", [&] { actions = m.sample_actions(input); });
  if (actions.frames > 0) {
    if (m.block_actions.size() >= kBlockHistory) {   // bounded history: drop the oldest half
      const size_t drop = kBlockHistory / 2;
      m.block_actions.erase(m.block_actions.begin(), m.block_actions.begin() + drop);
      m.block_starts.erase(m.block_starts.begin(), m.block_starts.begin() + std::min(drop, m.block_starts.size()));
      m.block_history_offset += static_cast<int64_t>(drop);
    }
    m.block_actions.push_back(actions);
  }
  m.start_block(std::move(actions));                       // denoise block -> commit state -> decode, on the worker
  m.take_finished(false);                                  // a finished block joins the pacer's queue
  bool fresh = m.pace(m.info.clock->now());                // the frame due now, if any
  FrameStatus status = FrameStatus::Presented;
  m.stage_ms[5] = time_stage(kStagePresent, "cpu", [&] { status = m.present(); });
  if (fresh) m.stage_ms[6] = time_stage(kStageRecord, "cpu", [&] { m.record(); });
  ++m.stats.ticks;
  m.wait_for_next_tick(start);
  return status;
}

bool FrameLoop::quit_requested() const { return impl_->quit; }
const std::string& FrameLoop::last_message() const { return impl_->message; }
const std::vector<ActionTensor>& FrameLoop::block_actions() const { return impl_->block_actions; }
int64_t FrameLoop::block_history_offset() const { return impl_->block_history_offset; }

void FrameLoop::drain() {
  Impl& m = *impl_;
  if (m.busy) m.take_finished(true);
}

bool FrameLoop::save(const std::string& name) {
  Impl& m = *impl_;
  drain();
  if (m.session->batch() > 1) {
    m.message = str("save ", name, " refused while branching: continue from one branch first (1..", m.session->batch(), ")");
    WL_LOG_WARN("snapshot", m.message);
    return false;
  }
  std::string path = (std::filesystem::path(m.info.snapshot_dir) / (name + ".wlsnap")).string();
  try {
    save_snapshot(path, *m.session, {m.settings.denoise_steps, m.settings.block_size});
    m.message = str("saved ", name, " (latent frame ", m.session->next_frame(), ")");
    WL_LOG_INFO("snapshot", m.message, " to ", path);
    if (m.info.observer) m.info.observer->event({"save", name, path, true, m.message, m.epoch});
    return true;
  } catch (const std::exception& e) {
    m.message = str("save ", name, " failed: ", e.what());
    WL_LOG_WARN("snapshot", m.message);
    if (m.info.observer) m.info.observer->event({"save", name, path, false, m.message, m.epoch});
    return false;
  }
}

bool FrameLoop::load(const std::string& name) {
  Impl& m = *impl_;
  drain();
  std::string path = (std::filesystem::path(m.info.snapshot_dir) / (name + ".wlsnap")).string();
  std::unique_ptr<Session> next;
  Snapshot snapshot;
  try {
    snapshot = read_snapshot(path, m.model);
    next = std::make_unique<Session>(apply_snapshot(snapshot, m.model));
  } catch (const std::exception& e) {
    m.message = str("load ", name, " refused: ", e.what());
    WL_LOG_WARN("snapshot", m.message);
    if (m.info.observer) m.info.observer->event({"load", name, path, false, m.message, m.epoch});
    return false;   // the running session is untouched
  }
  m.replace_session(std::move(next));
  m.seed = m.session->noise().front().seed();
  LiveSettings& s = settings();
  s.seed = static_cast<int>(m.seed);
  s.denoise_steps = snapshot.settings.denoise_steps;
  s.block_size = snapshot.settings.block_frames;
  m.policy = m.session->state().policy().name();
  auto it = std::find(m.policies.begin(), m.policies.end(), m.policy);
  if (it == m.policies.end()) it = m.policies.insert(m.policies.end(), m.policy);
  s.state_policy = static_cast<int>(it - m.policies.begin());
  m.settings = s;
  m.message = str("loaded ", name, " (latent frame ", m.session->next_frame(), ")");
  WL_LOG_INFO("snapshot", m.message, " from ", path);
  if (m.info.observer) m.info.observer->event({"load", name, path, true, m.message, m.epoch});
  return true;
}

void FrameLoop::reset() {
  Impl& m = *impl_;
  drain();
  m.seed = static_cast<uint64_t>(settings().seed);
  m.replace_session(std::make_unique<Session>(m.model, StatePolicy::parse(m.policy), std::vector<uint64_t>{m.seed}));
  m.aggregator.reset();
  m.info.actions->reset(m.seed);
  if (m.fidelity) m.fidelity->reset(m.seed);
  m.message = str("reset: seed ", m.seed, ", state policy ", m.policy);
  WL_LOG_INFO("reset", m.message);
  if (m.info.observer) m.info.observer->event({"reset", "", "", true, m.message, m.epoch});
}

void FrameLoop::reset_with_new_seed() {
  // Derived from the old seed (splitmix64), so a session's sequence of resets is reproducible.
  settings().seed = static_cast<int>(splitmix64(static_cast<uint64_t>(settings().seed)) & 0x7fffffff);
  reset();
}

bool FrameLoop::reset_from_simulator() {
  Impl& m = *impl_;
  const WorldModelInfo& w = m.model.info();
  if (!m.model.can_encode()) {
    m.message = str("reset from simulator: ", w.label, " has no encoder (only worlds whose decoder is our autoencoder do)");
    WL_LOG_WARN("reset", m.message);
    return false;
  }
  drain();
  const uint64_t seed = static_cast<uint64_t>(settings().seed);
  auto next = std::make_unique<Session>(m.model, StatePolicy::parse(m.policy), std::vector<uint64_t>{seed});
  SimulatorContext context;
  VideoBlock video;
  try {
    video = seed_from_simulator(*next, m.model, seed, kSeedFrames, &context);
  } catch (const std::exception& e) {
    m.message = str("reset from simulator failed: ", e.what());
    WL_LOG_WARN("reset", m.message);
    return false;   // the running session is untouched
  }
  m.seed = seed;
  m.replace_session(std::move(next));
  m.aggregator.reset();
  m.info.actions->reset(seed);
  if (m.fidelity) m.fidelity->reset(seed, context.actions);   // it stands where the context ends
  if (video.count() > 0) {   // the last context frame stays up until the first generated block lands
    const int64_t last = video.count() - 1;
    VideoBlock still{video.first_video_frame + last, video.frames.narrow(2, last, 1)};
    m.shown.push_back({std::move(still), m.stream_next, -1.0, false, false});
    m.shown.back().context = true;
    m.shown.back().block = m.stats.blocks_started;   // shown before the next block; a replay regenerates it there
    m.pacer.add_block(1, m.info.clock->now(), 0.0);
    ++m.stream_next;
    ++m.in_flight;
  }
  m.message = str("reset from simulator: seed ", seed, ", ", kSeedFrames, " frames of ", policy_names(w.world).front(),
                  " encoded as context");
  WL_LOG_INFO("reset", m.message);
  if (m.info.observer) m.info.observer->event({"reset", "simulator", "", true, m.message, m.epoch, seed, kSeedFrames});
  return true;
}

void FrameLoop::fork(int k) { impl_->branching.request_fork(k); }
void FrameLoop::continue_branch(int i) {
  Impl& m = *impl_;
  m.branching.request_continue(i);
  // The chosen branch shows at once, in the frames already made too; the session follows at the
  // next block's start.
  if (m.branching.pending_continue() >= 0)
    for (ShownBlock& b : m.shown)
      if (b.row < 0) b.row = m.branching.pending_continue();
}
int FrameLoop::branches() const { return impl_->branching.branches(); }
const std::vector<double>& FrameLoop::block_start_times() const { return impl_->block_starts; }

LoopStats FrameLoop::stats() const {
  const Impl& m = *impl_;
  LoopStats s = m.stats;
  s.pacing = m.pacer.stats();
  std::vector<double> l(m.latencies_ms.begin(), m.latencies_ms.end());
  s.latency_median_ms = percentile(l, 0.5);
  s.latency_p99_ms = percentile(l, 0.99);
  for (size_t i = 0; i < kStageNames.size(); ++i) s.stages.push_back({kStageNames[i], m.stage_ms[i]});
  s.branches = m.branching.branches();
  s.psnr_db = m.psnr;
  s.generation_estimate_s = m.planner.estimate();
  return s;
}

}  // namespace wl
