// WorldModel loading, the random tiny world, and the model hash (see world_model.h).
#include "sim/world_model.h"

#include <ATen/ATen.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "kernels/core/error.h"
#include "model/checkpoint.h"
#include "model/sampler.h"
#include "model/autoencoder.h"
#include "model/taehv.h"
#include "model/tensor_io.h"
#include "model/wan_vae.h"
#include "sim/world_files.h"

namespace wl {

namespace fs = std::filesystem;

// [SECTION] hashing

uint64_t hash_bytes(const void* data, size_t size, uint64_t hash) {
  // FNV-1a over 8-byte words (then the tail bytewise): the same mixing as envs' fnv1a, 8x faster,
  // so hashing a 2B model at load costs about a second rather than eight.
  const auto* p = static_cast<const uint8_t*>(data);
  constexpr uint64_t kPrime = 0x100000001b3ull;
  size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    uint64_t word;
    std::memcpy(&word, p + i, 8);
    hash = (hash ^ word) * kPrime;
  }
  for (; i < size; ++i) hash = (hash ^ p[i]) * kPrime;
  return hash;
}

uint64_t hash_tensors(const TensorMap& tensors, uint64_t hash) {
  for (const auto& [name, tensor] : tensors) {   // std::map: sorted by name
    hash = hash_bytes(name.data(), name.size(), hash);
    at::Tensor t = tensor.to(at::kCPU).contiguous();
    std::string meta = str(c10::toString(t.scalar_type()), t.sizes());
    hash = hash_bytes(meta.data(), meta.size(), hash);
    hash = hash_bytes(t.data_ptr(), static_cast<size_t>(t.numel() * t.element_size()), hash);
  }
  return hash;
}

std::string hex64(uint64_t value) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(value));
  return text;
}

// [SECTION] WorldModel

WorldModel::~WorldModel() = default;

const at::Tensor& WorldModel::caption_tokens() const { return *caption_tokens_; }
const at::Tensor& WorldModel::caption_mask() const { return *caption_mask_; }
std::string WorldModel::hash_hex() const { return hex64(hash_); }

at::Tensor WorldModel::encode(const at::Tensor& frames) const {
  WL_CHECK(encoder_, "world '", info_.label, "' cannot encode frames: its decoder has no encoder (TAEHV and Wan2.1 "
           "worlds decode only); hint: seeding from real frames needs a world trained with `worldloop train --stage ae`");
  const int64_t H = 8 * info_.latent_h, W = 8 * info_.latent_w;
  WL_CHECK(frames.defined() && frames.dim() == 5 && frames.size(1) == 3 && frames.size(2) >= 1 && frames.size(3) == H &&
               frames.size(4) == W,
           "world encode: frames must be [B, 3, F, ", H, ", ", W, "] in [0, 1], found ",
           frames.defined() ? shape_string(frames.sizes().vec()) : "an undefined tensor");
  c10::InferenceMode inference;
  const at::Tensor& any = encoder_->weights().begin()->second;
  at::Tensor z = encoder_->encode_video(frames.to(any.device(), any.scalar_type()));   // [B, C, F, h, w]
  return z.to(latent_options()).contiguous();
}

at::TensorOptions WorldModel::latent_options() const {
  const at::Tensor& any = dit_->weights().begin()->second;
  return at::TensorOptions().device(any.device()).dtype(any.scalar_type());
}

namespace {

constexpr uint64_t kHashOffset = 0xcbf29ce484222325ull;   // FNV-1a's offset basis

uint64_t geometry_hash(const WorldModelInfo& info, const DiTConfig& config, uint64_t hash) {
  std::string g = str(config_to_json(config), "|", info.world, "|", info.latent_h, "x", info.latent_w, "|", info.fps, "|",
                      info.sampler_schedule, "|", info.flow_shift);
  return hash_bytes(g.data(), g.size(), hash);
}

void check_action_width(const DiTConfig& config, const ActionSpec& spec, const std::string& source) {
  WL_CHECK(config.action_dims == spec.width(), source, ": the model takes ", config.action_dims,
           " action dims, the ", spec.world, " world's action spec has ", spec.width(),
           config.action_dims == 0 ? "; hint: a model without actions (SANA-Video) plays as \"world\": {\"name\": \"none\"}"
                                   : "; hint: set \"world\": {\"name\": ...} in config.json to the world the model was trained on");
}

}  // namespace

std::unique_ptr<WorldModel> WorldModel::random_tiny(const std::string& world, uint64_t seed, const WorldModelOptions& options,
                                                    int latent_size) {
  std::unique_ptr<WorldModel> m(new WorldModel);
  m->spec_ = action_spec_for(world);   // throws naming the known worlds
  DiTConfig config = dit_preset("tiny");
  config.in_channels = config.out_channels = 16;   // the decoders' latent space
  config.action_dims = m->spec_.width();
  TensorMap weights = random_dit_weights(config, seed, /*training_init=*/false);
  m->dit_ = std::make_unique<LinearDiT>(DiTCheckpoint{config, weights, "official", {}, "random weights"},
                                        DiTOptions{options.device, options.bf16});
  TAEHVConfig tae;
  tae.widths = {32, 16, 16, 16};   // small: a tiny world should decode in a few ms on a CPU
  TensorMap tae_weights = random_taehv_weights(tae, seed + 1);
  TAEHVCheckpoint checkpoint = taehv_checkpoint_from(tae_weights, "random weights", tae);
  VAEOptions vae{options.device, options.bf16};
  m->make_decoder_ = [checkpoint, vae] { return std::make_unique<TAEHVDecoder>(checkpoint, vae); };

  m->info_.world = world;
  m->info_.latent_h = m->info_.latent_w = latent_size;
  m->info_.random_weights = true;
  m->info_.label = str("RANDOM WEIGHTS tiny ", world, " world (DiT ", config.describe(), "; ", tae.describe(), ")");
  NoiseSource caption_noise(seed + 2);
  m->caption_tokens_ = std::make_unique<at::Tensor>(caption_noise.normal({1, 4, config.caption_channels}, at::kFloat));
  m->caption_mask_ = std::make_unique<at::Tensor>(at::ones({1, 4}));
  m->caption_ = m->dit_->encode_caption(*m->caption_tokens_, *m->caption_mask_);
  TensorMap caption{{"caption", *m->caption_tokens_}, {"caption_mask", *m->caption_mask_}};
  m->hash_ = hash_tensors(caption, hash_tensors(tae_weights, hash_tensors(weights, geometry_hash(m->info_, config, kHashOffset))));
  return m;
}

std::unique_ptr<WorldModel> WorldModel::load(const std::string& dir, const WorldModelOptions& options) {
  WorldFiles files = locate_world(dir);
  std::unique_ptr<WorldModel> m(new WorldModel);
  std::ifstream in(files.config);
  std::string text((std::istreambuf_iterator<char>(in)), {});
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    WL_FAIL(files.config, ": not valid JSON: ", e.what());
  }
  WL_CHECK(j.is_object() && j.contains("world") && j["world"].is_object(), files.config,
           ": needs a \"world\" object ({\"name\": \"voxel\", \"latent_h\": 8, \"latent_w\": 8, \"fps\": 20, "
           "\"decoder\": \"taehv.safetensors\"})");
  const auto& w = j["world"];
  WorldModelInfo& info = m->info_;
  std::string decoder_file = "taehv.safetensors";
  const bool named = w.contains("name");   // unnamed + a DiT without actions: kNoActionsWorld
  try {
    info.world = w.value("name", info.world);
    info.random_weights = w.value("random_weights", false);
    info.latent_h = w.value("latent_h", info.latent_h);
    info.latent_w = w.value("latent_w", info.latent_w);
    info.fps = w.value("fps", info.fps);
    info.block_frames = w.value("block_frames", info.block_frames);
    info.state_policy = w.value("state_policy", info.state_policy);
    decoder_file = w.value("decoder", decoder_file);
    if (w.contains("sampler")) {
      const auto& sm = w.at("sampler");
      info.sampler_schedule = sm.value("schedule", info.sampler_schedule);
      info.flow_shift = sm.value("flow_shift", info.flow_shift);
      info.denoise_steps = sm.value("steps", info.denoise_steps);
      info.action_guidance = sm.value("action_guidance", info.action_guidance);
      info.action_guidance_steps = sm.value("action_guidance_steps", info.action_guidance_steps);
    }
  } catch (const nlohmann::json::exception& e) {
    WL_FAIL(files.config, ": wrong type in \"world\": ", e.what());
  }
  WL_CHECK(info.latent_h > 0 && info.latent_w > 0 && info.latent_h <= 512 && info.latent_w <= 512, files.config,
           ": latent_h and latent_w must be in 1..512, got ", info.latent_h, "x", info.latent_w);
  WL_CHECK(info.fps > 0 && info.fps <= 240, files.config, ": fps must be in (0, 240], got ", info.fps);
  WL_CHECK(info.block_frames >= 1 && info.block_frames <= 16, files.config, ": block_frames must be 1..16");
  WL_CHECK(info.sampler_schedule == "longsana" || info.sampler_schedule == "uniform", files.config,
           ": sampler.schedule must be \"longsana\" or \"uniform\", got \"", info.sampler_schedule, "\"");
  WL_CHECK(info.flow_shift >= 1 && info.flow_shift <= 100, files.config, ": sampler.flow_shift must be in [1, 100], got ",
           info.flow_shift);
  WL_CHECK(info.denoise_steps >= 1 && info.denoise_steps <= 50, files.config, ": sampler.steps must be 1..50, got ",
           info.denoise_steps);
  WL_CHECK(info.action_guidance >= 0 && info.action_guidance <= 20, files.config,
           ": sampler.action_guidance must be in [0, 20], got ", info.action_guidance);
  WL_CHECK(info.action_guidance_steps >= 0 && info.action_guidance_steps <= info.denoise_steps, files.config,
           ": sampler.action_guidance_steps must be in 0..steps (", info.denoise_steps, "; 0: all), got ",
           info.action_guidance_steps);
  StatePolicy::parse(info.state_policy);   // throws naming the accepted forms
  if (info.world != kNoActionsWorld) m->spec_ = action_spec_for(info.world);   // a wrong name fails before the weights load

  DiTCheckpoint checkpoint = load_dit_checkpoint(files.dir);
  if (info.world == kNoActionsWorld || (!named && checkpoint.config.action_dims == 0)) {
    WL_CHECK(checkpoint.config.action_dims == 0, files.config, ": world \"", kNoActionsWorld, "\" is for models without actions, but ",
             "this one takes ", checkpoint.config.action_dims, " action dims; hint: name the world it was trained on (voxel, "
             "driving or robot)");
    info.world = kNoActionsWorld;
    m->spec_ = ActionSpec{kNoActionsWorld, {}};
  }
  check_action_width(checkpoint.config, m->spec_, files.config);
  uint64_t hash = hash_tensors(checkpoint.tensors, geometry_hash(info, checkpoint.config, kHashOffset));
  m->dit_ = std::make_unique<LinearDiT>(checkpoint, DiTOptions{options.device, options.bf16});

  std::string decoder_path = (fs::path(files.dir) / decoder_file).string();
  WL_CHECK(fs::exists(decoder_path), "world '", dir, "': the decoder ", decoder_path,
           " is missing; hint: put taehv's taew2_1.safetensors there or name another file in config.json's \"decoder\"");
  if (is_ae_checkpoint(decoder_path)) {   // our tiny worlds' own autoencoder (worldloop train --stage ae)
    AECheckpoint ae = load_ae_checkpoint(decoder_path);
    hash = hash_tensors(ae.tensors, hash);
    VAEOptions vo{options.device, options.bf16};
    m->make_decoder_ = [ae, vo] { return std::make_unique<AEDecoder>(ae, vo); };
    m->info_.frames_per_latent = 1;
    m->encoder_ = std::make_unique<AutoEncoder>(ae, vo);
  } else if (decoder_file.find("wan") != std::string::npos) {
    WanVAECheckpoint vae = load_wan_vae_checkpoint(decoder_path);
    hash = hash_tensors(vae.tensors, hash);
    WanVAEOptions vo;
    vo.device = options.device;
    vo.bf16 = options.bf16;
    m->make_decoder_ = [vae, vo] { return std::make_unique<WanVAEDecoder>(vae, vo); };
  } else {
    TAEHVCheckpoint tae = load_taehv_checkpoint(decoder_path);
    hash = hash_tensors(tae.tensors, hash);
    VAEOptions vo{options.device, options.bf16};
    m->make_decoder_ = [tae, vo] { return std::make_unique<TAEHVDecoder>(tae, vo); };
  }

  std::string caption_path = (fs::path(files.dir) / "caption.safetensors").string();
  if (fs::exists(caption_path)) {
    SafetensorsFile f = SafetensorsFile::open(caption_path);
    m->caption_tokens_ = std::make_unique<at::Tensor>(load_tensor(f, "caption").to(at::kFloat).clone());
    m->caption_mask_ = std::make_unique<at::Tensor>(load_tensor(f, "caption_mask").to(at::kFloat).clone());
  } else {
    m->caption_tokens_ = std::make_unique<at::Tensor>(at::zeros({1, 1, checkpoint.config.caption_channels}));
    m->caption_mask_ = std::make_unique<at::Tensor>(at::ones({1, 1}));
  }
  m->caption_ = m->dit_->encode_caption(*m->caption_tokens_, *m->caption_mask_);
  TensorMap caption{{"caption", *m->caption_tokens_}, {"caption_mask", *m->caption_mask_}};
  m->hash_ = hash_tensors(caption, hash);
  info.label = str(info.random_weights ? "RANDOM WEIGHTS " : "", files.dir, " (", checkpoint.config.describe(),
                   info.world == kNoActionsWorld ? "" : ", " + info.world + " actions", ")");
  return m;
}

}  // namespace wl
