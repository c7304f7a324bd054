// Snapshot files: write, check, apply (see snapshot.h).
#include "sim/snapshot.h"

#include <ATen/ATen.h>

#include "kernels/core/error.h"
#include "model/tensor_io.h"
#include "sim/version.h"

namespace wl {

namespace {

constexpr uint64_t kChecksumOffset = 0x736e617073686f74ull;   // "snapshot": differs from the model hash's

uint64_t checksum(const std::map<std::string, std::string>& metadata, const std::map<std::string, at::Tensor>& tensors) {
  uint64_t hash = kChecksumOffset;
  for (const auto& [key, value] : metadata) {
    if (key == "checksum") continue;
    std::string kv = key + "=" + value + ";";
    hash = hash_bytes(kv.data(), kv.size(), hash);
  }
  return hash_tensors(tensors, hash);
}

int64_t parse_int(const std::map<std::string, std::string>& metadata, const std::string& key, const std::string& path) {
  auto it = metadata.find(key);
  WL_CHECK(it != metadata.end(), "snapshot ", path, ": metadata '", key, "' is missing");
  try {
    size_t used = 0;
    int64_t v = std::stoll(it->second, &used);
    WL_CHECK(used == it->second.size(), "");
    return v;
  } catch (const std::exception&) {
    WL_FAIL("snapshot ", path, ": metadata '", key, "' should be an integer, found '", it->second, "'");
  }
}

}  // namespace

void save_snapshot(const std::string& path, const Session& session, const SnapshotSettings& settings) {
  std::map<std::string, at::Tensor> tensors;
  for (auto& [name, t] : session.state().to_tensors()) tensors[name] = t.to(at::kCPU);
  const int64_t B = session.batch();
  at::Tensor noise = at::empty({B, 2}, at::kLong);   // [B, 2]: seed, counter
  for (int64_t b = 0; b < B; ++b) {
    noise[b][0] = static_cast<int64_t>(session.noise()[b].seed());
    noise[b][1] = static_cast<int64_t>(session.noise()[b].counter());
  }
  tensors["noise"] = noise;
  if (session.recent_latents().defined()) tensors["recent_latents"] = session.recent_latents().to(at::kCPU);
  tensors["caption"] = session.model().caption_tokens();
  tensors["caption_mask"] = session.model().caption_mask();

  std::map<std::string, std::string> metadata = {
      {"format", kSnapshotMagic},
      {"format_version", std::to_string(kSnapshotVersion)},
      {"model_hash", session.model().hash_hex()},
      {"model_label", session.model().info().label},
      {"state_policy", session.state().policy().name()},
      {"batch", std::to_string(B)},
      {"latent_frame", std::to_string(session.next_frame())},
      {"video_frame", std::to_string(session.next_video_frame())},
      {"denoise_steps", std::to_string(settings.denoise_steps)},
      {"block_frames", std::to_string(settings.block_frames)},
      {"engine", str("worldloop ", kVersion, " (", kGitCommit, ")")},
  };
  metadata["checksum"] = hex64(checksum(metadata, tensors));
  std::vector<std::pair<std::string, at::Tensor>> list(tensors.begin(), tensors.end());
  save_tensors(path, list, metadata);
}

Snapshot read_snapshot(const std::string& path, const WorldModel& model) {
  SafetensorsFile file = [&] {
    try {
      return SafetensorsFile::open(path);
    } catch (const Error& e) {
      throw Error(str("snapshot ", path, " is damaged or not a snapshot (", e.what(), ")"));
    }
  }();
  const auto& md = file.metadata();
  auto get = [&](const std::string& key) {
    auto it = md.find(key);
    return it == md.end() ? std::string() : it->second;
  };
  WL_CHECK(get("format") == kSnapshotMagic, "snapshot ", path, " is not a worldloop snapshot (format '", get("format"),
           "', expected '", kSnapshotMagic, "')");
  WL_CHECK(get("format_version") == std::to_string(kSnapshotVersion), "snapshot ", path, " has format version '",
           get("format_version"), "'; this build reads version ", kSnapshotVersion);
  Snapshot s;
  s.path = path;
  s.metadata = md;
  for (auto& [name, t] : load_tensors(file)) s.tensors[name] = t.clone();   // own the bytes, drop the map
  std::string want = hex64(checksum(md, s.tensors));
  WL_CHECK(get("checksum") == want, "snapshot ", path, " is damaged: checksum ", get("checksum"), " does not match its contents (",
           want, ")");
  WL_CHECK(get("model_hash") == model.hash_hex(), "snapshot ", path, " was saved with another model or config (hash ",
           get("model_hash"), ", '", get("model_label"), "'); the running model is ", model.hash_hex(), " ('",
           model.info().label, "')");
  s.settings.denoise_steps = static_cast<int>(parse_int(md, "denoise_steps", path));
  s.settings.block_frames = static_cast<int>(parse_int(md, "block_frames", path));
  s.video_frame = parse_int(md, "video_frame", path);
  int64_t batch = parse_int(md, "batch", path);
  WL_CHECK(batch >= 1 && batch <= 64, "snapshot ", path, ": batch ", batch, " is outside 1..64");
  auto noise = s.tensors.find("noise");
  WL_CHECK(noise != s.tensors.end() && noise->second.scalar_type() == at::kLong &&
               noise->second.sizes() == at::IntArrayRef({batch, 2}),
           "snapshot ", path, ": 'noise' should be int64 [", batch, ", 2]");
  return s;
}

Session apply_snapshot(const Snapshot& s, const WorldModel& model) {
  const int64_t batch = s.tensors.at("noise").size(0);
  StatePolicy policy = StatePolicy::parse(s.metadata.at("state_policy"));
  std::vector<NoiseSource> noise;
  std::vector<uint64_t> seeds;
  for (int64_t b = 0; b < batch; ++b) {
    auto seed = static_cast<uint64_t>(s.tensors.at("noise")[b][0].item<int64_t>());
    noise.emplace_back(seed, static_cast<uint64_t>(s.tensors.at("noise")[b][1].item<int64_t>()));
    seeds.push_back(seed);
  }
  Session session(model, policy, seeds);
  WorldState state = model.dit().new_state(batch, model.info().latent_h, model.info().latent_w, policy);
  state.load_tensors(s.tensors, "snapshot " + s.path);   // checks every name and shape first
  at::Tensor recent;
  if (auto it = s.tensors.find("recent_latents"); it != s.tensors.end()) {
    const at::Tensor& r = it->second;
    const int64_t C = model.dit().config().in_channels;
    WL_CHECK(r.dim() == 5 && r.size(0) == batch && r.size(1) == C && r.size(2) <= kDecoderContext &&
                 r.size(3) == model.info().latent_h && r.size(4) == model.info().latent_w,
             "snapshot ", s.path, ": recent_latents has shape ", r.sizes(), ", expected [", batch, ", ", C, ", <= ",
             kDecoderContext, ", ", model.info().latent_h, ", ", model.info().latent_w, "]");
    recent = r.to(model.latent_options());
  }
  session.restore(std::move(state), std::move(noise), recent, s.video_frame);
  return session;
}

}  // namespace wl
