// The tiny latent autoencoder (see autoencoder.h): config, names and shapes, load/save, and the
// forward passes, written as plain functions of the weight map so that training differentiates the
// same code the engine runs. Shapes: B batch (or B*T frames), C latent channels, e_s / d_s stage
// widths, p the pixel-shuffle patch, H x W frames, h x w = H/8 x W/8 latents.
#include "model/autoencoder.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/grad_mode.h>
#include <c10/core/InferenceMode.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "kernels/core/error.h"
#include "model/safetensors.h"
#include "model/tensor_io.h"

namespace wl {

namespace {

constexpr const char* kConfigKey = "worldloop_ae_config";

std::string join(const std::vector<int64_t>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += str(i ? "/" : "", v[i]);
  return s;
}

bool is_stat(const std::string& name) { return name == "latent_mean" || name == "latent_std"; }

// conv 3x3 "same" (stride 1 or 2) with the weight and bias called `prefix`.weight / .bias.
at::Tensor conv(const TensorMap& w, const std::string& prefix, const at::Tensor& x, int64_t stride = 1) {
  return at::conv2d(x, w.at(prefix + ".weight"), w.at(prefix + ".bias"), {stride, stride}, {1, 1});
}

// x + conv2(relu(conv1(relu(x)))), widths unchanged.
at::Tensor res_block(const TensorMap& w, const std::string& prefix, const at::Tensor& x) {
  at::Tensor y = conv(w, prefix + ".conv1", at::relu(x));   // [B, n, H, W]
  return x + conv(w, prefix + ".conv2", at::relu(y));       // [B, n, H, W]
}

at::Tensor encode_impl(const TensorMap& w, const AEConfig& c, const at::Tensor& frames) {
  const int64_t S = static_cast<int64_t>(c.encoder_widths.size());
  at::Tensor x = at::pixel_unshuffle(frames * 2.0 - 1.0, c.patch);               // [B, 3p^2, H/p, W/p]
  x = conv(w, "encoder.conv_in", x);                                              // [B, e_0, H/p, W/p]
  for (int64_t s = 0; s < S; ++s) {
    for (int64_t k = 0; k < c.encoder_blocks[s]; ++k) x = res_block(w, str("encoder.stages.", s, ".blocks.", k), x);
    if (s + 1 < S) x = conv(w, str("encoder.stages.", s, ".down"), at::relu(x), 2);   // [B, e_s+1, /2, /2]
  }
  return conv(w, "encoder.conv_out", at::relu(x));                               // [B, C, H/8, W/8]
}

at::Tensor decode_impl(const TensorMap& w, const AEConfig& c, const at::Tensor& z) {
  const int64_t S = static_cast<int64_t>(c.decoder_widths.size());
  at::Tensor x = conv(w, "decoder.conv_in", z);                                   // [B, d_0, h, w]
  for (int64_t s = 0; s < S; ++s) {
    for (int64_t k = 0; k < c.decoder_blocks[s]; ++k) x = res_block(w, str("decoder.stages.", s, ".blocks.", k), x);
    if (s + 1 < S) {
      x = at::upsample_nearest2d(at::relu(x), {2 * x.size(2), 2 * x.size(3)});   // [B, d_s, 2h_s, 2w_s]
      x = conv(w, str("decoder.stages.", s, ".up"), x);                           // [B, d_s+1, 2h_s, 2w_s]
    }
  }
  x = conv(w, "decoder.conv_out", at::relu(x));                                   // [B, 3p^2, H/p, W/p]
  return at::pixel_shuffle(x, c.patch) * 0.5 + 0.5;                              // [B, 3, H, W], ~[0, 1]
}

}  // namespace

// [SECTION] config

int64_t AEConfig::downsample() const {
  int64_t f = patch;
  for (size_t s = 1; s < encoder_widths.size(); ++s) f *= 2;
  return f;
}

void AEConfig::validate() const {
  auto positive = [](const std::vector<int64_t>& v, int64_t min) {
    for (int64_t x : v)
      if (x < min) return false;
    return true;
  };
  WL_CHECK(latent_channels >= 1 && latent_channels <= 256, "autoencoder latent_channels must be 1..256, got ", latent_channels);
  WL_CHECK(patch >= 1 && patch <= 8, "autoencoder patch must be 1..8, got ", patch);
  WL_CHECK(!encoder_widths.empty() && encoder_widths.size() == encoder_blocks.size() && positive(encoder_widths, 1) &&
               positive(encoder_blocks, 0),
           "autoencoder encoder_widths and encoder_blocks must be non-empty lists of one length (widths >= 1, "
           "blocks >= 0), got ", join(encoder_widths), " and ", join(encoder_blocks));
  WL_CHECK(decoder_widths.size() == encoder_widths.size() && decoder_blocks.size() == decoder_widths.size() &&
               positive(decoder_widths, 1) && positive(decoder_blocks, 0),
           "autoencoder decoder_widths and decoder_blocks must have as many stages as the encoder (",
           encoder_widths.size(), "), got ", join(decoder_widths), " and ", join(decoder_blocks));
  WL_CHECK(downsample() == 8, "autoencoder downsamples ", downsample(), "x (patch ", patch, " x 2^", encoder_widths.size() - 1,
           "); the engine's decoders need 8x (hint: patch 2 with 3 stages, or patch 8 with 1)");
}

std::string AEConfig::describe() const {
  return str("autoencoder (latent ", latent_channels, ", patch ", patch, ", encoder ", join(encoder_widths), " x ",
             join(encoder_blocks), " blocks, decoder ", join(decoder_widths), " x ", join(decoder_blocks), " blocks)");
}

std::string AEConfig::to_json() const {
  nlohmann::json j = {{"latent_channels", latent_channels}, {"patch", patch},
                      {"encoder_widths", encoder_widths},   {"encoder_blocks", encoder_blocks},
                      {"decoder_widths", decoder_widths},   {"decoder_blocks", decoder_blocks}};
  return j.dump();
}

AEConfig AEConfig::from_json(const std::string& json_text, const std::string& source) {
  AEConfig c;
  try {
    nlohmann::json j = nlohmann::json::parse(json_text);
    WL_CHECK(j.is_object(), source, ": the autoencoder config must be a JSON object");
    c.latent_channels = j.value("latent_channels", c.latent_channels);
    c.patch = j.value("patch", c.patch);
    c.encoder_widths = j.value("encoder_widths", c.encoder_widths);
    c.encoder_blocks = j.value("encoder_blocks", c.encoder_blocks);
    c.decoder_widths = j.value("decoder_widths", c.decoder_widths);
    c.decoder_blocks = j.value("decoder_blocks", c.decoder_blocks);
  } catch (const nlohmann::json::exception& e) {
    WL_FAIL(source, ": bad autoencoder config JSON: ", e.what());
  }
  try {
    c.validate();
  } catch (const Error& e) {
    throw Error(str(source, ": ", e.what()));
  }
  return c;
}

// [SECTION] names, shapes, files

ShapeMap expected_ae_shapes(const AEConfig& c) {
  c.validate();
  const int64_t S = static_cast<int64_t>(c.encoder_widths.size()), C = c.latent_channels, P = 3 * c.patch * c.patch;
  ShapeMap s;
  auto add_conv = [&](const std::string& prefix, int64_t out, int64_t in) {
    s[prefix + ".weight"] = {out, in, 3, 3};
    s[prefix + ".bias"] = {out};
  };
  auto add_stages = [&](const std::string& half, const std::vector<int64_t>& widths, const std::vector<int64_t>& blocks,
                        const char* resample) {
    for (int64_t st = 0; st < S; ++st) {
      for (int64_t k = 0; k < blocks[st]; ++k) {
        const std::string p = str(half, ".stages.", st, ".blocks.", k);
        add_conv(p + ".conv1", widths[st], widths[st]);
        add_conv(p + ".conv2", widths[st], widths[st]);
      }
      if (st + 1 < S) add_conv(str(half, ".stages.", st, ".", resample), widths[st + 1], widths[st]);
    }
  };
  add_conv("encoder.conv_in", c.encoder_widths.front(), P);
  add_stages("encoder", c.encoder_widths, c.encoder_blocks, "down");
  add_conv("encoder.conv_out", C, c.encoder_widths.back());
  add_conv("decoder.conv_in", c.decoder_widths.front(), C);
  add_stages("decoder", c.decoder_widths, c.decoder_blocks, "up");
  add_conv("decoder.conv_out", P, c.decoder_widths.back());
  s["latent_mean"] = {C};
  s["latent_std"] = {C};
  return s;
}

TensorMap random_ae_weights(const AEConfig& config, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  TensorMap out;
  for (const auto& [name, shape] : expected_ae_shapes(config)) {
    if (name == "latent_mean" || name.ends_with(".bias")) {
      out[name] = at::zeros(shape, at::kFloat);
    } else if (name == "latent_std") {
      out[name] = at::ones(shape, at::kFloat);
    } else {
      const double fan_in = static_cast<double>(shape[1] * shape[2] * shape[3]);
      // A residual branch starts small so that a deep stack starts near the identity.
      const double gain = name.ends_with(".conv2.weight") ? 0.1 : 1.0;
      out[name] = at::randn(shape, gen, at::kFloat) * (gain * std::sqrt(2.0 / fan_in));
    }
  }
  return out;
}

bool is_ae_checkpoint(const std::string& path) {
  if (!std::filesystem::is_regular_file(path)) return false;
  try {
    return SafetensorsFile::open(path).metadata().count(kConfigKey) > 0;
  } catch (const Error&) {
    return false;
  }
}

AECheckpoint load_ae_checkpoint(const std::string& path) {
  WL_CHECK(std::filesystem::is_regular_file(path), path, ": no such autoencoder file (hint: `worldloop train --stage ae` "
           "writes RUN_DIR/step_N/model.safetensors; pass that file or the run directory)");
  SafetensorsFile file = SafetensorsFile::open(path);
  auto it = file.metadata().find(kConfigKey);
  WL_CHECK(it != file.metadata().end(), path, ": no \"", kConfigKey, "\" metadata, so this is not one of our autoencoders "
           "(hint: a TAEHV or Wan2.1 decoder loads through `decoder` in config.json instead)");
  AECheckpoint ckpt;
  ckpt.source = path;
  ckpt.config = AEConfig::from_json(it->second, path + " (metadata " + kConfigKey + ")");
  TensorMap tensors = load_tensors(file);
  check_tensor_names(tensors, expected_ae_shapes(ckpt.config), {}, path, ckpt.config.describe(),
                     "the metadata config and the tensors must come from the same save_ae_checkpoint");
  for (auto& [name, t] : tensors)
    WL_CHECK(at::isFloatingType(t.scalar_type()), path, ": tensor '", name, "' has dtype ", t.scalar_type(),
             ", expected a floating-point type");
  ckpt.tensors = std::move(tensors);
  return ckpt;
}

void save_ae_checkpoint(const std::string& path, const TensorMap& tensors, const AEConfig& config, at::ScalarType dtype) {
  check_tensor_names(tensors, expected_ae_shapes(config), {}, path, config.describe(), "");
  WL_CHECK(dtype == at::kFloat || dtype == at::kHalf, path, ": autoencoder files are F32 or F16");
  std::vector<std::pair<std::string, at::Tensor>> list;
  for (const auto& [name, t] : tensors)
    list.emplace_back(name, t.detach().to(at::kCPU, is_stat(name) ? at::kFloat : dtype));
  save_tensors(path, list, {{"format", "pt"}, {kConfigKey, config.to_json()}});
}

// [SECTION] AutoEncoder

struct AutoEncoder::Impl {
  AEConfig config;
  TensorMap weights;           // our names, device + dtype
  at::TensorOptions options;

  at::Tensor check_frames(const at::Tensor& frames) const {
    WL_CHECK(frames.defined() && frames.dim() == 4 && frames.size(1) == 3 && frames.size(2) % 8 == 0 &&
                 frames.size(3) % 8 == 0 && frames.size(2) > 0 && frames.size(3) > 0,
             "autoencoder encode: frames must be [B, 3, H, W] with H and W multiples of 8, found ",
             frames.defined() ? shape_string(frames.sizes().vec()) : "an undefined tensor");
    return frames.to(options);
  }
  at::Tensor check_latents(const at::Tensor& z) const {
    WL_CHECK(z.defined() && z.dim() == 4 && z.size(1) == config.latent_channels && z.size(2) > 0 && z.size(3) > 0,
             "autoencoder decode: latents must be [B, ", config.latent_channels, ", h, w], found ",
             z.defined() ? shape_string(z.sizes().vec()) : "an undefined tensor");
    return z.to(options);
  }
  at::Tensor stat(const char* name) const { return weights.at(name).view({1, -1, 1, 1}); }   // [1, C, 1, 1]
};

AutoEncoder::AutoEncoder(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
AutoEncoder::~AutoEncoder() = default;
AutoEncoder::AutoEncoder(AutoEncoder&&) noexcept = default;
AutoEncoder& AutoEncoder::operator=(AutoEncoder&&) noexcept = default;

AutoEncoder::AutoEncoder(const AECheckpoint& checkpoint, const VAEOptions& options) : impl_(std::make_unique<Impl>()) {
  check_tensor_names(checkpoint.tensors, expected_ae_shapes(checkpoint.config), {}, checkpoint.source,
                     checkpoint.config.describe(), "");
  at::Device device(options.device);
  WL_CHECK(!device.is_cuda() || at::hasCUDA(), "device '", options.device, "' asked for, but this build or machine has no CUDA");
  impl_->config = checkpoint.config;
  impl_->options = at::TensorOptions().device(device).dtype(options.bf16 ? at::kBFloat16 : at::kFloat);
  for (const auto& [name, t] : checkpoint.tensors) impl_->weights[name] = t.to(impl_->options).contiguous();
}

AutoEncoder AutoEncoder::random(const AEConfig& config, uint64_t seed, const VAEOptions& options) {
  return AutoEncoder(AECheckpoint{config, random_ae_weights(config, seed), str("random weights (seed ", seed, ")")}, options);
}

const AEConfig& AutoEncoder::config() const { return impl_->config; }
const TensorMap& AutoEncoder::weights() const { return impl_->weights; }

at::Tensor AutoEncoder::encode_raw(const at::Tensor& frames) const {
  return encode_impl(impl_->weights, impl_->config, impl_->check_frames(frames));   // [B, C, H/8, W/8]
}

at::Tensor AutoEncoder::decode_raw(const at::Tensor& raw_latents) const {
  return decode_impl(impl_->weights, impl_->config, impl_->check_latents(raw_latents));   // [B, 3, 8h, 8w]
}

at::Tensor AutoEncoder::encode(const at::Tensor& frames) const {
  return (encode_raw(frames) - impl_->stat("latent_mean")) / impl_->stat("latent_std");   // [B, C, H/8, W/8]
}

at::Tensor AutoEncoder::decode(const at::Tensor& latents) const {
  at::Tensor z = impl_->check_latents(latents) * impl_->stat("latent_std") + impl_->stat("latent_mean");   // [B, C, h, w]
  return decode_impl(impl_->weights, impl_->config, z).clamp(0.0, 1.0);                                 // [B, 3, 8h, 8w]
}

at::Tensor AutoEncoder::encode_video(const at::Tensor& frames) const {
  WL_CHECK(frames.defined() && frames.dim() == 5 && frames.size(1) == 3, "autoencoder encode_video: frames must be "
           "[B, 3, F, H, W], found ", frames.defined() ? shape_string(frames.sizes().vec()) : "an undefined tensor");
  const int64_t B = frames.size(0), F = frames.size(2), H = frames.size(3), W = frames.size(4);
  at::Tensor z = encode(frames.permute({0, 2, 1, 3, 4}).reshape({B * F, 3, H, W}));   // [B F, C, h, w]
  return z.view({B, F, z.size(1), z.size(2), z.size(3)}).permute({0, 2, 1, 3, 4});    // [B, C, F, h, w]
}

void AutoEncoder::set_trainable(bool trainable) {
  for (auto& [name, t] : impl_->weights) {
    at::Tensor leaf = t.detach().clone();   // never write into a checkpoint's (possibly mapped) tensors
    leaf.set_requires_grad(trainable && !is_stat(name));
    t = leaf;
  }
}

std::vector<at::Tensor> AutoEncoder::parameters() const {
  std::vector<at::Tensor> out;
  for (const auto& [name, t] : impl_->weights)
    if (!is_stat(name)) out.push_back(t);
  return out;
}

std::vector<std::string> AutoEncoder::parameter_names() const {
  std::vector<std::string> out;
  for (const auto& [name, _] : impl_->weights)
    if (!is_stat(name)) out.push_back(name);
  return out;
}

void AutoEncoder::set_latent_stats(const at::Tensor& mean, const at::Tensor& std) {
  const int64_t C = impl_->config.latent_channels;
  WL_CHECK(mean.dim() == 1 && mean.size(0) == C && std.dim() == 1 && std.size(0) == C, "autoencoder latent stats must be [",
           C, "], found ", shape_string(mean.sizes().vec()), " and ", shape_string(std.sizes().vec()));
  WL_CHECK(std.min().item<double>() > 0, "autoencoder latent_std must be positive");
  at::NoGradGuard no_grad;
  impl_->weights.at("latent_mean").copy_(mean);
  impl_->weights.at("latent_std").copy_(std);
}

// [SECTION] AEDecoder

AEDecoder::AEDecoder(const AECheckpoint& checkpoint, const VAEOptions& options)
    : model_(std::make_unique<AutoEncoder>(checkpoint, options)) {}
AEDecoder::~AEDecoder() = default;
AEDecoder::AEDecoder(AEDecoder&&) noexcept = default;
AEDecoder& AEDecoder::operator=(AEDecoder&&) noexcept = default;

const AEConfig& AEDecoder::config() const { return model_->config(); }

void AEDecoder::begin(int64_t batch, int64_t latent_h, int64_t latent_w) {
  WL_CHECK(batch > 0 && latent_h > 0 && latent_w > 0, "ae begin: batch and latent grid must be positive, found ", batch, " x ",
           latent_h, "x", latent_w);
  batch_ = batch;
  latent_h_ = latent_h;
  latent_w_ = latent_w;
  begun_ = true;
}

at::Tensor AEDecoder::decode_next(const at::Tensor& latents) {
  WL_CHECK(begun_, "ae decode_next: call begin(batch, latent_h, latent_w) first");
  const int64_t C = model_->config().latent_channels;
  WL_CHECK(latents.dim() == 5 && latents.size(0) == batch_ && latents.size(1) == C && latents.size(2) >= 1 &&
               latents.size(3) == latent_h_ && latents.size(4) == latent_w_,
           "ae decode_next: latents must be [", batch_, ", ", C, ", T, ", latent_h_, ", ", latent_w_, "] as begun, found ",
           shape_string(latents.sizes().vec()));
  c10::InferenceMode inference;
  const int64_t B = batch_, T = latents.size(2);
  at::Tensor z = latents.permute({0, 2, 1, 3, 4}).reshape({B * T, C, latent_h_, latent_w_});   // [B T, C, h, w]
  at::Tensor frames = model_->decode(z);                                                       // [B T, 3, 8h, 8w]
  return frames.view({B, T, 3, frames.size(2), frames.size(3)}).permute({0, 2, 1, 3, 4});      // [B, 3, T, 8h, 8w]
}

}  // namespace wl
