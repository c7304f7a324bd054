// TAEHV decoder (see taehv.h): shape inference and checks over taehv's Sequential indices, then the
// streaming forward with one carried frame per MemBlock.
//   latents [B, 16, T, h, w] -> frames [BT, 16, h, w] -> stage s: [B T_s, n_s, 2^s h, 2^s w], T_s = T,
//   T, 2T -> raw frames [B, 4T, 3, 8h, 8w] -> trim (first 3 of the stream) -> [B, 3, F, 8h, 8w].
#include "model/taehv.h"

#include <ATen/ATen.h>

#include <cmath>

#include "kernels/core/error.h"

namespace wl {

namespace {

// Sequential indices of taehv's decoder: 0 Clamp, 1 conv, 2 ReLU; stage s at 3 + 6s: MemBlocks
// +0..+2, Upsample +3, TGrow +4, conv +5; then 21 ReLU, 22 conv.
constexpr int kStages = 3;
int stage_base(int s) { return 3 + 6 * s; }
std::string layer(int index) { return str("decoder.", index, "."); }

int64_t stride_of(const TAEHVConfig& c, int s) { return c.time_upscale[s] ? 2 : 1; }

void validate(const TAEHVConfig& c) {
  WL_CHECK(c.widths.size() == kStages + 1 && c.time_upscale.size() == kStages && c.latent_channels > 0 && c.patch_size > 0,
           "TAEHV config is inconsistent: ", c.describe());
}

TAEHVConfig infer_config(const TensorMap& t, TAEHVConfig c) {
  auto rows = [&](int index, size_t dims) -> int64_t {
    auto it = t.find(layer(index) + "weight");
    return it == t.end() || static_cast<size_t>(it->second.dim()) != dims ? 0 : it->second.size(0);
  };
  if (auto it = t.find("decoder.1.weight"); it != t.end() && it->second.dim() == 4) {
    c.widths[0] = it->second.size(0);
    c.latent_channels = it->second.size(1);
  }
  for (int s = 0; s < kStages; ++s)
    if (int64_t n = rows(stage_base(s) + 5, 4)) c.widths[s + 1] = n;
  if (int64_t out = rows(22, 4); out > 0 && out % 3 == 0) {
    const auto p = static_cast<int64_t>(std::lround(std::sqrt(static_cast<double>(out / 3))));
    if (p * p * 3 == out) c.patch_size = p;
  }
  return c;
}

}  // namespace

int64_t TAEHVConfig::frames_to_trim() const {
  int64_t up = 1;
  for (bool b : time_upscale) up *= b ? 2 : 1;
  return up - 1;
}

std::string TAEHVConfig::describe() const {
  std::string w;
  for (size_t i = 0; i < widths.size(); ++i) w += str(i ? "/" : "", widths[i]);
  std::string t;
  for (size_t i = 0; i < time_upscale.size(); ++i) t += str(i ? "/" : "", time_upscale[i] ? 2 : 1);
  return str("TAEHV decoder (latent ", latent_channels, ", widths ", w, ", time strides ", t, ", patch ", patch_size, ")");
}

ShapeMap expected_taehv_shapes(const TAEHVConfig& c) {
  validate(c);
  const auto& n = c.widths;
  ShapeMap s = {
      {"decoder.1.weight", {n[0], c.latent_channels, 3, 3}},
      {"decoder.1.bias", {n[0]}},
      {"decoder.22.weight", {3 * c.patch_size * c.patch_size, n[3], 3, 3}},
      {"decoder.22.bias", {3 * c.patch_size * c.patch_size}},
  };
  for (int st = 0; st < kStages; ++st) {
    const int base = stage_base(st);
    for (int k = 0; k < 3; ++k) {
      const std::string p = layer(base + k) + "conv.";
      s[p + "0.weight"] = {n[st], 2 * n[st], 3, 3};
      s[p + "0.bias"] = {n[st]};
      s[p + "2.weight"] = {n[st], n[st], 3, 3};
      s[p + "2.bias"] = {n[st]};
      s[p + "4.weight"] = {n[st], n[st], 3, 3};
      s[p + "4.bias"] = {n[st]};
    }
    s[layer(base + 4) + "conv.weight"] = {n[st] * stride_of(c, st), n[st], 1, 1};
    s[layer(base + 5) + "weight"] = {n[st + 1], n[st], 3, 3};
  }
  return s;
}

TAEHVCheckpoint taehv_checkpoint_from(TensorMap tensors, const std::string& source, const TAEHVConfig& base) {
  TAEHVCheckpoint ckpt;
  ckpt.source = source;
  for (auto it = tensors.begin(); it != tensors.end();) it = it->first.rfind("encoder.", 0) == 0 ? tensors.erase(it) : std::next(it);
  ckpt.config = infer_config(tensors, base);
  try {
    validate(ckpt.config);
  } catch (const Error& e) {
    throw Error(str(source, ": ", e.what()));
  }
  // A TGrow trained with a larger stride keeps its last-timestep rows (taehv's patch_tgrow_layers).
  for (int s = 0; s < kStages; ++s) {
    auto it = tensors.find(layer(stage_base(s) + 4) + "conv.weight");
    const int64_t want = ckpt.config.widths[s] * stride_of(ckpt.config, s);
    if (it != tensors.end() && it->second.dim() == 4 && it->second.size(0) > want)
      it->second = it->second.narrow(0, it->second.size(0) - want, want);   // [n * stride, n, 1, 1]
  }
  check_tensor_names(tensors, expected_taehv_shapes(ckpt.config), {}, source, ckpt.config.describe(),
                     "a TAEHV checkpoint such as taehv's safetensors/taew2_1.safetensors");
  ckpt.tensors = std::move(tensors);
  return ckpt;
}

TAEHVCheckpoint load_taehv_checkpoint(const std::string& path, const TAEHVConfig& base) {
  return taehv_checkpoint_from(read_weight_files(path, ""), path, base);
}

TensorMap random_taehv_weights(const TAEHVConfig& config, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  TensorMap out;
  for (const auto& [name, shape] : expected_taehv_shapes(config)) {
    int64_t fan_in = 1;
    for (size_t i = 1; i < shape.size(); ++i) fan_in *= shape[i];
    if (name.ends_with(".bias")) out[name] = 0.1 * at::randn(shape, gen, at::kFloat);
    else out[name] = at::randn(shape, gen, at::kFloat) * std::sqrt(2.0 / static_cast<double>(fan_in));
  }
  return out;
}

// [SECTION] the streaming decoder

struct TAEHVDecoder::Impl {
  struct MemBlock {
    at::Tensor w0, b0, w2, b2, w4, b4;   // conv.0 [n, 2n, 3, 3]; conv.2, conv.4 [n, n, 3, 3]
  };
  struct Stage {
    MemBlock blocks[3];
    at::Tensor tgrow;                    // [n * stride, n, 1, 1]
    at::Tensor proj;                     // [n_next, n, 3, 3]
  };
  TAEHVConfig config;
  at::TensorOptions topts;
  at::Tensor w_in, b_in, w_out, b_out;
  Stage stages[kStages];
  std::vector<at::Tensor> memory;        // per MemBlock [B, n_s, 2^s h, 2^s w]: its previous input frame
  int64_t batch = 0, latent_h = 0, latent_w = 0, raw_frames = 0;
  bool begun = false;
  TraceFn trace;

  void emit(int index, const at::Tensor& x) const {   // x [B T_N, C, H, W]
    if (trace) trace(str("decoder.", index), x.view({batch, -1, x.size(1), x.size(2), x.size(3)}));
  }
  at::Tensor mem_block(const MemBlock& b, at::Tensor& mem, const at::Tensor& x) const;
  at::Tensor forward(const at::Tensor& latents);
};

// relu(conv(cat(x, past)) + x), past = this block's input one frame earlier (the carried frame
// for the first of these frames).
at::Tensor TAEHVDecoder::Impl::mem_block(const MemBlock& b, at::Tensor& mem, const at::Tensor& x) const {
  const int64_t T = x.size(0) / batch;
  at::Tensor seq = x.view({batch, T, x.size(1), x.size(2), x.size(3)});                         // [B, T, C, H, W]
  at::Tensor past = at::cat({mem.unsqueeze(1), seq.narrow(1, 0, T - 1)}, 1).view_as(x);       // [BT, C, H, W]
  mem.copy_(seq.select(1, T - 1));
  at::Tensor y = at::conv2d(at::cat({x, past}, 1), b.w0, b.b0, {1, 1}, {1, 1}).relu_();   // [BT, C, H, W]
  y = at::conv2d(y, b.w2, b.b2, {1, 1}, {1, 1}).relu_();                                    // [BT, C, H, W]
  y = at::conv2d(y, b.w4, b.b4, {1, 1}, {1, 1});                                               // [BT, C, H, W]
  return y.add_(x).relu_();
}

at::Tensor TAEHVDecoder::Impl::forward(const at::Tensor& latents) {
  const int64_t B = batch, T = latents.size(2), C = latents.size(1);
  at::Tensor x = latents.to(topts).permute({0, 2, 1, 3, 4}).reshape({B * T, C, latent_h, latent_w});   // [BT, 16, h, w]
  x = at::tanh(x / 3.0) * 3.0;                                                                       // [BT, 16, h, w]
  x = at::conv2d(x, w_in, b_in, {1, 1}, {1, 1}).relu_();                                          // [BT, n0, h, w]
  emit(2, x);
  for (int s = 0; s < kStages; ++s) {
    for (int k = 0; k < 3; ++k) x = mem_block(stages[s].blocks[k], memory[3 * s + k], x);          // [B T_s, n_s, H_s, W_s]
    emit(stage_base(s) + 2, x);
    x = at::upsample_nearest2d(x, {2 * x.size(2), 2 * x.size(3)}, 2.0, 2.0);                        // [B T_s, n_s, 2H_s, 2W_s]
    const int64_t n = x.size(1);
    x = at::conv2d(x, stages[s].tgrow).reshape({-1, n, x.size(2), x.size(3)});                      // [B T_s stride, n_s, 2H_s, 2W_s]
    if (s == kStages - 1) emit(stage_base(s) + 4, x);
    x = at::conv2d(x, stages[s].proj, {}, {1, 1}, {1, 1});                                          // [B T_s', n_s+1, 2H_s, 2W_s]
  }
  x = at::conv2d(x.relu_(), w_out, b_out, {1, 1}, {1, 1});                                       // [B 4T, 3 p^2, 8h/p, 8w/p]
  emit(22, x);
  if (config.patch_size > 1) x = at::pixel_shuffle(x, config.patch_size);                          // [B 4T, 3, 8h, 8w]
  x = x.clamp(0.0, 1.0).view({B, -1, 3, x.size(2), x.size(3)});                                    // [B, 4T, 3, 8h, 8w]
  const int64_t made = x.size(1);
  const int64_t drop = std::min(made, std::max<int64_t>(0, config.frames_to_trim() - raw_frames));
  raw_frames += made;
  return x.narrow(1, drop, made - drop).permute({0, 2, 1, 3, 4});                                 // [B, 3, F, 8h, 8w]
}

TAEHVDecoder::TAEHVDecoder(const TAEHVCheckpoint& checkpoint, const VAEOptions& options) : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  const TAEHVConfig& c = checkpoint.config;
  check_tensor_names(checkpoint.tensors, expected_taehv_shapes(c), {}, checkpoint.source, c.describe(), "");
  at::Device device(options.device);
  WL_CHECK(!device.is_cuda() || at::hasCUDA(), "device '", options.device, "' asked for, but this build or machine has no CUDA");
  m.config = c;
  m.topts = at::TensorOptions().device(device).dtype(options.bf16 ? at::kBFloat16 : at::kFloat);
  auto w = [&](const std::string& name) { return checkpoint.tensors.at(name).to(m.topts).contiguous(); };
  m.w_in = w("decoder.1.weight");
  m.b_in = w("decoder.1.bias");
  m.w_out = w("decoder.22.weight");
  m.b_out = w("decoder.22.bias");
  for (int s = 0; s < kStages; ++s) {
    const int base = stage_base(s);
    for (int k = 0; k < 3; ++k) {
      const std::string p = layer(base + k) + "conv.";
      m.stages[s].blocks[k] = {w(p + "0.weight"), w(p + "0.bias"), w(p + "2.weight"), w(p + "2.bias"), w(p + "4.weight"), w(p + "4.bias")};
    }
    m.stages[s].tgrow = w(layer(base + 4) + "conv.weight");
    m.stages[s].proj = w(layer(base + 5) + "weight");
  }
}

TAEHVDecoder::~TAEHVDecoder() = default;
TAEHVDecoder::TAEHVDecoder(TAEHVDecoder&&) noexcept = default;
TAEHVDecoder& TAEHVDecoder::operator=(TAEHVDecoder&&) noexcept = default;

const TAEHVConfig& TAEHVDecoder::config() const { return impl_->config; }
void TAEHVDecoder::set_trace(TraceFn trace) { impl_->trace = std::move(trace); }

int64_t TAEHVDecoder::state_bytes() const {
  int64_t bytes = 0;
  for (const auto& m : impl_->memory) bytes += static_cast<int64_t>(m.nbytes());
  return bytes;
}

void TAEHVDecoder::begin(int64_t batch, int64_t latent_h, int64_t latent_w) {
  Impl& m = *impl_;
  WL_CHECK(batch > 0 && latent_h > 0 && latent_w > 0, "taehv begin: batch and latent grid must be positive, found ", batch, " x ",
           latent_h, "x", latent_w);
  if (m.begun && batch == m.batch && latent_h == m.latent_h && latent_w == m.latent_w) {
    for (auto& mem : m.memory) mem.zero_();
  } else {
    m.memory.clear();   // release first: the old and new state never coexist
    for (int s = 0; s < kStages; ++s)
      for (int k = 0; k < 3; ++k)
        m.memory.push_back(at::zeros({batch, m.config.widths[s], latent_h << s, latent_w << s}, m.topts));   // [B, n_s, H_s, W_s]
  }
  m.batch = batch;
  m.latent_h = latent_h;
  m.latent_w = latent_w;
  m.raw_frames = 0;
  m.begun = true;
}

at::Tensor TAEHVDecoder::decode_next(const at::Tensor& latents) {
  Impl& m = *impl_;
  WL_CHECK(m.begun, "taehv decode_next: call begin(batch, latent_h, latent_w) first");
  WL_CHECK(latents.dim() == 5 && latents.size(0) == m.batch && latents.size(1) == m.config.latent_channels &&
               latents.size(2) >= 1 && latents.size(3) == m.latent_h && latents.size(4) == m.latent_w,
           "taehv decode_next: latents must be [", m.batch, ", ", m.config.latent_channels, ", T, ", m.latent_h, ", ",
           m.latent_w, "] as begun, found ", shape_string(latents.sizes().vec()));
  return m.forward(latents);   // [B, 3, F, 8h, 8w]
}

}  // namespace wl
