// `worldloop rollout` (see rollout.h). Order of work: load the model, build every rollout's action
// source (which reads and checks every file and policy), check or claim --out, then the pending
// rollouts in groups of B: one batched Session per group, block by block (per row: F per-frame
// actions -> ActionAggregator -> [T, A]; then denoise -> commit -> decode once for all rows; then
// each row's frames into its SessionFiles), and each finished rollout renamed into place.
#include "sim/rollout.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>

#include "envs/driving_world.h"
#include "envs/policies.h"
#include "kernels/core/error.h"
#include "kernels/core/log.h"
#include "model/device.h"
#include "sim/dataset.h"
#include "sim/loop.h"
#include "sim/session.h"
#include "sim/session_log.h"
#include "sim/snapshot.h"
#include "sim/world_files.h"
#include "sim/world_model.h"

namespace wl {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

constexpr const char* kRolloutFormat = "worldloop-rollout";

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// [SECTION] action sources (one action [A] per video frame)

class FileActions final : public ActionSource {
 public:
  FileActions(std::vector<FrameLine> lines, std::string path) : lines_(std::move(lines)), path_(std::move(path)) {}
  std::vector<float> next(const InputSnapshot&) override { return lines_[std::min(next_++, lines_.size() - 1)].action; }
  void reset(uint64_t) override { next_ = 0; }
  std::string name() const override { return "actions " + path_; }

 private:
  std::vector<FrameLine> lines_;
  std::string path_;
  size_t next_ = 0;
};

// Target speed (m/s) and path curvature (1/m, + left) per segment of frames -> driving controls,
// through the driving simulator stepped in lockstep (its ego speed closes the speed loop).
struct Segment {
  int frames = 1;
  float speed = 0.f, curvature = 0.f;
};

class TrajectoryActions final : public ActionSource {
 public:
  TrajectoryActions(std::vector<Segment> segments, std::string path, uint64_t seed)
      : segments_(std::move(segments)), path_(std::move(path)), world_(WorldConfig{64, 64}) {
    reset(seed);
  }
  std::vector<float> next(const InputSnapshot&) override {
    const Segment* s = &segments_.back();
    int64_t start = 0;
    for (const Segment& seg : segments_) {
      if (frame_ < start + seg.frames) {
        s = &seg;
        break;
      }
      start += seg.frames;
    }
    ++frame_;
    const float v = world_.ego().speed;
    // The bicycle model: curvature = tan(wheel angle) / wheel base; + steer turns right.
    float wheel = std::atan(DrivingWorld::kWheelBase * s->curvature);
    float steer = std::clamp(-wheel * (1.f + 0.08f * v) / DrivingWorld::kMaxSteerRad, -1.f, 1.f);
    float error = s->speed - v;
    std::vector<float> action = {steer, std::clamp(0.5f * error, 0.f, 1.f), std::clamp(-0.3f * error, 0.f, 1.f)};
    world_.step(action);
    return action;
  }
  void reset(uint64_t seed) override {
    world_.reset(seed);
    frame_ = 0;
  }
  std::string name() const override { return "trajectory " + path_; }

 private:
  std::vector<Segment> segments_;
  std::string path_;
  DrivingWorld world_;
  int64_t frame_ = 0;
};

std::vector<Segment> read_trajectory(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  WL_CHECK(in.good(), "--trajectory ", path, " cannot be opened; hint: a jsonl file, one {\"frames\": 40, \"speed\": 10, ",
           "\"curvature\": 0.01} per segment (m/s, 1/m, + left)");
  std::vector<Segment> out;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = str("--trajectory ", path, ":", n);
    try {
      Json j = Json::parse(line);
      Segment s{j.at("frames").get<int>(), j.at("speed").get<float>(), j.at("curvature").get<float>()};
      WL_CHECK(s.frames >= 1 && s.speed >= 0 && s.speed <= DrivingWorld::kMaxSpeed && std::abs(s.curvature) <= 0.5f, where,
               ": frames must be >= 1, speed in [0, ", DrivingWorld::kMaxSpeed, "] m/s, |curvature| <= 0.5 1/m");
      out.push_back(s);
    } catch (const Error&) {
      throw;
    } catch (const std::exception& e) {
      WL_FAIL(where, ": expected {\"frames\": N, \"speed\": m/s, \"curvature\": 1/m} (", e.what(), ")");
    }
  }
  WL_CHECK(!out.empty(), "--trajectory ", path, " holds no segments");
  return out;
}

// One rollout: which source, which seed, and how to make its action source.
struct Plan {
  int id = 0;
  std::string kind, arg;   // "policy" NAME, "actions" FILE, "trajectory" FILE
  uint64_t seed = 0;
};

struct Sources {
  std::vector<std::vector<FrameLine>> files;
  std::vector<std::vector<Segment>> trajectories;
  std::string digest;   // FNV-1a of the files' contents: a rerun with edited files is another run
};

std::unique_ptr<ActionSource> make_source(const Plan& p, const RolloutOptions& o, const Sources& s, const std::string& world) {
  if (p.kind == "policy") return make_scripted_actions(p.arg, world, p.seed);
  auto index = [&](const std::vector<std::string>& list) { return std::find(list.begin(), list.end(), p.arg) - list.begin(); };
  if (p.kind == "actions") return std::make_unique<FileActions>(s.files[index(o.action_files)], p.arg);
  return std::make_unique<TrajectoryActions>(s.trajectories[index(o.trajectories)], p.arg, p.seed);
}

std::string rollout_name(int id) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "rollout_%04d", id);
  return buffer;
}

// [SECTION] --out: rollout.json pins the arguments

void claim_out(const fs::path& out, const Json& header) {
  const fs::path path = out / "rollout.json";
  const char* hint = "; hint: choose another --out, or repeat that run's arguments to resume it (nothing was written)";
  if (fs::exists(path)) {
    Json found;
    try {
      found = Json::parse(slurp(path.string()));
    } catch (const std::exception& e) {
      WL_FAIL(path.string(), " is not valid JSON (", e.what(), ")", hint);
    }
    for (const auto& [key, value] : header.items())
      WL_CHECK(found.contains(key) && found[key] == value, "--out ", out.string(), " holds a different rollout run: its '", key,
               "' is ", found.contains(key) ? found[key].dump() : "missing", ", this run's is ", value.dump(), hint);
    return;
  }
  if (fs::exists(out)) {
    WL_CHECK(fs::is_directory(out) && fs::is_empty(out), "--out ", out.string(),
             " exists and is not an empty directory, nor a rollout run (no rollout.json); hint: name a new or empty directory ",
             "(nothing was written)");
  }
  fs::create_directories(out);
  write_file_atomic(path.string(), header.dump(2) + "\n");
}

// [SECTION] one group of rollouts, batched

struct RowState {
  Plan plan;
  fs::path tmp;
  std::unique_ptr<ActionSource> source;
  std::unique_ptr<ActionAggregator> aggregator;
  std::unique_ptr<SessionFiles> files;
  SessionHeader header;
  std::vector<double> action_sum;
  std::vector<uint8_t> previous;   // the last frame, for the motion metric
  double motion = 0.0, luma = 0.0;
  int64_t blocks = 0;
};

struct Progress {
  bool on = false;
  int total = 0;
  int64_t made = 0;   // frames made by this run
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  void show(int done, int64_t frame, int frames) const {
    if (!on) return;
    constexpr int kWidth = 24;
    int filled = std::clamp(static_cast<int>(kWidth * (done + static_cast<double>(frame) / frames) / std::max(total, 1)), 0, kWidth);
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::fprintf(stderr, "\rrollout [%s%s] %d/%d rollouts, frame %lld/%d, %.1f frames/s ", std::string(filled, '#').c_str(),
                 std::string(kWidth - filled, '.').c_str(), done, total, static_cast<long long>(frame), frames,
                 made / std::max(s, 1e-6));
    std::fflush(stderr);
  }
};

// Runs one group; adds the time spent generating (denoise, commit, decode; the device synchronised)
// to `generation_s`, which leaves out reading frames back, the logs, metrics and the encoder.
int64_t run_group(const RolloutOptions& o, bool video, const WorldModel& model, const Sources& sources, std::vector<Plan> group,
                  const fs::path& out, const Snapshot* from, const SessionHeader& base, int& done, Progress& progress,
                  double& generation_s) {
  const ActionSpec& spec = model.action_spec();
  const int T = o.block_frames > 0 ? o.block_frames : model.info().block_frames;
  const int steps = o.denoise_steps > 0 ? o.denoise_steps : model.info().denoise_steps;
  const int W = 8 * model.info().latent_w, H = 8 * model.info().latent_h;
  std::vector<uint64_t> seeds;
  for (const Plan& p : group) seeds.push_back(p.seed);
  // On CPU the rows run as B sessions of one row in lockstep: fp32 CPU kernels are not batch
  // invariant (a row's numbers move by ~1e-6 with its neighbours), so only this keeps batched equal
  // to one at a time bit for bit, and the CPU gains nothing from a batch dimension anyway. On CUDA
  // one session holds all B rows, for throughput; rows then match one at a time to fp32 rounding.
  const bool lockstep = model.latent_options().device().is_cpu();
  auto make = [&](const std::vector<uint64_t>& s) {
    return from ? apply_snapshot(*from, model).fork(s) : Session(model, StatePolicy::parse(model.info().state_policy), s);
  };
  std::vector<Session> sessions;
  if (lockstep)
    for (uint64_t seed : seeds) sessions.push_back(make({seed}));
  else
    sessions.push_back(make(seeds));
  auto lane = [&](size_t b) { return std::pair<Session*, int64_t>(&sessions[lockstep ? b : 0], lockstep ? 0 : static_cast<int64_t>(b)); };
  const Session& session = sessions.front();
  std::vector<RowState> rows(group.size());
  for (size_t b = 0; b < group.size(); ++b) {
    RowState& r = rows[b];
    r.plan = group[b];
    r.tmp = out / ("." + rollout_name(r.plan.id) + ".tmp");
    fs::remove_all(r.tmp);
    fs::create_directories(r.tmp);
    r.source = make_source(r.plan, o, sources, spec.world);
    r.aggregator = std::make_unique<ActionAggregator>(spec);
    r.files = std::make_unique<SessionFiles>(r.tmp.string(), spec, W, H, model.info().fps, video, true);
    r.header = base;
    r.header.seed = r.plan.seed;
    r.header.player = r.source->name();
    r.header.settings = {{0, steps, r.plan.seed, T, session.state().policy().name()}};
    r.header.epochs = {{0, from ? "snapshot" : "fresh", from ? "snapshots/epoch_0.wlsnap" : ""}};
    if (from) {
      fs::create_directories(r.tmp / "snapshots");
      fs::copy_file(from->path, r.tmp / "snapshots/epoch_0.wlsnap");
    }
    r.action_sum.assign(spec.width(), 0.0);
  }
  const SamplerConfig sampler = sampler_for_steps(model.info(), steps);
  std::vector<uint8_t> pixels(static_cast<size_t>(W) * H * 4);
  FrameTarget target{pixels.data(), W, H, 4LL * W, false};
  int64_t frame = 0;
  for (int64_t block = 0; frame < o.frames; ++block) {
    const int F = static_cast<int>(model.info().video_frames(T, !session.recent_latents().defined()));   // frames this block decodes
    std::vector<ActionTensor> actions;
    std::vector<std::vector<std::vector<float>>> per_frame(rows.size());
    std::vector<BlockLine> lines;
    for (size_t b = 0; b < rows.size(); ++b) {
      for (int f = 0; f < F; ++f) {
        per_frame[b].push_back(clamp_action(spec, rows[b].source->next(InputSnapshot{})));
        rows[b].aggregator->add(per_frame[b].back(), 0.0);
      }
      actions.push_back(rows[b].aggregator->take(T));
      auto [s, row] = lane(b);
      lines.push_back({block, 0, s->next_frame(), s->next_video_frame(), actions.back(), s->noise()[row].seed(),
                       s->noise()[row].counter(), steps, s->state().policy().name()});
    }
    std::vector<VideoBlock> videos;
    const auto generation_start = std::chrono::steady_clock::now();
    for (size_t i = 0; i < sessions.size(); ++i) {
      std::vector<ActionTensor> rows_actions = lockstep ? std::vector<ActionTensor>{actions[i]} : actions;
      LatentBlock latents = sessions[i].denoise_block(rows_actions, sampler);
      sessions[i].commit_state(latents);
      videos.push_back(sessions[i].decode(latents));
    }
    synchronize(o.device);   // CUDA queues asynchronously: the block is generated only once this returns
    generation_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - generation_start).count();
    for (const VideoBlock& v : videos)
      WL_CHECK(v.count() == F, "rollout: block ", block, " decoded to ", v.count(), " frames, expected ", F, " (a bug)");
    for (size_t b = 0; b < rows.size(); ++b) {
      RowState& r = rows[b];
      r.files->block(lines[b]);
      ++r.blocks;
      for (int f = 0; f < F && frame + f < o.frames; ++f) {
        auto [s, row] = lane(b);
        s->write_frame(videos[lockstep ? b : 0], row, f, target);
        const int64_t index = frame + f;
        r.files->frame({index, index / model.info().fps, block, f, per_frame[b][f], std::nullopt, frame_fnv1a64(target)}, target);
        for (int a = 0; a < spec.width(); ++a) r.action_sum[a] += per_frame[b][f][a];
        double luma = 0.0, motion = 0.0;
        for (size_t i = 0; i < pixels.size(); i += 4) {
          luma += 0.2126 * pixels[i] + 0.7152 * pixels[i + 1] + 0.0722 * pixels[i + 2];
          if (!r.previous.empty())
            for (int c = 0; c < 3; ++c) motion += std::abs(static_cast<int>(pixels[i + c]) - static_cast<int>(r.previous[i + c]));
        }
        r.luma += luma / (255.0 * W * H);
        r.motion += motion / (255.0 * 3 * W * H);
        r.previous = pixels;
      }
    }
    progress.made += std::min<int64_t>(F, o.frames - frame) * static_cast<int64_t>(rows.size());
    frame += F;
    progress.show(done, std::min<int64_t>(frame, o.frames), o.frames);
  }
  for (RowState& r : rows) {
    const int64_t n = o.frames;
    r.files->finish();
    r.header.frames = r.files->frames();
    r.header.blocks = r.blocks;
    r.header.frames_fnv1a64 = r.files->hash();
    r.header.complete = true;
    write_file_atomic((r.tmp / "session.json").string(), session_json(r.header));
    Json m;
    m["rollout"] = r.plan.id;
    m["source"] = r.source->name();
    m["seed"] = r.plan.seed;
    m["frames"] = n;
    m["blocks"] = r.blocks;
    m["frames_fnv1a64"] = hex64(r.files->hash());
    m["mean_luma"] = r.luma / n;
    m["mean_motion"] = n > 1 ? r.motion / (n - 1) : 0.0;   // mean |frame - previous| per channel, 0..1
    Json mean = Json::object();
    for (int a = 0; a < spec.width(); ++a) mean[spec.dims[a].name] = r.action_sum[a] / n;
    m["mean_action"] = mean;
    write_file_atomic((r.tmp / "metrics.json").string(), m.dump(2) + "\n");
    fs::rename(r.tmp, out / rollout_name(r.plan.id));   // published only when complete
    ++done;
  }
  return o.frames * static_cast<int64_t>(rows.size());
}

}  // namespace

RolloutSummary run_rollout(const RolloutOptions& o, std::ostream& out) {
  auto start = std::chrono::steady_clock::now();
  WL_CHECK(!o.out.empty(), "--out is required: the directory to write the rollouts into");
  WL_CHECK(o.frames >= 1, "--frames must be at least 1, got ", o.frames);
  WL_CHECK(o.batch >= 1 && o.batch <= 64, "--batch must be 1..64, got ", o.batch);
  WL_CHECK(o.seeds >= 1, "--seeds must be at least 1, got ", o.seeds);
  WL_CHECK(o.branch == 0 || !o.from.empty(), "--branch K needs --from FILE.wlsnap: the saved state to fork from");
  WL_CHECK(o.branch >= 0 && o.branch <= 64, "--branch must be 1..64, got ", o.branch);
  WL_CHECK(o.random_tiny != !o.model_dir.empty(), "rollout needs a world: --model DIR or --random-tiny (random weights)");
  WL_CHECK(o.video || !o.video_required, "--video and --no-video contradict each other; hint: pass one of them");
  // Without FFmpeg (-DWL_RECORDING=OFF, as the GPU build of tools/gpu_run.sh) there is no video:
  // asked for explicitly that is an error; by default the rollouts are made without it, said once.
#ifdef WL_WITH_RECORDING
  const bool video = o.video;
#else
  WL_CHECK(!o.video_required, "--video: this build has no recording (FFmpeg; configured with -DWL_RECORDING=OFF), so no ",
           "video.mp4 can be written; hint: rebuild with -DWL_RECORDING=ON, or leave --video away to write the actions, ",
           "metrics and summary without video (nothing was written)");
  const bool video = false;
  if (o.video)
    WL_LOG_WARN("rollout", "no video.mp4 is written: this build has no recording (FFmpeg; -DWL_RECORDING=OFF); each rollout ",
                "still gets actions.jsonl, blocks.jsonl, session.json (replayable) and metrics.json");
#endif
  ModelSource source;
  if (o.random_tiny) {
    source.world = o.world;
  } else {
    source.kind = "dir";
    source.dir = fs::absolute(locate_world(o.model_dir).dir).string();
  }
  std::unique_ptr<WorldModel> model = load_model(source, o.device);
  const std::string world = model->info().world;
  std::optional<Snapshot> from;
  if (!o.from.empty()) from = read_snapshot(o.from, *model);   // names the file and what is wrong

  // Every source is built once here, so a bad file or policy is refused before anything is written.
  Sources sources;
  uint64_t digest = kFnvOffset;
  std::vector<std::pair<std::string, std::string>> kinds;
  for (const std::string& p : o.policies) {
    try {
      make_scripted_actions(p, world, 0);
    } catch (const std::exception& e) {
      WL_FAIL("--policy ", p, ": ", e.what());
    }
    kinds.emplace_back("policy", p);
  }
  for (const std::string& f : o.action_files) {
    try {
      sources.files.push_back(read_frame_lines(f, model->action_spec()));
    } catch (const std::exception& e) {
      WL_FAIL("--actions ", f, ": ", e.what());
    }
    WL_CHECK(!sources.files.back().empty(), "--actions ", f, " holds no frames; hint: an actions.jsonl from `play --record` ",
             "or `rollout`");
    std::string bytes = slurp(f);
    digest = fnv1a({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()}, digest);
    kinds.emplace_back("actions", f);
  }
  for (const std::string& f : o.trajectories) {
    WL_CHECK(world == "driving", "--trajectory ", f, ": trajectories drive the driving world, this model plays ", world,
             "; hint: use --policy or --actions");
    sources.trajectories.push_back(read_trajectory(f));
    std::string bytes = slurp(f);
    digest = fnv1a({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()}, digest);
    kinds.emplace_back("trajectory", f);
  }
  if (kinds.empty()) kinds.emplace_back("policy", policy_names(world).front());
  const int seeds = o.branch > 0 ? o.branch : o.seeds;
  std::vector<Plan> plans;
  for (const auto& [kind, arg] : kinds)
    for (int s = 0; s < seeds; ++s) plans.push_back({static_cast<int>(plans.size()), kind, arg, o.seed + static_cast<uint64_t>(s)});

  Json header;
  header["format"] = kRolloutFormat;
  header["version"] = 1;
  header["model_hash"] = model->hash_hex();
  header["model_label"] = model->info().label;
  header["device"] = o.device;
  header["frames"] = o.frames;
  header["block_frames"] = o.block_frames > 0 ? o.block_frames : model->info().block_frames;
  header["denoise_steps"] = o.denoise_steps > 0 ? o.denoise_steps : model->info().denoise_steps;
  header["video"] = video;
  header["branch_from"] = from ? from->metadata.at("checksum") : "";
  header["sources_fnv1a64"] = hex64(digest);
  header["rollouts"] = Json::array();
  for (const Plan& p : plans) header["rollouts"].push_back({{"rollout", p.id}, {p.kind, p.arg}, {"seed", p.seed}});
  const fs::path dir(o.out);
  claim_out(dir, header);
  for (const auto& entry : fs::directory_iterator(dir)) {   // half-written rollouts of a killed run
    const std::string name = entry.path().filename().string();
    if (name.rfind(".rollout_", 0) == 0 && name.size() > 4 && name.substr(name.size() - 4) == ".tmp") fs::remove_all(entry.path());
  }

  RolloutSummary summary;
  std::vector<Plan> pending;
  for (const Plan& p : plans) {
    if (fs::exists(dir / rollout_name(p.id) / "metrics.json"))
      ++summary.kept;
    else
      pending.push_back(p);
  }
  SessionHeader base = make_session_header(*model, source, o.device, o.seed, "", "rollout");
  Progress progress{o.progress, static_cast<int>(plans.size())};
  int done = summary.kept;
  for (size_t i = 0; i < pending.size(); i += static_cast<size_t>(o.batch)) {
    std::vector<Plan> group(pending.begin() + static_cast<std::ptrdiff_t>(i),
                            pending.begin() + static_cast<std::ptrdiff_t>(std::min(pending.size(), i + o.batch)));
    summary.frames_made += run_group(o, video, *model, sources, group, dir, from ? &*from : nullptr, base, done, progress,
                                     summary.generation_seconds);
    summary.made += static_cast<int>(group.size());
  }
  if (o.progress) std::fputc('\n', stderr);
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  Json report;
  report["rollouts"] = Json::array();
  char line[256];
  std::snprintf(line, sizeof line, "%-13s %-32s %6s %7s %-16s %8s %8s\n", "rollout", "source", "seed", "frames", "fnv1a64",
                "luma", "motion");
  out << line;
  for (const Plan& p : plans) {
    Json m = Json::parse(slurp((dir / rollout_name(p.id) / "metrics.json").string()));
    std::snprintf(line, sizeof line, "%-13s %-32.32s %6llu %7lld %-16s %8.4f %8.4f\n", rollout_name(p.id).c_str(),
                  m["source"].get<std::string>().c_str(), static_cast<unsigned long long>(p.seed),
                  static_cast<long long>(m["frames"].get<int64_t>()), m["frames_fnv1a64"].get<std::string>().c_str(),
                  m["mean_luma"].get<double>(), m["mean_motion"].get<double>());
    out << line;
    report["rollouts"].push_back(std::move(m));
  }
  const double fps = summary.frames_made / std::max(summary.seconds, 1e-9);
  const double generation_fps = summary.frames_made > 0 ? summary.frames_made / std::max(summary.generation_seconds, 1e-9) : 0.0;
  report["made"] = summary.made;
  report["kept"] = summary.kept;
  report["frames_made"] = summary.frames_made;
  report["seconds"] = summary.seconds;
  report["frames_per_second"] = fps;
  report["generation_seconds"] = summary.generation_seconds;
  report["generation_frames_per_second"] = generation_fps;
  report["batch"] = o.batch;
  report["device"] = o.device;
  report["video"] = video;
  write_file_atomic((dir / "summary.json").string(), report.dump(2) + "\n");
  char rates[160];
  std::snprintf(rates, sizeof rates, "%.2f frames/s generating (denoise + commit + decode, %.3f s), %.2f frames/s overall",
                generation_fps, summary.generation_seconds, fps);
  out << "rollout " << o.out << ": " << summary.made << " made, " << summary.kept << " already there, " << summary.frames_made
      << " frames in " << summary.seconds << " s (" << rates << ", batch " << o.batch << ", " << o.device
      << (video ? "" : ", no video") << ", " << model->info().label << ")\n";
  return summary;
}

}  // namespace wl
