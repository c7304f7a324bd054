// `worldloop bench` sections, the table and the JSON report (see bench.h).
#include "sim/bench.h"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iomanip>
#include <nlohmann/json.hpp>
#include <ostream>
#include <thread>

#include <ATen/ATen.h>

#include "envs/world.h"
#include "kernels/core/error.h"
#include "model/device.h"
#include "model/linear_dit.h"
#include "model/sampler.h"
#include "model/taehv.h"
#include "model/wan_vae.h"
#include "render/bench_present.h"
#include "sim/loop.h"
#include "sim/session.h"
#include "sim/world_files.h"
#include "sim/world_model.h"
#include "sim/version.h"

namespace wl {
namespace {

// Median, min and max of repeated measurements.
BenchRow summarize(std::string section, std::string name, std::string metric, std::vector<double> values) {
  std::sort(values.begin(), values.end());
  size_t n = values.size();
  double median = n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
  return {std::move(section), std::move(name), std::move(metric), median, values.front(), values.back()};
}

void bench_worlds(const BenchOptions& options, std::vector<BenchRow>& rows) {
  WorldConfig config{options.world_size, options.world_size};
  for (const std::string& world : world_names()) {
    std::vector<double> fps;
    for (int r = 0; r < options.repeats; ++r)
      fps.push_back(bench_world(world, options.world_frames, config, 1 + r).frames_per_s);
    rows.push_back(summarize("worlds", str(world, " ", config.width, "x", config.height), "frames/s (1 core)", fps));
  }
}

// Each row: one block size. A block is the sampler's denoise forwards plus the commit forward,
// with the state growing as in a session; the first block is a warm-up and not timed.
void bench_dit(const BenchOptions& o, std::vector<BenchRow>& rows) {
  std::string preset = o.preset.empty() ? "sana-video-2b-480p" : o.preset;
  DiTConfig config = dit_preset(preset);
  bool cuda = at::Device(o.device).is_cuda();
  bool bf16 = o.bf16 || cuda;
  LinearDiT model = LinearDiT::random(config, 1, DiTOptions{o.device, bf16});
  std::string label = str(preset, " (random weights, ", bf16 ? "bf16" : "fp32", ", ", o.latent_h * 8, "x", o.latent_w * 8, ")");
  auto options = at::TensorOptions().device(at::Device(o.device)).dtype(bf16 ? at::kBFloat16 : at::kFloat);
  NoiseSource noise(7);
  at::Tensor caption = noise.normal({1, o.caption_tokens, config.caption_channels}, options);
  CaptionContext ctx = model.encode_caption(caption, at::ones({1, o.caption_tokens}, options));
  SamplerConfig sampler;
  const int forwards_per_block = static_cast<int>(sampler.timesteps.size()) + 1;
  for (int frames : o.block_frames) {
    WL_CHECK(frames > 0, "--block-frames must be positive, got ", frames);
    WorldState state = model.new_state(1, o.latent_h, o.latent_w, StatePolicy{});
    at::Tensor actions;   // the preset has no action embedder
    generate_block(model, ctx, state, actions, frames, sampler, noise);   // warm-up
    synchronize(o.device);
    DeviceMemory steady = memory_stats(o.device);
    reset_peak_memory(o.device);
    std::vector<double> ms_per_forward, fps;
    for (int r = 0; r < o.repeats; ++r) {
      auto start = std::chrono::steady_clock::now();
      generate_block(model, ctx, state, actions, frames, sampler, noise);
      synchronize(o.device);
      double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      ms_per_forward.push_back(1000.0 * seconds / forwards_per_block);
      fps.push_back(4.0 * frames / seconds);   // every latent frame after the first decodes to 4 video frames
    }
    DeviceMemory peak = memory_stats(o.device);
    std::string name = str(label, ", ", frames, " latent frame", frames > 1 ? "s" : "", "/block");
    rows.push_back(summarize("dit", name, "ms per DiT forward", ms_per_forward));
    rows.push_back(summarize("dit", name, "video frames/s (4 steps + commit)", fps));
    double gib = 1.0 / (1ull << 30);
    rows.push_back(summarize("dit", name, cuda ? "GPU GiB steady (allocated)" : "RSS GiB steady", {steady.current_bytes * gib}));
    rows.push_back(summarize("dit", name, cuda ? "GPU GiB peak (allocated)" : "RSS GiB peak", {peak.peak_bytes * gib}));
    rows.push_back(summarize("dit", name, "state MiB", {state.size_bytes() / double(1 << 20)}));
  }
}

// Streams `decoder_latents` latents one at a time through each decoder: the Wan2.1 VAE once per
// --wan-variant (built, timed and freed one after the other, so their memory never adds up), then
// TAEHV. The first two latents are not timed: latent 0 (1 frame) and latent 1, the first 4-frame
// one, which pays cuDNN's autotuning and the allocator's growth. Memory growth = current bytes after
// the last latent minus after the second.
void bench_decoders(const BenchOptions& o, std::vector<BenchRow>& rows) {
  WL_CHECK(o.decoder_latents >= 3, "--decoder-latents must be at least 3, got ", o.decoder_latents);
  WL_CHECK(!o.wan_variants.empty(), "--wan-variant needs at least one variant (auto, baseline, all, or switches joined by '+')");
  bool cuda = at::Device(o.device).is_cuda();
  bool bf16 = o.bf16 || cuda;
  auto options = at::TensorOptions().device(at::Device(o.device)).dtype(bf16 ? at::kBFloat16 : at::kFloat);
  for (const std::string& v : o.wan_variants)
    if (v != "auto") WanVAEVariant::parse(v);   // a typo fails before minutes of decoding
  // Each entry makes its decoder when its turn comes; the label names the Wan variant.
  std::vector<std::pair<std::string, std::function<std::unique_ptr<VideoDecoder>()>>> entries;
  for (const std::string& v : o.wan_variants) {
    const std::string name = v == "auto" ? WanVAEVariant::defaults(cuda).name() : WanVAEVariant::parse(v).name();
    entries.emplace_back(name, [&o, bf16, v] {
      WanVAEOptions wan_options{{o.device, bf16}};
      wan_options.variant = v;
      return std::make_unique<WanVAEDecoder>(wan_vae_checkpoint_from(random_wan_vae_weights(WanVAEConfig{}, 1), "random weights"),
                                             wan_options);
    });
  }
  entries.emplace_back("", [&o, bf16] {
    return std::make_unique<TAEHVDecoder>(taehv_checkpoint_from(random_taehv_weights(TAEHVConfig{}, 1), "random weights"),
                                          VAEOptions{o.device, bf16});
  });
  for (const auto& [variant, make] : entries) {
    NoiseSource noise(3);
    std::unique_ptr<VideoDecoder> decoder = make();
    decoder->begin(1, o.latent_h, o.latent_w);
    std::vector<double> ms_per_frame;
    int64_t after_second = 0;
    reset_peak_memory(o.device);
    for (int i = 0; i < o.decoder_latents; ++i) {
      at::Tensor latent = noise.normal({1, 16, 1, o.latent_h, o.latent_w}, options);
      synchronize(o.device);
      auto start = std::chrono::steady_clock::now();
      at::Tensor frames = decoder->decode_next(latent);
      synchronize(o.device);
      double ms = 1000.0 * std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (i > 1) ms_per_frame.push_back(ms / frames.size(2));
      if (i == 1) after_second = memory_stats(o.device).current_bytes;
    }
    DeviceMemory end = memory_stats(o.device);
    std::string name = str(decoder->name(), variant.empty() ? "" : " " + variant, " (random weights, ", bf16 ? "bf16" : "fp32", ", ",
                           o.latent_h * 8, "x", o.latent_w * 8, ", ", o.decoder_latents, " latents)");
    auto add = [&](std::string metric, std::vector<double> values) {
      BenchRow row = summarize("decoders", name, std::move(metric), std::move(values));
      row.variant = variant;
      rows.push_back(std::move(row));
    };
    add("ms per video frame", ms_per_frame);
    add("state MiB", {decoder->state_bytes() / double(1 << 20)});
    add(cuda ? "GPU MiB growth (latent 2 -> last)" : "RSS MiB growth (latent 2 -> last)",
        {(end.current_bytes - after_second) / double(1 << 20)});
    add(cuda ? "GPU GiB peak (allocated)" : "RSS GiB peak", {end.peak_bytes / double(1ull << 30)});
  }
}

void bench_present_section(const BenchOptions& o, std::vector<BenchRow>& rows) {
  struct Size {
    int fw, fh, ow, oh;
  };
  for (Size s : {Size{640, 360, 1280, 720}, Size{832, 480, 1920, 1080}}) {
    std::vector<double> ms, uploads, device_copies;
    std::string path;
    for (int r = 0; r < o.repeats; ++r) {
      PresentBenchInfo info;
      info.frame_width = s.fw, info.frame_height = s.fh, info.output_width = s.ow, info.output_height = s.oh;
      PresentBenchResult result = bench_present(info);
      ms.push_back(result.ms_per_frame);
      uploads.push_back(result.host_uploads_per_frame);
      device_copies.push_back(result.device_copies_per_frame);
      path = str(result.device_name, ", ",
                 result.frame_path != FramePath::CudaInterop                  ? "host staging"
                 : result.cuda_frame_memory == CudaFrameMemory::ImageSurface ? "CUDA interop, image surface, 0 copies"
                                                                              : "CUDA interop, buffer + 1 copy");
    }
    std::string name = str(s.fw, "x", s.fh, " -> ", s.ow, "x", s.oh, " (", path, ")");
    rows.push_back(summarize("present", name, "ms per frame (headless)", ms));
    rows.push_back(summarize("present", name, "host uploads per frame", uploads));
    rows.push_back(summarize("present", name, "device copies per frame (besides the blit)", device_copies));
  }
}

// The loop section's world: the shipped world of that name when there is one, else a random-weight
// tiny model of the same world (its name says so).
std::unique_ptr<WorldModel> loop_model(const BenchOptions& o, bool cuda) {
  const WorldModelOptions options{o.device, cuda || o.bf16};
  for (const std::string& dir : world_search_dirs())
    if (std::filesystem::exists(std::filesystem::path(dir) / o.loop_world / "config.json"))
      return WorldModel::load((std::filesystem::path(dir) / o.loop_world).string(), options);
  return WorldModel::random_tiny(o.loop_world, 1, options);
}

// The loop as a player runs it: real clock, worker thread, frames paced at the world's rate, a
// scripted player whose actions change every few frames (the latency samples).
void bench_loop(const BenchOptions& o, std::vector<BenchRow>& rows) {
  bool cuda = at::Device(o.device).is_cuda();
  std::unique_ptr<WorldModel> model = loop_model(o, cuda);
  MemoryDisplay display(8 * model->info().latent_w, 8 * model->info().latent_h);
  SteadyLoopClock clock;
  std::unique_ptr<ActionSource> actions = make_scripted_actions("sticky_random", o.loop_world, 1);
  std::string name = str(model->info().random_weights ? "random-weight tiny " : "shipped ", o.loop_world, " world, ",
                         o.device, ", sticky_random player");
  std::vector<double> fps, latency_median, latency_p99, jitter, state;
  for (int r = 0; r < o.repeats; ++r) {
    LoopInfo info;
    info.model = model.get();
    info.display = &display;
    info.actions = actions.get();
    info.clock = &clock;
    info.seed = static_cast<uint64_t>(r);
    FrameLoop loop(info);
    while (loop.stats().frames_shown < o.loop_frames) loop.tick();
    LoopStats s = loop.stats();
    fps.push_back(s.pacing.display_fps);
    latency_median.push_back(s.latency_median_ms);
    latency_p99.push_back(s.latency_p99_ms);
    jitter.push_back(s.pacing.jitter_p99_ms);
    state.push_back(static_cast<double>(s.state_bytes));
  }
  rows.push_back(summarize("loop", name, "frames/s shown", fps));
  rows.push_back(summarize("loop", name, "input-to-photon ms (median)", latency_median));
  rows.push_back(summarize("loop", name, "input-to-photon ms (p99)", latency_p99));
  rows.push_back(summarize("loop", name, "frame-time jitter ms (p99)", jitter));
  rows.push_back(summarize("loop", name, "state bytes", state));
}

// The worlds of the worlds-models section as (name, directory): every shipped world by its folder
// name, then each --model by its path.
std::vector<std::pair<std::string, std::string>> bench_world_dirs(const BenchOptions& o) {
  std::vector<std::pair<std::string, std::string>> dirs;
  for (const std::string& root : world_search_dirs()) {
    if (!std::filesystem::is_directory(root)) continue;
    std::vector<std::pair<std::string, std::string>> found;
    for (const auto& e : std::filesystem::directory_iterator(root))
      if (e.is_directory() && std::filesystem::is_regular_file(e.path() / "config.json"))
        found.emplace_back(e.path().filename().string(), e.path().string());
    std::sort(found.begin(), found.end());
    dirs.insert(dirs.end(), found.begin(), found.end());
  }
  for (const std::string& m : o.models) dirs.emplace_back(m, m);
  return dirs;
}

// Each world played as the loop plays it, without pacing: one block of sticky random actions per
// step, denoise + commit + decode timed; the first block warms up.
void bench_world_models(const BenchOptions& o, std::vector<BenchRow>& rows, std::ostream& out) {
  WL_CHECK(o.model_frames >= 1, "--model-frames must be at least 1, got ", o.model_frames);
  const auto dirs = bench_world_dirs(o);
  if (dirs.empty()) out << "worlds-models: no world under " << world_search_dirs().back() << " yet and no --model given\n";
  const bool cuda = at::Device(o.device).is_cuda();
  for (const auto& [label, dir] : dirs) {
    std::unique_ptr<WorldModel> model = WorldModel::load(dir, WorldModelOptions{o.device, cuda || o.bf16});
    const WorldModelInfo& info = model->info();
    const int block = info.block_frames;
    const int steps = o.denoise_steps > 0 ? o.denoise_steps : info.denoise_steps;
    const SamplerConfig sampler = sampler_for_steps(info, steps);
    std::vector<double> fps;
    for (int r = 0; r < o.repeats; ++r) {
      Session session(*model, StatePolicy::parse(info.state_policy), {static_cast<uint64_t>(r)});
      StickyRandomActions actions(model->action_spec(), static_cast<uint64_t>(r));
      auto play_block = [&] {
        ActionTensor a{block, model->action_spec().width(), {}};
        for (int t = 0; t < block; ++t) {
          const std::vector<float>& row = actions.next();
          a.values.insert(a.values.end(), row.begin(), row.end());
        }
        LatentBlock latents = session.denoise_block({a}, sampler);
        session.commit_state(latents);
        VideoBlock video = session.decode(latents);
        synchronize(o.device);
        return video.count();
      };
      play_block();   // warm-up (and a streaming decoder's shorter first block)
      int64_t frames = 0;
      auto start = std::chrono::steady_clock::now();
      while (frames < o.model_frames) frames += play_block();
      fps.push_back(frames / std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    std::string name = str(label, " (", info.world, ", ", info.latent_w * 8, "x",
                           info.latent_h * 8, ", block ", block, ", ", steps, " steps, ", o.device, ")");
    rows.push_back(summarize("worlds-models", name, "frames/s (denoise+commit+decode)", fps));
  }
}

std::string utc_now() {
  std::time_t t = std::time(nullptr);
  char buffer[32];
  std::strftime(buffer, sizeof(buffer), "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buffer;
}

void print_table(const std::vector<BenchRow>& rows, std::ostream& out) {
  size_t name_width = 4, metric_width = 6;
  for (const auto& r : rows) {
    name_width = std::max(name_width, r.section.size() + 2 + r.name.size());
    metric_width = std::max(metric_width, r.metric.size());
  }
  out << std::left << std::setw(name_width) << "what" << "  " << std::setw(metric_width) << "metric" << std::right
      << std::setw(12) << "median" << std::setw(12) << "min" << std::setw(12) << "max" << "\n";
  for (const auto& r : rows) {
    out << std::left << std::setw(name_width) << (r.section + ": " + r.name) << "  " << std::setw(metric_width) << r.metric
        << std::right << std::fixed << std::setprecision(2) << std::setw(12) << r.median << std::setw(12) << r.min
        << std::setw(12) << r.max << "\n";
  }
}

void write_json(const BenchOptions& options, const std::vector<BenchRow>& rows) {
  nlohmann::json report;
  report["engine"] = {{"version", kVersion}, {"commit", kGitCommit}, {"build", kBuildFlavour}};
  report["machine"] = {{"cpu", cpu_model_name()}, {"threads", std::thread::hardware_concurrency()},
                       {"device", device_name(options.device)}};
  report["date"] = utc_now();
  report["repeats"] = options.repeats;
  report["rows"] = nlohmann::json::array();
  for (const auto& r : rows) {
    nlohmann::json row = {{"section", r.section}, {"name", r.name}, {"metric", r.metric},
                          {"median", r.median}, {"min", r.min}, {"max", r.max}};
    if (!r.variant.empty()) row["variant"] = r.variant;
    report["rows"].push_back(std::move(row));
  }
  std::string tmp = options.json_path + ".tmp";
  {
    std::ofstream out(tmp);
    out << report.dump(2) << "\n";
    WL_CHECK(out.good(), "cannot write the bench report to ", tmp);
  }
  WL_CHECK(std::rename(tmp.c_str(), options.json_path.c_str()) == 0, "cannot move ", tmp, " to ", options.json_path);
}

}  // namespace

std::string cpu_model_name() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown";
}

const std::vector<std::string>& bench_sections() {
  static const std::vector<std::string> kSections = {"worlds", "present", "loop", "worlds-models", "dit", "decoders"};
  return kSections;
}

std::vector<BenchRow> run_bench(const BenchOptions& options, std::ostream& out) {
  WL_CHECK(options.repeats >= 1, "--repeats must be at least 1, got ", options.repeats);
  for (const auto& s : options.sections)
    WL_CHECK(std::find(bench_sections().begin(), bench_sections().end(), s) != bench_sections().end(),
             "unknown bench section '", s, "'; the sections are: worlds, present, loop, worlds-models, dit, decoders");
  auto wanted = [&](const std::string& s) {
    return options.sections.empty() || std::find(options.sections.begin(), options.sections.end(), s) != options.sections.end();
  };
  std::vector<BenchRow> rows;
  out << "worldloop " << kVersion << " (" << kGitCommit << ", " << kBuildFlavour << ") on " << cpu_model_name() << ", "
      << std::thread::hardware_concurrency() << " threads";
  if (at::Device(options.device).is_cuda()) out << ", " << device_name(options.device);
  out << "; median of " << options.repeats << " runs\n\n";
  auto named = [&](const char* s) {
    return std::find(options.sections.begin(), options.sections.end(), s) != options.sections.end();
  };
  if (wanted("worlds")) bench_worlds(options, rows);
  if (wanted("present")) bench_present_section(options, rows);
  if (wanted("loop")) bench_loop(options, rows);
  if (wanted("worlds-models")) bench_world_models(options, rows, out);
  // The model sections are slow on a CPU (a 2B forward at 480p takes minutes), so they run only
  // when named (or, for the DiT, when a preset is given).
  if (named("dit") || !options.preset.empty()) bench_dit(options, rows);
  if (named("decoders")) bench_decoders(options, rows);
  print_table(rows, out);
  if (!options.json_path.empty()) write_json(options, rows);
  return rows;
}

}  // namespace wl
