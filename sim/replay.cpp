// `worldloop replay` (see replay.h): read session.json, blocks.jsonl and actions.jsonl, check that
// they fit together, then one pass over the blocks in order: start the block's epoch if it is new,
// set the noise stream, denoise -> commit -> decode, and hash and compare the frames the recording
// showed from that block.
#include "sim/replay.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <memory>
#include <ostream>

#include "envs/world.h"
#include "kernels/core/error.h"
#include "kernels/core/log.h"
#include "sim/session.h"
#include "sim/session_log.h"
#include "sim/snapshot.h"
#include "sim/world_files.h"
#include "sim/world_model.h"
#ifdef WL_WITH_RECORDING
#include "render/recorder.h"
#endif

namespace wl {
namespace {

namespace fs = std::filesystem;

std::string in_dir(const std::string& dir, const std::string& name) { return (fs::path(dir) / name).string(); }

// The session an epoch starts from.
Session start_epoch(const std::string& dir, const SessionHeader& header, const BlockLine& first, const WorldModel& model) {
  const EpochOrigin* origin = nullptr;
  for (const EpochOrigin& e : header.epochs)
    if (e.epoch == first.epoch) origin = &e;
  const std::string json = in_dir(dir, "session.json");
  WL_CHECK(origin, json, ": block ", first.block, " runs in epoch ", first.epoch, ", which 'epochs' does not list; hint: ",
           "the session directory is incomplete or damaged");
  if (origin->origin == "fresh") return Session(model, StatePolicy::parse(first.state_policy), {first.seed});
  WL_CHECK(origin->origin == "snapshot", json, ": epoch ", first.epoch, " cannot be replayed: its origin is '", origin->origin,
           "' (", origin->file, ")");
  const std::string path = in_dir(dir, origin->file);
  WL_CHECK(fs::exists(path), json, ": epoch ", first.epoch, " starts from ", path, ", which is missing; hint: copy the whole ",
           "session directory, snapshots/ included");
  return apply_snapshot(read_snapshot(path, model), model);
}

}  // namespace

ReplayResult replay_session(const std::string& dir, const WorldModel& model, const ReplayOptions& o,
                            const std::function<void(const FrameTarget&, int64_t)>& sink) {
  WL_CHECK(fs::is_directory(dir), "replay: ", dir, " is not a directory; hint: name a directory written by `play --record DIR`");
  SessionHeader header = read_session_json(in_dir(dir, "session.json"));
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

  const int64_t A = model.dit().config().action_dims;
  std::unique_ptr<Session> session;
  int64_t epoch = -1;
  uint64_t hash = kFnvOffset;
  std::vector<uint8_t> pixels;
  for (const BlockLine& b : blocks) {
    const std::string where = str(blocks_path, ": block ", b.block);
    WL_CHECK(b.actions.dims == A, where, " has ", b.actions.dims, " action dims, the model takes ", A);
    if (b.epoch != epoch) {
      session = std::make_unique<Session>(start_epoch(dir, header, b, model));
      epoch = b.epoch;
    }
    WL_CHECK(b.first_latent_frame == session->next_frame() && b.first_video_frame == session->next_video_frame(), where,
             " starts at latent frame ", b.first_latent_frame, " (video frame ", b.first_video_frame,
             "), the replayed session is at ", session->next_frame(), " (", session->next_video_frame(),
             "); hint: the log is incomplete or was edited");
    session->noise().front() = NoiseSource(b.seed, b.noise_counter);
    LatentBlock latents = session->denoise_block({b.actions}, sampler_for_steps(model.info(), b.denoise_steps));
    session->commit_state(latents);
    VideoBlock video = session->decode(latents);
    ++result.blocks;
    auto it = shown.find(b.block);
    if (it == shown.end()) continue;
    const int W = static_cast<int>(video.frames.size(4)), H = static_cast<int>(video.frames.size(3));
    pixels.resize(static_cast<size_t>(W) * H * 4);
    FrameTarget target{pixels.data(), W, H, 4LL * W, false};
    for (const FrameLine* line : it->second) {
      WL_CHECK(line->block_frame >= 0 && line->block_frame < video.count(), actions_path, ": frame ", line->frame,
               " is frame ", line->block_frame, " of block ", b.block, ", which decodes to ", video.count(), " frames");
      session->write_frame(video, 0, line->block_frame, target);
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

void run_replay(const ReplayOptions& o, std::ostream& out) {
  SessionHeader header = read_session_json(in_dir(o.session_dir, "session.json"));
  ModelSource source = header.model_source;
  if (!o.model_dir.empty()) source = {"dir", fs::absolute(locate_world(o.model_dir).dir).string(), "", 0, 0};
  std::unique_ptr<WorldModel> model = load_model(source, o.device);
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
  ReplayResult r = replay_session(o.session_dir, *model, o, sink);
  std::string video;
#ifdef WL_WITH_RECORDING
  if (recorder) {
    recorder->stop();
    video = str("; wrote ", o.out, " (", recorder->stats().frames_written, " frames)");
  }
#endif
  const std::string head = str("replay ", o.session_dir, ": ", r.frames, " frames from ", r.blocks, " blocks");
  if (r.differing == 0) {
    out << head << " bit-identical to the recording, frames fnv1a64 " << hex64(r.frames_fnv1a64)
        << (r.model_matches ? "" : " (with a different model, --force)") << video << "\n";
    return;
  }
  std::string report = str(head, ": ", r.differing, " differ, the first is frame ", r.first_mismatch, " (block ",
                           r.mismatch_block, ", frame ", r.mismatch_block_frame, "): replayed fnv1a64 ", hex64(r.replayed),
                           ", recorded ", hex64(r.recorded));
  if (!r.model_matches) {   // --force: the user asked where a different model parts from the recording
    out << report << " (model " << model->hash_hex() << ", recorded with " << header.model_hash << ")" << video << "\n";
    return;
  }
  WL_FAIL(report, "; hint: bit-identical replay needs the same machine, build and device as the recording (it was made by ",
          header.engine, " on ", header.device, ")");
}

}  // namespace wl
