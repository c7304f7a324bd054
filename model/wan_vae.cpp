// The Wan2.1 VAE decoder (see wan_vae.h): the diffusers name table, config inference and shape
// checks, the variant switches, then the streaming forward over preallocated causal-conv caches
// (each step written once for both layouts: the switches pick ops and layouts, the maths stays the
// reference's up to rounding).
//   latents [B, 16, T, h, w] -> conv2 [B, 16, T, h, w] -> decoder.conv1 [B, d0, T, h, w] -> middle
//   -> stage i: res blocks [B, d_i, T_i, h_i, w_i], resample -> [B, d_i / 2, 2T_i or T_i, 2h_i, 2w_i]
//   -> head [B, 3, F, 8h, 8w], F = 4T (T = 1 on the first latent: time_conv skipped, F = 1).
#include "model/wan_vae.h"

#include <ATen/ATen.h>

#include <ATen/Context.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <regex>

#include "kernels/core/error.h"

namespace wl {

const float kWanLatentMean[16] = {-0.7571f, -0.7089f, -0.9113f, 0.1075f,  -0.1745f, 0.9653f,  -0.1517f, 1.5508f,
                                  0.4134f,  -0.0715f, 0.5517f,  -0.3632f, -0.1922f, -0.9497f, 0.2503f,  -0.2921f};
const float kWanLatentStd[16] = {2.8184f, 1.4541f, 2.3275f, 2.6558f, 1.2196f, 1.7708f, 2.6052f, 2.0743f,
                                 3.2687f, 2.1526f, 2.8652f, 1.5579f, 1.6382f, 1.1253f, 2.8251f, 1.9160f};

namespace {

int64_t stage_count(const WanVAEConfig& c) { return static_cast<int64_t>(c.dims.size()) - 1; }
// Flat index of stage i's first module in decoder.upsamples (res blocks, then the resample).
int64_t stage_start(const WanVAEConfig& c, int64_t i) { return i * (c.num_res_blocks + 2); }

void validate(const WanVAEConfig& c) {
  WL_CHECK(c.dims.size() >= 2 && c.temporal_upsample.size() + 2 == c.dims.size() && c.num_res_blocks >= 0 && c.z_dim > 0,
           "Wan VAE config is inconsistent: ", c.describe());
  for (int64_t d : c.dims) WL_CHECK(d > 0 && d % 2 == 0, "Wan VAE config has an odd or empty width: ", c.describe());
}

// [SECTION] the diffusers <-> official mapping table (vae.md section 1.6)

// Residual-block suffixes: diffusers (WanResidualBlock) -> official (ResidualBlock).
const std::map<std::string, std::string>& residual_names() {
  static const std::map<std::string, std::string> kNames = {
      {"norm1.gamma", "residual.0.gamma"},     {"conv1.weight", "residual.2.weight"},
      {"conv1.bias", "residual.2.bias"},       {"norm2.gamma", "residual.3.gamma"},
      {"conv2.weight", "residual.6.weight"},   {"conv2.bias", "residual.6.bias"},
      {"conv_shortcut.weight", "shortcut.weight"}, {"conv_shortcut.bias", "shortcut.bias"},
  };
  return kNames;
}

// Whole-prefix renames outside the blocks (name = prefix + rest).
const std::vector<std::pair<std::string, std::string>>& prefix_names() {
  static const std::vector<std::pair<std::string, std::string>> kNames = {
      {"post_quant_conv.", "conv2."},
      {"quant_conv.", "conv1."},
      {"decoder.conv_in.", "decoder.conv1."},
      {"decoder.norm_out.", "decoder.head.0."},
      {"decoder.conv_out.", "decoder.head.2."},
      {"decoder.mid_block.attentions.0.", "decoder.middle.1."},
  };
  return kNames;
}

std::string map_residual(const std::string& official_prefix, const std::string& suffix) {
  auto it = residual_names().find(suffix);
  return official_prefix + (it != residual_names().end() ? it->second : suffix);   // unknown: reported later
}

TensorMap from_diffusers(TensorMap in) {
  static const std::regex kMid(R"(^decoder\.mid_block\.resnets\.(\d+)\.(.+)$)");
  static const std::regex kUpRes(R"(^decoder\.up_blocks\.(\d+)\.resnets\.(\d+)\.(.+)$)");
  static const std::regex kUpSample(R"(^decoder\.up_blocks\.(\d+)\.upsamplers\.0\.(.+)$)");
  // Residual blocks per stage: diffusers counts num_res_blocks + 1 resnets in up_blocks.0.
  int64_t resnets = 0;
  for (const auto& [name, _] : in) {
    std::smatch m;
    if (std::regex_match(name, m, kUpRes) && m[1] == "0") resnets = std::max<int64_t>(resnets, std::stoll(m[2]) + 1);
  }
  const int64_t per_stage = resnets + 1;   // res blocks + the resample
  TensorMap out;
  for (auto& [name, tensor] : in) {
    std::string official = name;
    std::smatch m;
    if (std::regex_match(name, m, kMid)) {
      official = map_residual(str("decoder.middle.", 2 * std::stoll(m[1]), "."), m[2]);
    } else if (std::regex_match(name, m, kUpRes)) {
      official = map_residual(str("decoder.upsamples.", std::stoll(m[1]) * per_stage + std::stoll(m[2]), "."), m[3]);
    } else if (std::regex_match(name, m, kUpSample)) {
      official = str("decoder.upsamples.", std::stoll(m[1]) * per_stage + resnets, ".", m[2].str());
    } else {
      for (const auto& [from, to] : prefix_names())
        if (name.rfind(from, 0) == 0) {
          official = to + name.substr(from.size());
          break;
        }
    }
    WL_CHECK(out.emplace(official, tensor).second, "tensor '", name, "' maps to '", official,
             "', which another tensor of the checkpoint already has");
  }
  return out;
}

// The encoder half of a full VAE checkpoint: present in every released file, never used here.
bool is_encoder_tensor(const std::string& name) {
  return name.rfind("encoder.", 0) == 0 || name.rfind("conv1.", 0) == 0;
}

// Reads the architecture from the tensors' shapes; pieces it cannot see keep the released values
// (the shape check then names what is missing).
WanVAEConfig infer_config(const TensorMap& t) {
  WanVAEConfig c;
  auto shape = [&](const std::string& name) -> std::vector<int64_t> {
    auto it = t.find(name);
    return it == t.end() ? std::vector<int64_t>{} : it->second.sizes().vec();
  };
  if (auto s = shape("decoder.conv1.weight"); s.size() == 5) {
    c.dims[0] = s[0];
    c.z_dim = s[1];
  }
  static const std::regex kUp(R"(^decoder\.upsamples\.(\d+)\.)");
  int64_t modules = 0;
  for (const auto& [name, _] : t) {
    std::smatch m;
    if (std::regex_search(name, m, kUp)) modules = std::max<int64_t>(modules, std::stoll(m[1]) + 1);
  }
  const int64_t stages = stage_count(c);   // Wan2.1 VAEs all have 4 up stages (dim_mult of 4)
  if (modules > 0 && (modules + 1) % stages == 0 && (modules + 1) / stages >= 2) c.num_res_blocks = (modules + 1) / stages - 2;
  for (int64_t i = 0; i < stages; ++i) {
    if (auto s = shape(str("decoder.upsamples.", stage_start(c, i), ".residual.2.weight")); s.size() == 5) c.dims[i + 1] = s[0];
    if (i + 1 < stages)
      c.temporal_upsample[i] = t.count(str("decoder.upsamples.", stage_start(c, i) + c.num_res_blocks + 1, ".time_conv.weight")) > 0;
  }
  return c;
}

void add_residual_shapes(ShapeMap& s, const std::string& p, int64_t in, int64_t out) {
  s[p + "residual.0.gamma"] = {in, 1, 1, 1};
  s[p + "residual.2.weight"] = {out, in, 3, 3, 3};
  s[p + "residual.2.bias"] = {out};
  s[p + "residual.3.gamma"] = {out, 1, 1, 1};
  s[p + "residual.6.weight"] = {out, out, 3, 3, 3};
  s[p + "residual.6.bias"] = {out};
  if (in != out) {
    s[p + "shortcut.weight"] = {out, in, 1, 1, 1};
    s[p + "shortcut.bias"] = {out};
  }
}

// [SECTION] modules (weights on the device, in the compute dtype and the variant's memory format)

struct Conv {
  at::Tensor weight;   // [O, I, kt, kh, kw] (3-D) or [O, I, kh, kw] (2-D)
  at::Tensor bias;     // [O]
  int slot = -1;       // cache slot of a causal conv with temporal kernel 3
  at::Tensor weight2d; // "conv2d" / "cl": [O, I, kh, kw] of a temporal-kernel-1 conv, or [O, I] of a 1x1 2-D one
};
struct Norm {
  at::Tensor scaled;   // gamma * sqrt(C), [C, 1, 1, 1] (or [C, 1, 1] in the attention): the reference's form
  at::Tensor weight;   // gamma [C], for at::rms_norm ("fuse"), whose mean over C brings the sqrt(C)
};
struct ResBlock {
  Norm norm1, norm2;
  Conv conv1, conv2, shortcut;   // shortcut.weight undefined when in == out
};
struct Attention {
  Norm norm;
  Conv to_qkv, proj;
};
struct Stage {
  std::vector<ResBlock> res;
  bool has_resample = false, temporal = false;
  Conv time_conv, resample;    // time_conv [2C, C, 3, 1, 1]; resample [C / 2, C, 3, 3]
};

// Scopes cuDNN's autotuner to one decode call and restores the caller's setting after. Autotuning
// picks algorithms by timing, so two processes may pick differently (and round differently): when
// ATen is asked for determinism (setDeterministicCuDNN / setDeterministicAlgorithms, as a replay
// that must match bit for bit would set), it stays off.
class CudnnBenchmarkScope {
 public:
  explicit CudnnBenchmarkScope(bool want) {
    at::Context& ctx = at::globalContext();
    active_ = want && !ctx.deterministicCuDNN() && !ctx.deterministicAlgorithms() && !ctx.benchmarkCuDNN();
    if (active_) ctx.setBenchmarkCuDNN(true);
  }
  ~CudnnBenchmarkScope() {
    if (active_) at::globalContext().setBenchmarkCuDNN(false);
  }
  CudnnBenchmarkScope(const CudnnBenchmarkScope&) = delete;
  CudnnBenchmarkScope& operator=(const CudnnBenchmarkScope&) = delete;

 private:
  bool active_ = false;
};

// [B, C, T, h, w] -> [B, T, h, w, C]: a contiguous view when x is ChannelsLast3d.
at::Tensor channels_inner(const at::Tensor& x) { return x.permute({0, 2, 3, 4, 1}); }
// [B, C, T, h, w] -> [B T, C, h, w]: a view (ChannelsLast) when x is ChannelsLast3d or T == 1.
at::Tensor frames_of(const at::Tensor& x) {
  return x.permute({0, 2, 1, 3, 4}).reshape({x.size(0) * x.size(2), x.size(1), x.size(3), x.size(4)});
}
// The inverse: [B T, C, h, w] -> [B, C, T, h, w] (ChannelsLast in, ChannelsLast3d out: a view).
at::Tensor video_of(const at::Tensor& f, int64_t B, int64_t T) {
  return f.view({B, T, f.size(1), f.size(2), f.size(3)}).permute({0, 2, 1, 3, 4});
}

}  // namespace

std::string WanVAEConfig::describe() const {
  std::string w;
  for (size_t i = 0; i < dims.size(); ++i) w += str(i ? "/" : "", dims[i]);
  std::string t;
  for (bool b : temporal_upsample) t += b ? "T" : "-";
  return str("Wan2.1 VAE decoder (z ", z_dim, ", widths ", w, ", ", num_res_blocks, " res blocks, time upsample ", t, ")");
}

TensorMap wan_vae_official_names(TensorMap tensors, std::string& dialect) {
  bool diffusers = false;
  for (const auto& [name, _] : tensors)
    diffusers = diffusers || name.rfind("post_quant_conv.", 0) == 0 || name.rfind("decoder.conv_in.", 0) == 0 ||
                name.rfind("decoder.mid_block.", 0) == 0 || name.rfind("decoder.up_blocks.", 0) == 0;
  dialect = diffusers ? "diffusers" : "official";
  return diffusers ? from_diffusers(std::move(tensors)) : tensors;
}

ShapeMap expected_wan_vae_shapes(const WanVAEConfig& c) {
  validate(c);
  const int64_t z = c.z_dim, d0 = c.dims[0], last = c.dims.back();
  ShapeMap s = {
      {"conv2.weight", {z, z, 1, 1, 1}},        {"conv2.bias", {z}},
      {"decoder.conv1.weight", {d0, z, 3, 3, 3}}, {"decoder.conv1.bias", {d0}},
      {"decoder.middle.1.norm.gamma", {d0, 1, 1}},
      {"decoder.middle.1.to_qkv.weight", {3 * d0, d0, 1, 1}}, {"decoder.middle.1.to_qkv.bias", {3 * d0}},
      {"decoder.middle.1.proj.weight", {d0, d0, 1, 1}},      {"decoder.middle.1.proj.bias", {d0}},
      {"decoder.head.0.gamma", {last, 1, 1, 1}},
      {"decoder.head.2.weight", {3, last, 3, 3, 3}}, {"decoder.head.2.bias", {3}},
  };
  add_residual_shapes(s, "decoder.middle.0.", d0, d0);
  add_residual_shapes(s, "decoder.middle.2.", d0, d0);
  for (int64_t i = 0; i < stage_count(c); ++i) {
    int64_t in = i == 0 ? c.dims[0] : c.dims[i] / 2, out = c.dims[i + 1];
    for (int64_t j = 0; j <= c.num_res_blocks; ++j) {
      add_residual_shapes(s, str("decoder.upsamples.", stage_start(c, i) + j, "."), in, out);
      in = out;
    }
    if (i + 1 == stage_count(c)) break;
    std::string p = str("decoder.upsamples.", stage_start(c, i) + c.num_res_blocks + 1, ".");
    s[p + "resample.1.weight"] = {out / 2, out, 3, 3};
    s[p + "resample.1.bias"] = {out / 2};
    if (c.temporal_upsample[i]) {
      s[p + "time_conv.weight"] = {2 * out, out, 3, 1, 1};
      s[p + "time_conv.bias"] = {2 * out};
    }
  }
  return s;
}

WanVAECheckpoint wan_vae_checkpoint_from(TensorMap tensors, const std::string& source) {
  WanVAECheckpoint ckpt;
  ckpt.source = source;
  tensors = wan_vae_official_names(std::move(tensors), ckpt.dialect);
  for (auto it = tensors.begin(); it != tensors.end();) it = is_encoder_tensor(it->first) ? tensors.erase(it) : std::next(it);
  ckpt.config = infer_config(tensors);
  try {
    validate(ckpt.config);
  } catch (const Error& e) {
    throw Error(str(source, ": ", e.what(), " (inferred from the tensor shapes)"));
  }
  check_tensor_names(tensors, expected_wan_vae_shapes(ckpt.config), {}, source, ckpt.config.describe(),
                     "a Wan2.1 VAE (Wan2.1_VAE.pth converted to safetensors, or a diffusers vae/ directory)");
  ckpt.tensors = std::move(tensors);
  return ckpt;
}

WanVAECheckpoint load_wan_vae_checkpoint(const std::string& path) { return wan_vae_checkpoint_from(read_weight_files(path, "vae"), path); }

TensorMap random_wan_vae_weights(const WanVAEConfig& config, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  TensorMap out;
  for (const auto& [name, shape] : expected_wan_vae_shapes(config)) {
    int64_t fan_in = 1;
    for (size_t i = 1; i < shape.size(); ++i) fan_in *= shape[i];
    if (name.ends_with(".gamma")) out[name] = 1.0 + 0.1 * at::randn(shape, gen, at::kFloat);
    else if (name.ends_with(".bias")) out[name] = 0.1 * at::randn(shape, gen, at::kFloat);
    else out[name] = at::randn(shape, gen, at::kFloat) / std::sqrt(static_cast<double>(fan_in));
  }
  return out;
}

// [SECTION] variants

const char* const kWanCudaDefault = "cl+cudnn+conv2d+buf+fuse+up";
const char* const kWanCpuDefault = "cl";

const std::vector<std::string>& wan_vae_variant_switches() {
  static const std::vector<std::string> kSwitches = {"cl", "cudnn", "conv2d", "buf", "fuse", "up"};
  return kSwitches;
}

namespace {
// The switches in wan_vae_variant_switches() order.
std::array<bool*, 6> switches(WanVAEVariant& v) {
  return {&v.channels_last, &v.cudnn_benchmark, &v.conv2d, &v.buffers, &v.fused_norm, &v.nearest2d};
}
}  // namespace

WanVAEVariant WanVAEVariant::parse(const std::string& spec) {
  WanVAEVariant v;
  auto known = [] {
    std::string list = "baseline, all";
    for (const auto& name : wan_vae_variant_switches()) list += ", " + name;
    return list;
  };
  WL_CHECK(!spec.empty(), "Wan VAE variant is empty; hint: one of ", known(), ", or switches joined by '+' (cl+cudnn)");
  if (spec == "baseline") return v;
  if (spec == "all") {
    for (bool* b : switches(v)) *b = true;
    return v;
  }
  size_t start = 0;
  while (start <= spec.size()) {
    size_t end = spec.find('+', start);
    if (end == std::string::npos) end = spec.size();
    const std::string name = spec.substr(start, end - start);
    const auto& names = wan_vae_variant_switches();
    auto it = std::find(names.begin(), names.end(), name);
    WL_CHECK(it != names.end(), "Wan VAE variant '", spec, "': unknown switch '", name, "'; hint: one of ", known(),
             ", or switches joined by '+' (cl+cudnn)");
    bool* b = switches(v)[static_cast<size_t>(it - names.begin())];
    WL_CHECK(!*b, "Wan VAE variant '", spec, "' names '", name, "' twice");
    *b = true;
    start = end + 1;
  }
  WL_CHECK(!v.fused_norm || v.channels_last, "Wan VAE variant '", spec,
           "': 'fuse' needs 'cl' (at::rms_norm normalises the innermost axis, which is C only in channels-last); "
           "hint: cl+fuse");
  return v;
}

WanVAEVariant WanVAEVariant::defaults(bool cuda) { return parse(cuda ? kWanCudaDefault : kWanCpuDefault); }

std::string WanVAEVariant::name() const {
  WanVAEVariant copy = *this;
  std::string out;
  const auto& names = wan_vae_variant_switches();
  auto on = switches(copy);
  for (size_t i = 0; i < names.size(); ++i)
    if (*on[i]) out += (out.empty() ? "" : "+") + names[i];
  return out.empty() ? "baseline" : out;
}

// [SECTION] the streaming decoder

struct WanVAEDecoder::Impl {
  WanVAEConfig config;
  WanVAEOptions options;
  WanVAEVariant variant;
  bool cuda = false;
  at::TensorOptions topts;     // device and compute dtype
  at::MemoryFormat format3 = at::MemoryFormat::Contiguous;   // activations and 5-D weights
  at::MemoryFormat format2 = at::MemoryFormat::Contiguous;   // per-frame (4-D) tensors
  Conv conv2, conv_in, head;
  ResBlock mid0, mid2;
  Attention attn;
  std::vector<Stage> stages;
  Norm head_norm;
  at::Tensor mean, inv_std;    // [1, z, 1, 1, 1] fp32 on the device

  struct SlotSpec {
    int64_t channels;          // the cached conv's input channels
    int64_t scale;             // its grid is (scale h) x (scale w)
    int64_t time_scale;        // its input has time_scale frames per latent (after the first): 1, 2 or 4
  };
  std::vector<SlotSpec> slots;
  // Per slot: the cache [B, C, 2, scale h, scale w]; with "buf" the window [B, C, 2 + n, ...] whose
  // frames 0-1 are the cache and 2.. this call's input (n grows to the largest call seen). Zero at begin().
  std::vector<at::Tensor> caches;
  int64_t batch = 0, latent_h = 0, latent_w = 0;
  bool begun = false, first = true;
  TraceFn trace;
  // Construction only: the grid and frame scale of the modules being built (forward order).
  int64_t build_scale = 1, build_time_scale = 1;

  at::Tensor weight(const TensorMap& t, const std::string& name) const {
    at::Tensor w = t.at(name).to(topts);
    if (w.dim() == 5) return w.contiguous(format3);
    if (w.dim() == 4) return w.contiguous(format2);
    return w.contiguous();
  }
  Conv conv(const TensorMap& t, const std::string& p, int slot = -1) const {
    Conv c{weight(t, p + "weight"), weight(t, p + "bias"), slot, {}};
    if (c.weight.dim() == 5 && c.weight.size(2) == 1) c.weight2d = c.weight.squeeze(2).contiguous(format2);   // [O, I, kh, kw]
    if (c.weight.dim() == 4 && c.weight.size(2) == 1 && c.weight.size(3) == 1)
      c.weight2d = c.weight.reshape({c.weight.size(0), c.weight.size(1)}).contiguous();   // [O, I]
    return c;
  }
  int add_slot(int64_t channels) {
    slots.push_back({channels, build_scale, build_time_scale});
    return static_cast<int>(slots.size()) - 1;
  }
  Norm norm(const TensorMap& t, const std::string& name) const {
    at::Tensor g = weight(t, name);                                                // [C, 1, 1(, 1)]
    return Norm{g * std::sqrt(static_cast<double>(g.size(0))), g.reshape({g.size(0)}).contiguous()};   // RMS_norm's scale folded in
  }
  ResBlock res_block(const TensorMap& t, const std::string& p) {
    ResBlock r;
    r.norm1 = norm(t, p + "residual.0.gamma");
    r.conv1 = conv(t, p + "residual.2.", add_slot(r.norm1.weight.size(0)));
    r.norm2 = norm(t, p + "residual.3.gamma");
    r.conv2 = conv(t, p + "residual.6.", add_slot(r.norm2.weight.size(0)));
    if (t.count(p + "shortcut.weight")) r.shortcut = conv(t, p + "shortcut.");
    return r;
  }

  void emit(const char* name, const at::Tensor& x) const {
    if (trace) trace(name, x);
  }
  at::Tensor rms(const at::Tensor& x, const at::Tensor& g) const;
  at::Tensor norm_silu(const at::Tensor& x, const Norm& n, const at::Tensor& out = {}) const;
  at::Tensor window(int slot, int64_t T);
  at::Tensor conv_window(const Conv& c, int64_t T);
  at::Tensor causal_conv(const Conv& c, const at::Tensor& x);
  at::Tensor norm_silu_conv(const at::Tensor& x, const Norm& n, const Conv& c);
  at::Tensor pointwise_conv(const Conv& c, const at::Tensor& x) const;
  at::Tensor residual(const ResBlock& r, const at::Tensor& x);
  at::Tensor attention(const at::Tensor& x) const;
  at::Tensor attention_channels_last(const at::Tensor& x) const;
  at::Tensor resample(const Stage& s, at::Tensor x);
  at::Tensor forward(const at::Tensor& latents);
};

// F.normalize over channels (eps 1e-12 on the norm) in fp32, times sqrt(C) * gamma.
at::Tensor WanVAEDecoder::Impl::rms(const at::Tensor& x, const at::Tensor& g) const {
  at::Tensor xf = x.to(at::kFloat);
  at::Tensor norm = at::linalg_vector_norm(xf, 2, {1}, /*keepdim=*/true).clamp_min(1e-12);   // [B, 1, ...]
  return (xf / norm).to(x.scalar_type()) * g;                                                // x's shape
}

// RMS norm over channels, then SiLU; into `out` (x's shape) when given. "fuse": at::rms_norm over the
// innermost (channel) axis, fp32 inside, with an epsilon (1e-24 / C on the mean square) that equals
// the reference's 1e-12 floor on the norm; SiLU then writes straight into `out`.
at::Tensor WanVAEDecoder::Impl::norm_silu(const at::Tensor& x, const Norm& n, const at::Tensor& out) const {
  if (variant.fused_norm) {
    const int64_t C = x.size(1);
    at::Tensor y = at::rms_norm(channels_inner(x), {C}, n.weight, 1e-24 / static_cast<double>(C));   // [B, T, h, w, C]
    if (!out.defined()) return at::silu_(y).permute({0, 4, 1, 2, 3});                               // [B, C, T, h, w]
    at::Tensor dst = channels_inner(out);                                                           // [B, T, h, w, C] view
    at::silu_out(dst, y);
    return out;
  }
  at::Tensor y = rms(x, n.scaled);   // x's shape
  if (!out.defined()) return at::silu_(y);
  at::Tensor dst = out;              // a handle onto the same memory
  at::silu_out(dst, y);
  return out;
}

// The conv's input window [B, C, 2 + T, h, w] ("buf"): frames 0-1 are the cache, 2.. take this call's
// T frames. A call with another T gets a new window of exactly 2 + T frames (keeping the cache): a
// narrowed one would not be dense for B > 1, and the convs would then copy it and take other paths
// (other rounding), so the frames would depend on the calls before. Equal calls never reallocate.
at::Tensor WanVAEDecoder::Impl::window(int slot, int64_t T) {
  at::Tensor& w = caches[slot];
  if (w.size(2) != 2 + T) {
    at::Tensor resized = at::empty({w.size(0), w.size(1), 2 + T, w.size(3), w.size(4)}, topts.memory_format(format3));   // [B, C, 2 + T, h, w]
    resized.narrow(2, 0, 2).copy_(w.narrow(2, 0, 2));
    w = resized;
  }
  return w;   // [B, C, 2 + T, h, w]
}

// Convolves a filled window, then keeps its last 2 frames as the next call's cache.
at::Tensor WanVAEDecoder::Impl::conv_window(const Conv& c, int64_t T) {
  at::Tensor w = window(c.slot, T);                                                           // [B, C, 2 + T, h, w]
  const int64_t pad = c.weight.size(3) / 2;
  at::Tensor y = at::conv3d(w, c.weight, c.bias, {1, 1, 1}, {0, pad, pad});                   // [B, O, T, h, w]
  if (T >= 2) {
    w.narrow(2, 0, 2).copy_(w.narrow(2, T, 2));
  } else {   // frames 1, 2 -> 0, 1 one at a time (the ranges overlap)
    w.select(2, 0).copy_(w.select(2, 1));
    w.select(2, 1).copy_(w.select(2, 2));
  }
  return y;
}

// The cache holds the last 2 frames this conv saw; prepending them replaces the causal zero pad.
at::Tensor WanVAEDecoder::Impl::causal_conv(const Conv& c, const at::Tensor& x) {
  if (variant.buffers) {
    const int64_t T = x.size(2);
    window(c.slot, T).narrow(2, 2, T).copy_(x);
    return conv_window(c, T);                                           // [B, O, T, h, w]
  }
  at::Tensor& cache = caches[c.slot];                                   // [B, C, 2, h, w]
  at::Tensor padded = at::cat({cache, x}, 2);                           // [B, C, 2 + T, h, w]
  cache.copy_(padded.narrow(2, padded.size(2) - 2, 2));
  const int64_t pad = c.weight.size(3) / 2;
  return at::conv3d(padded, c.weight, c.bias, {1, 1, 1}, {0, pad, pad});   // [B, O, T, h, w]
}

// norm -> SiLU -> causal conv; with "buf" the SiLU writes straight into the conv's window.
at::Tensor WanVAEDecoder::Impl::norm_silu_conv(const at::Tensor& x, const Norm& n, const Conv& c) {
  if (!variant.buffers) return causal_conv(c, norm_silu(x, n));   // [B, O, T, h, w]
  const int64_t T = x.size(2);
  norm_silu(x, n, window(c.slot, T).narrow(2, 2, T));
  return conv_window(c, T);                                       // [B, O, T, h, w]
}

// A conv with temporal kernel 1 (conv2, the shortcuts): conv3d, or with "conv2d" a conv2d over the
// B*T frames (a view in channels-last; NCTHW pays a transpose when T > 1).
at::Tensor WanVAEDecoder::Impl::pointwise_conv(const Conv& c, const at::Tensor& x) const {
  if (!variant.conv2d) return at::conv3d(x, c.weight, c.bias);                        // [B, O, T, h, w]
  const int64_t B = x.size(0), T = x.size(2), pad = c.weight2d.size(2) / 2;
  at::Tensor y = video_of(at::conv2d(frames_of(x), c.weight2d, c.bias, {1, 1}, {pad, pad}), B, T);   // [B, O, T, h, w]
  return variant.channels_last || T == 1 ? y : y.contiguous();
}

at::Tensor WanVAEDecoder::Impl::residual(const ResBlock& r, const at::Tensor& x) {
  at::Tensor h = r.shortcut.weight.defined() ? pointwise_conv(r.shortcut, x) : x;   // [B, O, T, h, w]
  at::Tensor y = norm_silu_conv(x, r.norm1, r.conv1);                               // [B, O, T, h, w]
  y = norm_silu_conv(y, r.norm2, r.conv2);                                          // [B, O, T, h, w]
  return y + h;
}

// Single-head self-attention within each frame (no temporal mixing, so no state).
at::Tensor WanVAEDecoder::Impl::attention(const at::Tensor& x) const {
  if (variant.channels_last) return attention_channels_last(x);
  const int64_t B = x.size(0), C = x.size(1), T = x.size(2), h = x.size(3), w = x.size(4);
  at::Tensor f = rms(x.permute({0, 2, 1, 3, 4}).reshape({B * T, C, h, w}), attn.norm.scaled);              // [BT, C, h, w]
  at::Tensor qkv = at::conv2d(f, attn.to_qkv.weight, attn.to_qkv.bias).reshape({B * T, 1, 3 * C, h * w});  // [BT, 1, 3C, N]
  qkv = qkv.transpose(2, 3).contiguous();                                                                   // [BT, 1, N, 3C]
  auto qkv_parts = qkv.chunk(3, -1);                                                                        // 3 x [BT, 1, N, C]
  at::Tensor o = at::scaled_dot_product_attention(qkv_parts[0], qkv_parts[1], qkv_parts[2]);               // [BT, 1, N, C]
  o = o.squeeze(1).transpose(1, 2).reshape({B * T, C, h, w});                                               // [BT, C, h, w]
  o = at::conv2d(o, attn.proj.weight, attn.proj.bias);                                                      // [BT, C, h, w]
  return o.view({B, T, C, h, w}).permute({0, 2, 1, 3, 4}) + x;                                              // [B, C, T, h, w]
}

// The same on channels-last activations: tokens are already [BT, N, C] in memory, so the norm, the
// 1x1 convs (GEMMs) and the attention need no transposes.
at::Tensor WanVAEDecoder::Impl::attention_channels_last(const at::Tensor& x) const {
  const int64_t B = x.size(0), C = x.size(1), T = x.size(2), h = x.size(3), w = x.size(4);
  at::Tensor tokens = channels_inner(x).reshape({B * T, h * w, C});                                         // [BT, N, C] (a view)
  at::Tensor f;
  if (variant.fused_norm) {
    f = at::rms_norm(tokens, {C}, attn.norm.weight, 1e-24 / static_cast<double>(C));                        // [BT, N, C]
  } else {
    at::Tensor tf = tokens.to(at::kFloat);
    at::Tensor norm = at::linalg_vector_norm(tf, 2, {-1}, /*keepdim=*/true).clamp_min(1e-12);               // [BT, N, 1]
    f = (tf / norm).to(x.scalar_type()) * attn.norm.scaled.reshape({C});                                    // [BT, N, C]
  }
  at::Tensor qkv = at::linear(f, attn.to_qkv.weight2d, attn.to_qkv.bias);                                  // [BT, N, 3C]
  auto qkv_parts = qkv.unsqueeze(1).chunk(3, -1);                                                           // 3 x [BT, 1, N, C]
  at::Tensor o = at::scaled_dot_product_attention(qkv_parts[0], qkv_parts[1], qkv_parts[2]);               // [BT, 1, N, C]
  o = at::linear(o.squeeze(1), attn.proj.weight2d, attn.proj.bias);                                         // [BT, N, C]
  o.add_(tokens);
  return o.view({B, T, h, w, C}).permute({0, 4, 1, 2, 3});                                                  // [B, C, T, h, w]
}

// time_conv (skipped on the first latent) doubles the frames, channel half 0 being the earlier
// one; then each frame is upsampled 2x (nearest-exact) and convolved 3x3 to half the channels.
at::Tensor WanVAEDecoder::Impl::resample(const Stage& s, at::Tensor x) {
  const int64_t B = x.size(0), C = x.size(1), h = x.size(3), w = x.size(4);
  int64_t T = x.size(2);
  if (s.temporal && !first) {
    at::Tensor y = causal_conv(s.time_conv, x);                                            // [B, 2C, T, h, w]
    if (variant.channels_last) {
      // In memory y is [B, T, h, w, 2, C] and the doubled video [B, T, 2, h, w, C]: one copy.
      at::Tensor doubled = at::empty({B, C, 2 * T, h, w}, topts.memory_format(format3));   // [B, C, 2T, h, w]
      channels_inner(doubled).view({B, T, 2, h, w, C}).copy_(channels_inner(y).reshape({B, T, h, w, 2, C}).permute({0, 1, 4, 2, 3, 5}));
      x = doubled;
    } else {
      x = y.view({B, 2, C, T, h, w}).permute({0, 2, 3, 1, 4, 5}).reshape({B, C, 2 * T, h, w});   // [B, C, 2T, h, w]
    }
    T *= 2;
  }
  at::Tensor f = frames_of(x);                                                             // [BT, C, h, w]
  f = variant.nearest2d ? at::upsample_nearest2d(f, {2 * h, 2 * w})
                        : at::_upsample_nearest_exact2d(f, {2 * h, 2 * w}, 2.0, 2.0);      // [BT, C, 2h, 2w]
  f = at::conv2d(f, s.resample.weight, s.resample.bias, {1, 1}, {1, 1});                   // [BT, C/2, 2h, 2w]
  return video_of(f, B, T);                                                                // [B, C/2, T, 2h, 2w]
}

const char* const kStageNames[] = {"decoder.up_blocks.0", "decoder.up_blocks.1", "decoder.up_blocks.2", "decoder.up_blocks.3"};

at::Tensor WanVAEDecoder::Impl::forward(const at::Tensor& latents) {
  at::Tensor x = latents.to(topts.device(), at::kFloat);                                   // [B, z, T, h, w]
  if (options.denormalise) x = x / inv_std + mean;                                         // [B, z, T, h, w]
  x = x.to(topts.dtype()).contiguous(format3);                                             // [B, z, T, h, w]
  x = pointwise_conv(conv2, x);                                                            // [B, z, T, h, w]
  emit("post_quant_conv", x);
  x = causal_conv(conv_in, x);                                                             // [B, d0, T, h, w]
  emit("decoder.conv_in", x);
  x = residual(mid2, attention(residual(mid0, x)));                                        // [B, d0, T, h, w]
  emit("decoder.mid_block", x);
  for (size_t i = 0; i < stages.size(); ++i) {
    for (const ResBlock& r : stages[i].res) x = residual(r, x);                           // [B, d_i, T_i, h_i, w_i]
    if (stages[i].has_resample) x = resample(stages[i], x);                                // [B, d_i/2, T_i', 2h_i, 2w_i]
    emit(kStageNames[i], x);
  }
  x = norm_silu_conv(x, head_norm, head);                                                  // [B, 3, F, 8h, 8w]
  emit("decoder.conv_out", x);
  first = false;
  if (!variant.channels_last) return x.clamp(-1.0, 1.0);                                   // [B, 3, F, 8h, 8w]
  at::Tensor frames = at::empty(x.sizes(), x.options().memory_format(at::MemoryFormat::Contiguous));
  at::clamp_out(frames, x, -1.0, 1.0);                                                     // [B, 3, F, 8h, 8w], NCTHW
  return frames;
}

WanVAEDecoder::WanVAEDecoder(const WanVAECheckpoint& checkpoint, const WanVAEOptions& options) : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  const WanVAEConfig& c = checkpoint.config;
  check_tensor_names(checkpoint.tensors, expected_wan_vae_shapes(c), {}, checkpoint.source, c.describe(), "");
  WL_CHECK(stage_count(c) <= 4, checkpoint.source, ": ", c.describe(), " has more up stages than Wan2.1's 4");
  at::Device device(options.device);
  WL_CHECK(!device.is_cuda() || at::hasCUDA(), "device '", options.device, "' asked for, but this build or machine has no CUDA");
  m.config = c;
  m.options = options;
  m.cuda = device.is_cuda();
  m.variant = options.variant.empty() || options.variant == "auto" ? WanVAEVariant::defaults(m.cuda) : WanVAEVariant::parse(options.variant);
  if (m.variant.channels_last) {
    m.format3 = at::MemoryFormat::ChannelsLast3d;
    m.format2 = at::MemoryFormat::ChannelsLast;
  }
  m.topts = at::TensorOptions().device(device).dtype(options.bf16 ? at::kBFloat16 : at::kFloat);
  const TensorMap& t = checkpoint.tensors;

  // Construction order is forward order, so the slots number as the reference's feat_cache.
  m.conv2 = m.conv(t, "conv2.");
  m.conv_in = m.conv(t, "decoder.conv1.", m.add_slot(c.z_dim));
  m.mid0 = m.res_block(t, "decoder.middle.0.");
  m.attn = Attention{m.norm(t, "decoder.middle.1.norm.gamma"), m.conv(t, "decoder.middle.1.to_qkv."),
                     m.conv(t, "decoder.middle.1.proj.")};
  m.mid2 = m.res_block(t, "decoder.middle.2.");
  for (int64_t i = 0; i < stage_count(c); ++i) {
    Stage s;
    for (int64_t j = 0; j <= c.num_res_blocks; ++j) s.res.push_back(m.res_block(t, str("decoder.upsamples.", stage_start(c, i) + j, ".")));
    if (i + 1 < stage_count(c)) {
      std::string p = str("decoder.upsamples.", stage_start(c, i) + c.num_res_blocks + 1, ".");
      s.has_resample = true;
      s.temporal = c.temporal_upsample[i];
      if (s.temporal) s.time_conv = m.conv(t, p + "time_conv.", m.add_slot(c.dims[i + 1]));
      s.resample = m.conv(t, p + "resample.1.");
      m.build_scale *= 2;
      if (s.temporal) m.build_time_scale *= 2;
    }
    m.stages.push_back(std::move(s));
  }
  m.head_norm = m.norm(t, "decoder.head.0.gamma");
  m.head = m.conv(t, "decoder.head.2.", m.add_slot(c.dims.back()));

  WL_CHECK(c.z_dim == 16 || !options.denormalise, checkpoint.source, ": latent de-normalisation needs Wan2.1's 16 channels, found ",
           c.z_dim, " (hint: set WanVAEOptions::denormalise = false)");
  auto fp32 = at::TensorOptions().device(device).dtype(at::kFloat);
  m.mean = at::tensor(at::ArrayRef<float>(kWanLatentMean, 16)).to(fp32).view({1, 16, 1, 1, 1});            // [1, 16, 1, 1, 1]
  m.inv_std = (1.0 / at::tensor(at::ArrayRef<float>(kWanLatentStd, 16))).to(fp32).view({1, 16, 1, 1, 1});  // [1, 16, 1, 1, 1]
}

WanVAEDecoder::~WanVAEDecoder() = default;
WanVAEDecoder::WanVAEDecoder(WanVAEDecoder&&) noexcept = default;
WanVAEDecoder& WanVAEDecoder::operator=(WanVAEDecoder&&) noexcept = default;

const WanVAEConfig& WanVAEDecoder::config() const { return impl_->config; }
const WanVAEVariant& WanVAEDecoder::variant() const { return impl_->variant; }
int WanVAEDecoder::cache_slots() const { return static_cast<int>(impl_->slots.size()); }
void WanVAEDecoder::set_trace(TraceFn trace) { impl_->trace = std::move(trace); }

int64_t WanVAEDecoder::state_bytes() const {
  int64_t bytes = 0;
  for (const auto& c : impl_->caches) bytes += static_cast<int64_t>(c.nbytes());
  return bytes;
}

void WanVAEDecoder::begin(int64_t batch, int64_t latent_h, int64_t latent_w) {
  Impl& m = *impl_;
  WL_CHECK(batch > 0 && latent_h > 0 && latent_w > 0, "wan2.1 begin: batch and latent grid must be positive, found ", batch,
           " x ", latent_h, "x", latent_w);
  const bool same = m.begun && batch == m.batch && latent_h == m.latent_h && latent_w == m.latent_w;
  if (same) {
    for (auto& cache : m.caches) cache.zero_();
  } else {
    m.caches.clear();   // release first: the old and new caches never coexist
    for (const auto& s : m.slots) {
      // "buf": room for one latent's frames after the cache, so a stream of single latents never grows it.
      const int64_t frames = m.variant.buffers ? 2 + s.time_scale : 2;
      // (at::zeros would ignore the memory format; empty honours it.)
      m.caches.push_back(at::empty({batch, s.channels, frames, s.scale * latent_h, s.scale * latent_w},
                                   m.topts.memory_format(m.format3)).zero_());   // [B, C, 2 (+ n), h, w]
    }
  }
  m.batch = batch;
  m.latent_h = latent_h;
  m.latent_w = latent_w;
  m.begun = true;
  m.first = true;
}

at::Tensor WanVAEDecoder::decode_next(const at::Tensor& latents) {
  Impl& m = *impl_;
  WL_CHECK(m.begun, "wan2.1 decode_next: call begin(batch, latent_h, latent_w) first");
  WL_CHECK(latents.dim() == 5 && latents.size(0) == m.batch && latents.size(1) == m.config.z_dim && latents.size(2) >= 1 &&
               latents.size(3) == m.latent_h && latents.size(4) == m.latent_w,
           "wan2.1 decode_next: latents must be [", m.batch, ", ", m.config.z_dim, ", T, ", m.latent_h, ", ", m.latent_w,
           "] as begun, found ", shape_string(latents.sizes().vec()));
  CudnnBenchmarkScope autotune(m.cuda && m.variant.cudnn_benchmark);
  // One latent at a time, as the reference decodes (and the first must be alone: its time_convs
  // skip exactly one latent). Then every causal conv's window holds its 2 cached frames plus one
  // latent's frames, what begin() allocated, whatever the caller's block size: a block of 3 latents
  // at once grew the "buf" windows to 2 + 12 frames, and SANA-Video's state at 480x832 to 12.2 GB.
  std::vector<at::Tensor> frames;
  for (int64_t t = 0; t < latents.size(2); ++t) frames.push_back(m.forward(latents.narrow(2, t, 1)));   // [B, 3, 1 or 4, H, W]
  return frames.size() == 1 ? frames.front() : at::cat(frames, 2);   // [B, 3, F, H, W], F = 4T (4T - 3 for the stream's first)
}

}  // namespace wl
