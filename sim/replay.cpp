// `worldloop replay` (see replay.h): read session.json, blocks.jsonl and actions.jsonl, check that
// they fit together, then one pass over the blocks in order: start the block's epoch if it is new,
// continue from the branch the log names or fork into the branches it lists, set the noise
// streams, denoise -> commit -> decode, and hash and compare the frames the recording showed from
// that block (one batch row, or the grid of all of them). A ground-truth session instead resets the
// simulator as its epochs say and steps it with the recorded actions.
#include "sim/replay.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <memory>
#include <ostream>
#include <utility>

#include "envs/world.h"
#include "kernels/core/error.h"
#include "kernels/core/log.h"
#include "sim/branching.h"
#include "sim/fidelity.h"
#include "sim/session.h"
#include "sim/session_log.h"
#include "sim/snapshot.h"
#include "sim/view.h"
#include "sim/world_files.h"
#include "sim/world_model.h"
#ifdef WL_WITH_RECORDING
#include "render/recorder.h"
#endif

namespace wl {
namespace {

namespace fs = std::filesystem;

std::string in_dir(const std::string& dir, const std::string& name) { return (fs::path(dir) / name).string(); }

// The session an epoch starts from; for a simulator-seeded epoch, `context` gets the decoded context
// (the loop showed its last frame before the epoch's first block).
Session start_epoch(const std::string& dir, const SessionHeader& header, const BlockLine& first, const WorldModel& model,
                    VideoBlock& context) {
  const EpochOrigin* origin = nullptr;
  for (const EpochOrigin& e : header.epochs)
    if (e.epoch == first.epoch) origin = &e;
  const std::string json = in_dir(dir, "session.json");
  WL_CHECK(origin, json, ": block ", first.block, " runs in epoch ", first.epoch, ", which 'epochs' does not list; hint: ",
           "the session directory is incomplete or damaged");
  context = VideoBlock{};
  if (origin->origin == "fresh") return Session(model, StatePolicy::parse(first.state_policy), {first.seed});
  if (origin->origin == "simulator_context") {   // FrameLoop::reset_from_simulator, again
    Session session(model, StatePolicy::parse(first.state_policy), {origin->seed});
    context = seed_from_simulator(session, model, origin->seed, static_cast<int>(origin->context_frames));
    return session;
  }
  WL_CHECK(origin->origin == "snapshot", json, ": epoch ", first.epoch, " cannot be replayed: its origin is '", origin->origin,
           "' (", origin->file, "); hint: replay handles epochs that start fresh (reset) or from a loaded snapshot");
  const std::string path = in_dir(dir, origin->file);
  WL_CHECK(fs::exists(path), json, ": epoch ", first.epoch, " starts from ", path, ", which is missing; hint: copy the whole ",
           "session directory, snapshots/ included");
  return apply_snapshot(read_snapshot(path, model), model);
}

// The event that began `epoch` ("reset from simulator at frame 40"), for messages.
std::string event_of_epoch(const SessionHeader& header, int64_t epoch) {
  for (const SessionEvent& e : header.events)
    if (e.epoch == epoch && e.ok && (e.kind == "reset" || e.kind == "load"))
      return str(e.kind, e.name.empty() ? "" : " " + e.name, " at frame ", e.frame);
  return "the start of the recording";
}

// Refuses, before any work, what replay cannot regenerate: a frame shown in the fidelity view, an
// epoch seeded from simulator frames, an epoch whose snapshot could not be kept.
void refuse_unreplayable(const std::string& dir, const SessionHeader& header, const std::vector<BlockLine>& blocks,
                         const std::vector<FrameLine>& frames) {
  const std::string actions_path = in_dir(dir, "actions.jsonl"), json = in_dir(dir, "session.json");
  for (const FrameLine& f : frames)
    WL_CHECK(!f.side_by_side, "replay refused: ", actions_path, ": frame ", f.frame, " was shown in the fidelity view (model | ",
             "simulator side by side, F7), which replay does not regenerate: the simulator half depends on when the view was ",
             "switched on, which the session does not record; hint: record with the fidelity view off");
  std::vector<int64_t> seen;
  for (const BlockLine& b : blocks) {
    if (std::find(seen.begin(), seen.end(), b.epoch) != seen.end()) continue;
    seen.push_back(b.epoch);
    for (const EpochOrigin& e : header.epochs) {
      if (e.epoch != b.epoch) continue;
      WL_CHECK(e.origin != "simulator_context" || e.context_frames > 0, "replay refused: ", json, ": epoch ", e.epoch,
               " began with ", event_of_epoch(header, e.epoch), " (reset from simulator), recorded without its seed and ",
               "frame count (before worldloop replayed such epochs); hint: record it again");
      WL_CHECK(e.origin != "unavailable", "replay refused: ", json, ": epoch ", e.epoch, " began with ",
               event_of_epoch(header, e.epoch), ", but its snapshot could not be kept in the session (", e.file, ")");
    }
  }
}

// [SECTION] ground truth: the simulator, reset and stepped with the recorded actions

ReplayResult replay_simulator(const std::string& dir, const SessionHeader& header,
                              const std::function<void(const FrameTarget&, int64_t)>& sink) {
  const std::string json = in_dir(dir, "session.json"), actions_path = in_dir(dir, "actions.jsonl");
  WL_CHECK(header.width == header.height && header.width >= 16 && header.width <= 1024, json, ": a ground-truth session of ",
           header.width, "x", header.height, " pixels; the simulators make square frames of 16..1024");
  std::unique_ptr<World> world = make_world(header.world, WorldConfig{header.width, header.height});
  const ActionSpec& spec = world->action_spec();
  std::vector<FrameLine> frames = read_frame_lines(actions_path, spec);
  WL_CHECK(!frames.empty(), actions_path, " holds no frames; hint: the recording stopped before its first frame");
  WL_CHECK(!header.epochs.empty(), json, ": 'epochs' is empty; hint: the session directory is incomplete or damaged");
  auto origin_of = [&](int64_t epoch) -> const EpochOrigin& {
    for (const EpochOrigin& e : header.epochs)
      if (e.epoch == epoch) {
        WL_CHECK(e.origin == "simulator", json, ": epoch ", epoch, " of a ground-truth session has origin '", e.origin,
                 "', expected 'simulator'");
        return e;
      }
    WL_FAIL(json, ": epoch ", epoch, " is not listed in 'epochs'; hint: the session directory is incomplete or damaged");
  };
  // Episode starts inside the recording: frame index -> epoch.
  std::map<int64_t, int64_t> resets;
  for (const SessionEvent& e : header.events)
    if (e.kind == "reset" && e.ok) resets[e.frame] = e.epoch;

  const EpochOrigin& first = origin_of(header.epochs.front().epoch);
  world->reset(first.seed);
  if (first.preroll > 0) {   // the recording started mid-episode: step to where it started
    const std::string path = in_dir(dir, first.file);
    std::vector<FrameLine> steps = read_frame_lines(path, spec);
    WL_CHECK(static_cast<int64_t>(steps.size()) == first.preroll, path, " holds ", steps.size(), " steps, session.json's ",
             "epoch ", first.epoch, " says ", first.preroll, "; hint: the session directory is incomplete or damaged");
    for (const FrameLine& s : steps) world->step(s.action);
  }
  ReplayResult result;
  const int W = header.width, H = header.height;
  std::vector<uint8_t> pixels(static_cast<size_t>(W) * H * 4);
  FrameTarget target{pixels.data(), W, H, 4LL * W, false};
  uint64_t hash = kFnvOffset;
  for (size_t i = 0; i < frames.size(); ++i) {
    const FrameLine& line = frames[i];
    if (i > 0) {
      WL_CHECK(line.frame == frames[i - 1].frame + 1, actions_path, ": frame ", line.frame, " follows frame ",
               frames[i - 1].frame, "; a ground-truth recording holds every frame");
      auto reset = resets.find(line.frame);
      if (reset != resets.end() && reset->second != header.epochs.front().epoch) {
        const EpochOrigin& o = origin_of(reset->second);
        WL_CHECK(o.preroll == 0, json, ": epoch ", o.epoch, " began inside the recording, so it has no steps before it");
        world->reset(o.seed);
      } else {
        world->step(frames[i - 1].action);
      }
    }
    write_rgb_to_target(world->frame().rgb, target);
    const uint64_t h = frame_fnv1a64(target);
    for (int y = 0; y < H; ++y) hash = fnv1a({pixels.data() + static_cast<size_t>(y) * W * 4, static_cast<size_t>(W) * 4}, hash);
    if (h != line.fnv1a64 && result.differing++ == 0) {
      result.first_mismatch = line.frame;
      result.recorded = line.fnv1a64;
      result.replayed = h;
    }
    ++result.frames;
    if (sink) sink(target, line.frame);
  }
  result.frames_fnv1a64 = hash;
  return result;
}

}  // namespace

ReplayResult replay_session(const std::string& dir, const WorldModel& model, const ReplayOptions& o,
                            const std::function<void(const FrameTarget&, int64_t)>& sink) {
  WL_CHECK(fs::is_directory(dir), "replay: ", dir, " is not a directory; hint: name a directory written by `play --record DIR`");
  SessionHeader header = read_session_json(in_dir(dir, "session.json"));
  WL_CHECK(header.kind != "ground_truth", "replay: ", dir, " is a ground-truth session (the ", header.world,
           " simulator), which has no model to replay with; hint: replay_ground_truth() or `worldloop replay` replays it");
  ReplayResult result;
  result.model_matches = header.model_hash == model.hash_hex();
  WL_CHECK(result.model_matches || o.force, "replay refused: ", dir, " was recorded with model ", header.model_hash, " ('",
           header.model_label, "'), this model is ", model.hash_hex(), " ('", model.info().label,
           "'), so its frames cannot match; hint: replay with the recorded model (session.json names it), or pass --force to ",
           "replay anyway and see where the frames differ");
  WL_CHECK(header.world == model.info().world, "replay refused: ", dir, " was recorded in the ", header.world,
           " world, this model plays ", model.info().world, " (other actions)");
  std::vector<BlockLine> blocks = read_block_lines(in_dir(dir, "blocks.jsonl"));
  std::vector<FrameLine> frames = read_frame_lines(in_dir(dir, "actions.jsonl"), model.action_spec());
  const std::string blocks_path = in_dir(dir, "blocks.jsonl"), actions_path = in_dir(dir, "actions.jsonl");
  WL_CHECK(!blocks.empty(), blocks_path, " holds no blocks; hint: the recording stopped before the first block");

  // Frames per block, in the order they were shown.
  std::map<int64_t, std::vector<const FrameLine*>> shown;
  for (size_t i = 0; i < frames.size(); ++i) {
    WL_CHECK(i == 0 || frames[i].frame > frames[i - 1].frame, actions_path, ": frame ", frames[i].frame,
             " does not follow frame ", frames[i - 1].frame);
    shown[frames[i].block].push_back(&frames[i]);
  }
  for (size_t i = 1; i < blocks.size(); ++i)
    WL_CHECK(blocks[i].block > blocks[i - 1].block, blocks_path, ": block ", blocks[i].block, " does not follow block ",
             blocks[i - 1].block);
  for (const auto& [b, list] : shown)
    WL_CHECK(std::any_of(blocks.begin(), blocks.end(), [b = b](const BlockLine& l) { return l.block == b; }), actions_path,
             ": frame ", list.front()->frame, " comes from block ", b, ", which ", blocks_path, " does not hold");

  // What replay cannot regenerate is refused before any work, naming the event and the reason.
  refuse_unreplayable(dir, header, blocks, frames);

  const int64_t A = model.dit().config().action_dims;
  VideoBlock context;   // the seeded context of a simulator-seeded epoch, until its first block
  std::unique_ptr<Session> session;
  int64_t epoch = -1;
  uint64_t hash = kFnvOffset;
  std::vector<uint8_t> pixels;
  for (const BlockLine& b : blocks) {
    const std::string where = str(blocks_path, ": block ", b.block);
    WL_CHECK(b.actions.dims == A, where, " has ", b.actions.dims, " action dims, the model takes ", A);
    if (b.epoch != epoch) {
      session = std::make_unique<Session>(start_epoch(dir, header, b, model, context));
      epoch = b.epoch;
    }
    // Branching (sim/branching.h): a continue takes one row back out of the batch, a fork repeats
    // the one sequence into the K rows the block lists, each with its own seed.
    if (b.continued_from >= 0) {
      WL_CHECK(b.continued_from < session->batch(), where, " continues from branch ", b.continued_from + 1,
               ", but the replayed session holds ", session->batch(), " sequence(s); hint: the log is incomplete or was edited");
      *session = session->branch(b.continued_from);
    }
    const int64_t K = b.rows.empty() ? 1 : static_cast<int64_t>(b.rows.size());
    if (K > 1 && session->batch() == 1) {
      session->noise().front() = NoiseSource(b.seed, b.noise_counter);
      *session = session->fork(b.row_seeds);
    }
    WL_CHECK(session->batch() == K, where, " runs ", K, " sequence(s), the replayed session holds ", session->batch(),
             K == 1 ? " branches and the log does not say which one it continued from" : "",
             "; hint: the log is incomplete or was edited");
    WL_CHECK(b.first_latent_frame == session->next_frame() && b.first_video_frame == session->next_video_frame(), where,
             " starts at latent frame ", b.first_latent_frame, " (video frame ", b.first_video_frame,
             "), the replayed session is at ", session->next_frame(), " (", session->next_video_frame(),
             "); hint: the log is incomplete or was edited");
    std::vector<ActionTensor> actions = {b.actions};
    if (K > 1) {
      actions = b.rows;
      for (int64_t r = 0; r < K; ++r) {
        WL_CHECK(b.rows[r].dims == A, where, ": branch ", r + 1, " has ", b.rows[r].dims, " action dims, the model takes ", A);
        session->noise()[r] = NoiseSource(b.row_seeds[r], b.noise_counter);
      }
    } else {
      session->noise().front() = NoiseSource(b.seed, b.noise_counter);
    }
    LatentBlock latents = session->denoise_block(actions, sampler_for_steps(model.info(), b.denoise_steps));
    session->commit_state(latents);
    VideoBlock video = session->decode(latents);
    const VideoBlock seeded = std::exchange(context, VideoBlock{});   // shown before this block, if its epoch was seeded
    ++result.blocks;
    auto it = shown.find(b.block);
    if (it == shown.end()) continue;
    const int W = static_cast<int>(video.frames.size(4)), H = static_cast<int>(video.frames.size(3));
    pixels.resize(static_cast<size_t>(W) * H * 4);
    FrameTarget target{pixels.data(), W, H, 4LL * W, false};
    for (const FrameLine* line : it->second) {
      const bool is_context = line->block_frame == -1;
      WL_CHECK(!is_context || seeded.frames.defined(), actions_path, ": frame ", line->frame, " is the seeded context shown ",
               "before block ", b.block, ", but that block's epoch did not start from the simulator's frames; hint: the log is ",
               "incomplete or was edited");
      WL_CHECK(is_context || (line->block_frame >= 0 && line->block_frame < video.count()), actions_path, ": frame ", line->frame,
               " is frame ", line->block_frame, " of block ", b.block, ", which decodes to ", video.count(), " frames");
      WL_CHECK(line->row < K, actions_path, ": frame ", line->frame, " shows branch ", line->row + 1, " of block ", b.block,
               ", which made ", K, " sequence(s)");
      if (is_context)
        session->write_frame(seeded, 0, seeded.count() - 1, target);   // as the loop showed it, before the block
      else if (line->row < 0)
        write_grid(*session, video, line->block_frame, target);   // the K futures side by side, as the loop showed them
      else
        session->write_frame(video, line->row, line->block_frame, target);
      uint64_t h = frame_fnv1a64(target);
      for (int y = 0; y < H; ++y) hash = fnv1a({pixels.data() + static_cast<size_t>(y) * W * 4, static_cast<size_t>(W) * 4}, hash);
      if (h != line->fnv1a64 && result.differing++ == 0) {
        result.first_mismatch = line->frame;
        result.mismatch_block = b.block;
        result.mismatch_block_frame = line->block_frame;
        result.recorded = line->fnv1a64;
        result.replayed = h;
      }
      ++result.frames;
      if (sink) sink(target, line->frame);
    }
  }
  result.frames_fnv1a64 = hash;
  WL_CHECK(result.frames == static_cast<int64_t>(frames.size()), actions_path, ": ", frames.size() - result.frames,
           " frames come from blocks that were never made");
  return result;
}

ReplayResult replay_ground_truth(const std::string& dir, const std::function<void(const FrameTarget&, int64_t)>& sink) {
  WL_CHECK(fs::is_directory(dir), "replay: ", dir, " is not a directory; hint: name a directory written by `play --record DIR`");
  SessionHeader header = read_session_json(in_dir(dir, "session.json"));
  WL_CHECK(header.kind == "ground_truth", "replay: ", dir, " is a '", header.kind, "' session of a world model, not a ",
           "ground-truth one; hint: replay_session() replays it");
  return replay_simulator(dir, header, sink);
}

void run_replay(const ReplayOptions& o, std::ostream& out) {
  SessionHeader header = read_session_json(in_dir(o.session_dir, "session.json"));
  const bool simulator = header.kind == "ground_truth";
  WL_CHECK(!simulator || o.model_dir.empty(), "replay: ", o.session_dir, " is a ground-truth session (the ", header.world,
           " simulator, no model), so --model ", o.model_dir, " does not apply; hint: leave --model away");
  std::unique_ptr<WorldModel> model;
  if (!simulator) {
    ModelSource source = header.model_source;
    if (!o.model_dir.empty()) source = {"dir", fs::absolute(locate_world(o.model_dir).dir).string(), "", 0, 0};
    model = load_model(source, o.device);
  }
#ifdef WL_WITH_RECORDING
  std::unique_ptr<Recorder> recorder;
  int64_t written = 0;
  if (!o.out.empty()) {
    RecorderInfo info{.path = o.out, .width = header.width, .height = header.height};
    info.fps = {static_cast<int>(std::lround(header.fps * 1000)), 1000};
    info.block_when_full = true;
    recorder = std::make_unique<Recorder>(info);
  }
  auto sink = [&](const FrameTarget& frame, int64_t) {
    if (recorder) recorder->push(frame, written++);
  };
#else
  WL_CHECK(o.out.empty(), "this build has no recording (FFmpeg), so --out ", o.out, " cannot be written; hint: rebuild with ",
           "-DWL_RECORDING=ON, or leave --out away to only compare");
  std::function<void(const FrameTarget&, int64_t)> sink;
#endif
  ReplayResult r = simulator ? replay_simulator(o.session_dir, header, sink) : replay_session(o.session_dir, *model, o, sink);
  std::string video;
#ifdef WL_WITH_RECORDING
  if (recorder) {
    recorder->stop();
    video = str("; wrote ", o.out, " (", recorder->stats().frames_written, " frames)");
  }
#endif
  const std::string head = simulator ? str("replay ", o.session_dir, ": ", r.frames, " frames of the ", header.world, " simulator")
                                     : str("replay ", o.session_dir, ": ", r.frames, " frames from ", r.blocks, " blocks");
  if (r.differing == 0) {
    out << head << " bit-identical to the recording, frames fnv1a64 " << hex64(r.frames_fnv1a64)
        << (r.model_matches ? "" : " (with a different model, --force)") << video << "\n";
    return;
  }
  std::string report = str(head, ": ", r.differing, " differ, the first is frame ", r.first_mismatch,
                           simulator ? "" : str(" (block ", r.mismatch_block, ", frame ", r.mismatch_block_frame, ")"),
                           ": replayed fnv1a64 ", hex64(r.replayed), ", recorded ", hex64(r.recorded));
  if (!r.model_matches) {   // --force: the user asked where a different model parts from the recording
    out << report << " (model " << model->hash_hex() << ", recorded with " << header.model_hash << ")" << video << "\n";
    return;
  }
  if (simulator)
    WL_FAIL(report, "; hint: the simulators are deterministic, so the recording was made by another version of them (",
            header.engine, ") or was edited");
  WL_FAIL(report, "; hint: bit-identical replay needs the same machine, build and device as the recording (it was made by ",
          header.engine, " on ", header.device, ")");
}

}  // namespace wl
