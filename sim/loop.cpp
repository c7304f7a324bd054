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
// tag and, on CUDA builds, the NVTX range. The pipelining and save-state policies are in loop.h.
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
#include "kernels/core/log.h"
#include "model/device.h"
#include "render/presenter.h"
#include "sim/dataset.h"
#include "sim/session.h"
#include "sim/snapshot.h"
#include "sim/world_model.h"
#if defined(WL_WITH_CUDA) && __has_include(<nvtx3/nvToolsExt.h>)
#include <nvtx3/nvToolsExt.h>
#define WL_NVTX 1
#endif

namespace wl {

namespace {

constexpr int kEscapeKey = 41, kF5Key = 62, kF9Key = 66, kPauseKey = 72, kPeriodKey = 55;   // USB HID usage ids
constexpr const char* kQuickSlot = "quick";

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

// [SECTION] action sources

namespace {

class InputActions final : public ActionSource {
 public:
  explicit InputActions(const Bindings& bindings) : mapper_(bindings) {}
  std::vector<float> next(const InputSnapshot& input) override { return clamp_action(mapper_.action_spec(), mapper_.map(input)); }
  void reset(uint64_t) override { mapper_.reset(); }
  std::string name() const override { return "you"; }

 private:
  InputMapper mapper_;
};

class StickyActions final : public ActionSource {
 public:
  StickyActions(const std::string& world, uint64_t seed) : spec_(action_spec_for(world)), actions_(spec_, seed) {}
  std::vector<float> next(const InputSnapshot&) override { return actions_.next(); }
  void reset(uint64_t seed) override { actions_ = StickyRandomActions(spec_, seed); }
  std::string name() const override { return "policy sticky_random"; }

 private:
  ActionSpec spec_;
  StickyRandomActions actions_;
};

// A scripted policy needs a world to look at: the ground-truth simulator, stepped in lockstep.
class PolicyActions final : public ActionSource {
 public:
  PolicyActions(const std::string& policy, const std::string& world, uint64_t seed)
      : name_(policy), world_(make_world(world)), policy_(make_policy(policy, world)) {
    reset(seed);
  }
  std::vector<float> next(const InputSnapshot&) override {
    std::vector<float> action = clamp_action(world_->action_spec(), policy_->next(*world_));
    world_->step(action);
    return action;
  }
  void reset(uint64_t seed) override {
    world_->reset(seed);
    policy_->reset(seed);
  }
  std::string name() const override { return "policy " + name_; }

 private:
  std::string name_;
  std::unique_ptr<World> world_;
  std::unique_ptr<Policy> policy_;
};

}  // namespace

std::unique_ptr<ActionSource> make_input_actions(const Bindings& bindings) { return std::make_unique<InputActions>(bindings); }

std::unique_ptr<ActionSource> make_scripted_actions(const std::string& policy, const std::string& world, uint64_t seed) {
  if (policy == "sticky_random") return std::make_unique<StickyActions>(world, seed);
  return std::make_unique<PolicyActions>(policy, world, seed);
}

// [SECTION] aggregation

std::vector<float> aggregate_actions(const ActionSpec& spec, std::span<const std::vector<float>> frames) {
  const int A = spec.width();
  std::vector<float> out(A, 0.f);
  if (frames.empty()) return out;
  for (int a = 0; a < A; ++a) {
    const ActionDim& d = spec.dims[a];
    float centre = 0.5f * (d.min + d.max), value = frames.front()[a], sum = 0.f;
    for (const auto& f : frames) {
      WL_CHECK(static_cast<int>(f.size()) == A, "actions: a frame has ", f.size(), " values, the ", spec.world, " spec ", A);
      float v = f[a];
      sum += v;
      switch (d.kind) {
        case ActionKind::Binary: value = std::max(value, v); break;
        case ActionKind::Discrete:
          if (std::abs(v - centre) >= std::abs(value - centre)) value = v;
          break;
        case ActionKind::Continuous: break;
      }
    }
    out[a] = d.kind == ActionKind::Continuous ? sum / static_cast<float>(frames.size()) : value;
  }
  return out;
}

ActionAggregator::ActionAggregator(ActionSpec spec) : spec_(std::move(spec)) { reset(); }

void ActionAggregator::reset() {
  frames_.clear();
  previous_.clear();
  held_.clear();
  event_ = last_event_ = -1.0;
}

void ActionAggregator::add(std::vector<float> action, double time_s) {
  if (!previous_.empty() && action != previous_ && event_ < 0) event_ = time_s;
  previous_ = action;
  frames_.push_back(std::move(action));
}

ActionTensor ActionAggregator::take(int T) {
  WL_CHECK(T >= 1, "actions: a block needs at least one latent frame, asked for ", T);
  const int A = spec_.width();
  ActionTensor out{T, A, std::vector<float>(static_cast<size_t>(T) * A)};
  if (held_.empty()) held_ = aggregate_actions(spec_, {});   // nothing ever sampled: zeros
  const size_t p = frames_.size();
  for (int t = 0; t < T; ++t) {
    // Ceiling division: with fewer frames than rows the newest input lands in the first rows (it
    // takes effect as early as possible) and the later rows hold it.
    size_t begin = (p * t + T - 1) / T, end = (p * (t + 1) + T - 1) / T;
    if (end > begin) held_ = aggregate_actions(spec_, std::span(frames_).subspan(begin, end - begin));
    std::copy(held_.begin(), held_.end(), out.row(t));
  }
  frames_.clear();
  last_event_ = event_;
  event_ = -1.0;
  return out;
}

// [SECTION] the loop

namespace {

struct BlockJob {
  std::vector<ActionTensor> actions;
  SamplerConfig sampler;
  double input_event_s = -1.0;   // earliest action change the block carries
  double start_s = 0.0;
};

struct FinishedBlock {
  VideoBlock video;
  double input_event_s = -1.0;
  double ready_s = 0.0;          // clock time the block may be shown from
  double generation_s = 0.0;     // wall time of stages 3-5
  std::array<float, 3> stage_ms{};
  int64_t state_bytes = 0;       // read here, on the worker, while nothing else touches the session
  std::string error;             // a failure on the worker, shown once and the loop stops
};

// Stages 3-5 for one block; runs on the worker.
FinishedBlock run_block(Session& session, const BlockJob& job, const std::string& device) {
  FinishedBlock out;
  out.input_event_s = job.input_event_s;
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
  bool paused = false, step_once = false;
  std::string failure;                   // the worker's error: tick() throws it
  std::string message;                   // the last save/load/reset result, for the overlay
  bool quit = false;
  std::vector<ActionTensor> block_actions;

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

  Impl(const LoopInfo& i)
      : info(i), model(*i.model), aggregator(i.model->action_spec()), pacer(PacerInfo{.fps = i.model->info().fps}) {}

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
  return failure.empty() && !busy && in_flight < info.max_blocks_in_flight && (!paused || step_once);
}

ActionTensor FrameLoop::Impl::sample_actions(const InputSnapshot& input) {
  aggregator.add(info.actions->next(input), input.time_s);
  if (!can_start()) return {};
  return aggregator.take(std::clamp(settings.block_size, 1, 16));
}

void FrameLoop::Impl::start_block(ActionTensor actions) {
  if (actions.frames == 0) return;
  step_once = false;
  // The worker is idle here, so the session may change: a new seed restarts the noise stream.
  if (static_cast<uint64_t>(settings.seed) != seed) {
    seed = static_cast<uint64_t>(settings.seed);
    session->noise().front() = NoiseSource(seed, 0);
  }
  BlockJob j{{std::move(actions)}, sampler_for_steps(std::clamp(settings.denoise_steps, 1, 50)), aggregator.last_event_time(),
             info.clock->now()};
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
  pacer.add_block(frames, info.clock->now(), info.threaded ? f->generation_s : info.simulated_generation_s);
  shown.push_back({std::move(f->video), stream_next, f->input_event_s, false, false});
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
    session->write_frame(shown.front().video, 0, current, target);
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
    f.world_info = str("latent frame ", stream_next, "  ", p.display_fps, " fps", paused ? "  PAUSED (Pause: resume, .: step)" : "",
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
  if (!info.record || current < 0) return;
  const VideoBlock& v = shown.front().video;
  const int H = static_cast<int>(v.frames.size(3)), W = static_cast<int>(v.frames.size(4));
  record_pixels.resize(static_cast<size_t>(H) * W * 4);
  FrameTarget target{record_pixels.data(), W, H, 4LL * W, false};
  session->write_frame(v, 0, current, target);
  info.record(target, recorded++);
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
  discard_queued();
}

void FrameLoop::Impl::apply_commands(FrameLoop& loop, const InputSnapshot& input) {
  if (input.keys_pressed.test(kEscapeKey)) quit = true;
  if (input.keys_pressed.test(kPauseKey)) paused = !paused;
  if (input.keys_pressed.test(kPeriodKey) && paused) step_once = true;
  if (input.keys_pressed.test(kF5Key)) loop.save(kQuickSlot);
  if (input.keys_pressed.test(kF9Key)) loop.load(kQuickSlot);
  if (Overlay* o = info.display->overlay()) {
    OverlayCommands c = o->take_commands();
    if (c.save_slot >= 0) loop.save(str("slot", c.save_slot));
    if (c.load_slot >= 0) loop.load(str("slot", c.load_slot));
    if (c.reset) loop.reset();
  }
  // A different state policy needs a different state: start afresh with it.
  int index = std::clamp(settings.state_policy, 0, static_cast<int>(policies.size()) - 1);
  if (policies[index] != policy) {
    policy = policies[index];
    loop.reset();
  }
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
  m.apply_commands(*this, input);                          // Esc, Pause, F5/F9, the overlay's slots and reset
  ActionTensor actions;
  m.stage_ms[1] = time_stage(kStageActions, "cpu", [&] { actions = m.sample_actions(input); });
  if (actions.frames > 0) m.block_actions.push_back(actions);
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

void FrameLoop::drain() {
  Impl& m = *impl_;
  if (m.busy) m.take_finished(true);
}

bool FrameLoop::save(const std::string& name) {
  Impl& m = *impl_;
  drain();
  std::string path = (std::filesystem::path(m.info.snapshot_dir) / (name + ".wlsnap")).string();
  try {
    save_snapshot(path, *m.session, {m.settings.denoise_steps, m.settings.block_size});
    m.message = str("saved ", name, " (latent frame ", m.session->next_frame(), ")");
    WL_LOG_INFO("snapshot", m.message, " to ", path);
    return true;
  } catch (const std::exception& e) {
    m.message = str("save ", name, " failed: ", e.what());
    WL_LOG_WARN("snapshot", m.message);
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
  return true;
}

void FrameLoop::reset() {
  Impl& m = *impl_;
  drain();
  m.seed = static_cast<uint64_t>(settings().seed);
  m.replace_session(std::make_unique<Session>(m.model, StatePolicy::parse(m.policy), std::vector<uint64_t>{m.seed}));
  m.aggregator.reset();
  m.info.actions->reset(m.seed);
  m.message = str("reset: seed ", m.seed, ", state policy ", m.policy);
  WL_LOG_INFO("reset", m.message);
}

LoopStats FrameLoop::stats() const {
  const Impl& m = *impl_;
  LoopStats s = m.stats;
  s.pacing = m.pacer.stats();
  std::vector<double> l(m.latencies_ms.begin(), m.latencies_ms.end());
  s.latency_median_ms = percentile(l, 0.5);
  s.latency_p99_ms = percentile(l, 0.99);
  for (size_t i = 0; i < kStageNames.size(); ++i) s.stages.push_back({kStageNames[i], m.stage_ms[i]});
  return s;
}

}  // namespace wl
