// `worldloop eval` (see eval.h): simulator episodes with the world's scripted policy, the model seeded
// from their first frames and fed the same actions, the four measurements, and the report (text,
// JSON, world card). Shapes: B rows (one per seed, or per seed and action), K context frames,
// T latent frames per block, frames [B, 3, T, H, W] in [0, 1] on the CPU, one frame per latent
// (eval needs our autoencoder's worlds: they encode, and decode one frame per latent).
#include "sim/eval.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <ostream>
#include <thread>
#include <unordered_set>

#include "envs/policies.h"
#include "envs/vpt_actions.h"
#include "envs/world.h"
#include "kernels/core/error.h"
#include "model/device.h"
#include "sim/bench.h"
#include "sim/dataset.h"
#include "sim/session.h"
#include "sim/version.h"
#include "sim/world_model.h"

namespace wl {

// [SECTION] metrics

namespace {

at::Tensor as_batch(const at::Tensor& a, const at::Tensor& b, const char* what) {
  WL_CHECK(a.defined() && b.defined() && a.sizes() == b.sizes() && (a.dim() == 3 || a.dim() == 4) &&
               a.size(a.dim() - 3) == 3,
           what, ": frames must both be [3, H, W] or [N, 3, H, W] of one shape, found ",
           a.defined() ? str(a.sizes()) : "undefined", " and ", b.defined() ? str(b.sizes()) : "undefined");
  return a.dim() == 3 ? a.unsqueeze(0) : a;
}

}  // namespace

double psnr(const at::Tensor& a, const at::Tensor& b) {
  as_batch(a, b, "psnr");
  double mse = (a.to(at::kDouble) - b.to(at::kDouble)).pow(2).mean().item<double>();
  return mse == 0.0 ? INFINITY : 10.0 * std::log10(1.0 / mse);
}

double ssim(const at::Tensor& a, const at::Tensor& b) {
  at::Tensor x = as_batch(a, b, "ssim").to(at::kDouble);   // [N, 3, H, W]
  at::Tensor y = (b.dim() == 3 ? b.unsqueeze(0) : b).to(at::kDouble);
  WL_CHECK(x.size(2) >= 11 && x.size(3) >= 11, "ssim: frames must be at least 11x11, found ", x.size(2), "x", x.size(3));
  at::Tensor g = at::arange(-5, 6, at::kDouble);
  g = (-g * g / (2 * 1.5 * 1.5)).exp();
  g = g / g.sum();                                                                  // [11]
  at::Tensor window = at::outer(g, g).view({1, 1, 11, 11}).repeat({3, 1, 1, 1});    // [3, 1, 11, 11]
  auto blur = [&](const at::Tensor& t) -> at::Tensor {   // [N, 3, H-10, W-10] (valid region)
    return at::conv2d(t, window, at::Tensor(), at::IntArrayRef{1, 1}, at::IntArrayRef{0, 0}, at::IntArrayRef{1, 1}, 3);
  };
  const double c1 = 0.01 * 0.01, c2 = 0.03 * 0.03;
  at::Tensor mx = blur(x), my = blur(y);
  at::Tensor sxx = blur(x * x) - mx * mx, syy = blur(y * y) - my * my, sxy = blur(x * y) - mx * my;
  at::Tensor map = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2));
  return map.mean().item<double>();
}

namespace {

// [SECTION] episodes and rollouts

at::Tensor frame01(const Frame& f) {   // RGB8 [H, W, 3] -> [3, H, W] float in [0, 1]
  return at::from_blob(const_cast<uint8_t*>(f.rgb.data()), {f.height, f.width, 3}, at::kByte)
             .permute({2, 0, 1}).to(at::kFloat) / 255.0;
}

struct Setup {
  const WorldModel* model = nullptr;
  std::string world, policy;
  int block = 3;
  SamplerConfig sampler;
  PixelRange range;
  const EvalOptions* o = nullptr;
};

// One simulator episode: reset, then K context steps of the policy (action j made frame j).
struct Episode {
  std::unique_ptr<World> world;
  std::unique_ptr<Policy> policy;
  std::vector<std::vector<float>> context_actions;
  std::vector<at::Tensor> context_frames;   // K x [3, H, W]
  std::unordered_set<int32_t> seen;          // the surfaces the context frames showed (World::surface_ids)

  std::vector<float> step() {   // the policy's next action, applied; the frame is world->frame()
    std::vector<float> a = clamp_action(world->action_spec(), policy->next(*world));
    world->step(a);
    return a;
  }
};

Episode start_episode(const Setup& s, uint64_t seed) {
  Episode e;
  const auto& info = s.model->info();
  e.world = make_world(s.world, WorldConfig{8 * info.latent_w, 8 * info.latent_h});
  e.policy = make_policy(s.policy, s.world);
  e.world->reset(seed);
  e.policy->reset(seed);
  for (int j = 0; j < s.o->context_frames; ++j) {
    e.context_actions.push_back(e.step());
    e.context_frames.push_back(frame01(e.world->frame()));
    for (int32_t id : e.world->surface_ids()) e.seen.insert(id);
  }
  return e;
}

// [H, W] bool: the pixels of the world's latest frame that show a surface the context never showed;
// undefined when the world cannot tell.
at::Tensor new_content(const Episode& e) {
  const std::span<const int32_t> ids = e.world->surface_ids();
  if (ids.empty()) return {};
  const Frame& f = e.world->frame();
  at::Tensor mask = at::zeros({f.height, f.width}, at::kBool);
  bool* m = mask.data_ptr<bool>();
  for (size_t i = 0; i < ids.size(); ++i) m[i] = ids[i] >= 0 && !e.seen.count(ids[i]);
  return mask;
}

ActionTensor action_rows(const std::vector<std::vector<float>>& rows) {
  ActionTensor t{static_cast<int>(rows.size()), rows.empty() ? 0 : static_cast<int>(rows.front().size()), {}};
  for (const auto& r : rows) t.values.insert(t.values.end(), r.begin(), r.end());
  return t;
}

// A session of one row per entry of `rows`, each seeded with its episode's context; noise seeds given.
// `context` (optional) gets the decoded context frames [B, 3, K, H, W] in [0, 1].
Session seeded_session(const Setup& s, const std::vector<const Episode*>& rows, const std::vector<uint64_t>& noise_seeds,
                       at::Tensor* context = nullptr) {
  Session session(*s.model, StatePolicy::parse(s.model->info().state_policy), noise_seeds);
  std::vector<at::Tensor> clips;
  std::vector<ActionTensor> actions;
  for (const Episode* e : rows) {
    clips.push_back(at::stack(e->context_frames, 1));   // [3, K, H, W]
    actions.push_back(action_rows(e->context_actions));
  }
  VideoBlock video = session.seed(s.model->encode(at::stack(clips)), actions, s.block);   // latents [B, C, K, h, w]
  if (context) *context = video.frames.to(at::kCPU, at::kFloat) * (s.range.scale / 255.0) + s.range.offset / 255.0;
  return session;
}

struct BlockTimes {
  double denoise = 0, commit = 0, decode = 0;   // seconds
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// `frames` generated frames, block by block. action(b, j): row b's action for generated frame j,
// asked in increasing j. on_block(j0, frames [B, 3, T, H, W] CPU in [0, 1], latents, times).
void rollout(const Setup& s, Session& session, int64_t frames, const std::function<std::vector<float>(int64_t, int64_t)>& action,
             const std::function<void(int64_t, const at::Tensor&, const at::Tensor&, const BlockTimes&)>& on_block) {
  const std::string& device = s.o->device;
  for (int64_t j0 = 0; j0 < frames; j0 += s.block) {
    const int64_t T = std::min<int64_t>(s.block, frames - j0);
    std::vector<ActionTensor> actions(static_cast<size_t>(session.batch()));
    for (int64_t j = j0; j < j0 + T; ++j)
      for (int64_t b = 0; b < session.batch(); ++b) {
        std::vector<float> a = action(b, j);
        actions[b].values.insert(actions[b].values.end(), a.begin(), a.end());
        actions[b].dims = static_cast<int>(a.size());
        actions[b].frames = static_cast<int>(j - j0 + 1);
      }
    BlockTimes t;
    synchronize(device);
    auto t0 = std::chrono::steady_clock::now();
    LatentBlock block = session.denoise_block(actions, s.sampler);
    synchronize(device);
    t.denoise = seconds_since(t0);
    t0 = std::chrono::steady_clock::now();
    session.commit_state(block);
    synchronize(device);
    t.commit = seconds_since(t0);
    t0 = std::chrono::steady_clock::now();
    VideoBlock video = session.decode(block);
    synchronize(device);
    t.decode = seconds_since(t0);
    WL_CHECK(video.count() == T, "eval: the decoder gave ", video.count(), " frames for ", T,
             " latents; eval needs one frame per latent (a world decoded by our autoencoder)");
    at::Tensor pixels = video.frames.to(at::kCPU, at::kFloat) * (s.range.scale / 255.0) + s.range.offset / 255.0;
    on_block(j0, pixels, block.latents.to(at::kCPU, at::kFloat), t);
  }
}

// [SECTION] the four measurements

// One horizon's squared error of the model and of the autoencoder over the pixels the context
// showed ([0]) and the new ones ([1]), pooled over the seeds (a seed may have no new pixels).
struct ContentSplit {
  std::array<double, 2> model_se{}, ae_se{}, values{};   // summed squared error; values summed over
  double pixels = 0, fresh = 0;

  // Frames [3, H, W], is_new [H, W] bool.
  void add(const at::Tensor& model, const at::Tensor& ae, const at::Tensor& truth, const at::Tensor& is_new) {
    at::Tensor part[2] = {is_new.logical_not().to(at::kDouble), is_new.to(at::kDouble)};   // [H, W]
    at::Tensor model_err = (model - truth).to(at::kDouble).pow(2).sum(0), ae_err = (ae - truth).to(at::kDouble).pow(2).sum(0);
    for (int k = 0; k < 2; ++k) {
      model_se[k] += (model_err * part[k]).sum().item<double>();
      ae_se[k] += (ae_err * part[k]).sum().item<double>();
      values[k] += 3 * part[k].sum().item<double>();
    }
    fresh += part[1].sum().item<double>();
    pixels += static_cast<double>(is_new.numel());
  }

  void write(HorizonScore& score) const {
    if (pixels == 0) return;   // the world cannot tell: new_share stays -1
    auto pooled_psnr = [](double squared_error, double n) {
      return n == 0 ? NAN : squared_error == 0 ? INFINITY : 10.0 * std::log10(n / squared_error);
    };
    score.new_share = fresh / pixels;
    score.model_psnr_shown = pooled_psnr(model_se[0], values[0]);
    score.model_psnr_new = pooled_psnr(model_se[1], values[1]);
    score.ae_psnr_shown = pooled_psnr(ae_se[0], values[0]);
  }
};

std::vector<HorizonScore> measure_fidelity(const Setup& s, const std::vector<uint64_t>& seeds) {
  const EvalOptions& o = *s.o;
  const int64_t n = *std::max_element(o.horizons.begin(), o.horizons.end());
  const int64_t B = static_cast<int64_t>(seeds.size());
  std::vector<Episode> episodes;
  std::vector<const Episode*> rows;
  for (uint64_t seed : seeds) episodes.push_back(start_episode(s, seed));
  for (const auto& e : episodes) rows.push_back(&e);
  // The simulator first: every row's actions, and its frames at the horizons.
  std::vector<std::vector<std::vector<float>>> actions(B);
  std::vector<std::vector<at::Tensor>> sim(B), model(B), fresh(B);   // [row][horizon index] -> [3, H, W], fresh [H, W]
  for (int64_t b = 0; b < B; ++b)
    for (int64_t j = 0; j < n; ++j) {
      actions[b].push_back(episodes[b].step());
      if (std::find(o.horizons.begin(), o.horizons.end(), j + 1) != o.horizons.end()) {
        sim[b].push_back(frame01(episodes[b].world->frame()));
        fresh[b].push_back(new_content(episodes[b]));
      }
    }
  Session session = seeded_session(s, rows, seeds);
  rollout(s, session, n, [&](int64_t b, int64_t j) { return actions[b][j]; },
          [&](int64_t j0, const at::Tensor& frames, const at::Tensor&, const BlockTimes&) {
            for (int64_t t = 0; t < frames.size(2); ++t)
              if (std::find(o.horizons.begin(), o.horizons.end(), j0 + t + 1) != o.horizons.end())
                for (int64_t b = 0; b < B; ++b) model[b].push_back(frames[b].select(1, t).clone());
          });
  // The ceiling: the autoencoder's own round trip of the same simulator frames.
  std::vector<at::Tensor> clips;
  for (int64_t b = 0; b < B; ++b) clips.push_back(at::stack(sim[b], 1));   // [3, nh, H, W]
  at::Tensor clip = at::stack(clips);                                         // [B, 3, nh, H, W]
  auto decoder = s.model->make_decoder();
  at::Tensor recon = decoder->decode(s.model->encode(clip)).to(at::kCPU, at::kFloat) * (s.range.scale / 255.0) +
                     s.range.offset / 255.0;                                  // [B, 3, nh, H, W]
  std::vector<HorizonScore> scores;
  for (size_t h = 0; h < o.horizons.size(); ++h) {
    HorizonScore score;
    score.horizon = o.horizons[h];
    ContentSplit split;
    for (int64_t b = 0; b < B; ++b) {
      at::Tensor truth = sim[b][h], ae = recon[b].select(1, static_cast<int64_t>(h)).clamp(0, 1);
      at::Tensor m = model[b][h].clamp(0, 1);
      score.model_psnr += psnr(m, truth) / B;
      score.model_ssim += ssim(m, truth) / B;
      score.ae_psnr += psnr(ae, truth) / B;
      score.ae_ssim += ssim(ae, truth) / B;
      score.hold_psnr += psnr(episodes[b].context_frames.back(), truth) / B;
      if (fresh[b][h].defined()) split.add(m, ae, truth, fresh[b][h]);
    }
    split.write(score);
    scores.push_back(score);
  }
  return scores;
}

// The opposing actions of a world's test: one dimension set to A or to B, the rest as the policy's
// last context action.
struct ResponseTest {
  std::string dim, what;
  float a = 0, b = 0;
};

std::string fixed(double v, int digits);

// The first test of each world is the one its card's bar reads. Voxel's turns at VPT bins 2 and 8
// (3.2 degrees a frame: 26 degrees in 8 frames, so both futures keep most of the context's view);
// its second, at the outermost bins 0 and 10 (10 degrees a frame), turns 80 degrees in 8 frames,
// past the 70-degree view, so the last frames of both futures show only terrain no context frame
// showed, which no model can know: it is reported, not the bar.
std::vector<ResponseTest> response_tests(const std::string& world) {
  auto yaw = [](int left, int right) {
    return ResponseTest{"camera_yaw", str("turn left vs right, ", fixed(vpt_camera_degrees(right), 1), " degrees a frame"),
                        static_cast<float>(left), static_cast<float>(right)};
  };
  if (world == "voxel") return {yaw(2, 8), yaw(0, 10)};
  if (world == "driving") return {{"steer", "steer left vs right", -1.f, 1.f}};
  return {{"dy", "arm left vs right", 1.f, -1.f}};   // robot: +dy moves the gripper left
}

double distance(const at::Tensor& x, const at::Tensor& y) { return (x - y).pow(2).mean().item<double>(); }

ResponseScore measure_response(const Setup& s, const std::vector<uint64_t>& seeds, const ResponseTest& test) {
  const EvalOptions& o = *s.o;
  const int dim = s.model->action_spec().index(test.dim);
  WL_CHECK(dim >= 0, "eval: the ", s.world, " action spec has no '", test.dim, "' dimension");
  ResponseScore score;
  score.test = str(test.dim, " ", test.a, " vs ", test.b, " (", test.what, ", held ", o.response_frames, " frames)");
  // Rows 2i and 2i + 1: seed i's context, then A or B held; both rows share seed i's noise.
  std::vector<Episode> episodes;
  std::vector<const Episode*> rows;
  std::vector<uint64_t> noise;
  std::vector<std::vector<float>> held;
  std::vector<at::Tensor> sim;   // per row [3, k, H, W]
  for (uint64_t seed : seeds) episodes.push_back(start_episode(s, seed));
  for (size_t i = 0; i < seeds.size(); ++i)
    for (float value : {test.a, test.b}) {
      std::vector<float> a = episodes[i].context_actions.back();
      a[dim] = value;
      std::unique_ptr<World> world = episodes[i].world->clone();   // the state after seed i's context
      std::vector<at::Tensor> frames;
      for (int j = 0; j < o.response_frames; ++j) frames.push_back(frame01(world->step(a)));
      sim.push_back(at::stack(frames, 1));
      held.push_back(a);
      rows.push_back(&episodes[i]);
      noise.push_back(seeds[i]);
    }
  Session session = seeded_session(s, rows, noise);
  std::vector<std::vector<at::Tensor>> model(rows.size());
  rollout(s, session, o.response_frames, [&](int64_t b, int64_t) { return held[b]; },
          [&](int64_t, const at::Tensor& frames, const at::Tensor&, const BlockTimes&) {
            for (size_t b = 0; b < rows.size(); ++b) model[b].push_back(frames[static_cast<int64_t>(b)].clamp(0, 1));
          });
  for (size_t i = 0; i < seeds.size(); ++i) {
    const at::Tensor& sa = sim[2 * i];
    const at::Tensor& sb = sim[2 * i + 1];
    at::Tensor ma = at::cat(model[2 * i], 1), mb = at::cat(model[2 * i + 1], 1);   // [3, k, H, W]
    if (distance(sa, sb) < 1e-6) {   // under one grey level of RMS difference: the action did nothing
      ++score.undecided;
      continue;
    }
    ++score.trials;
    score.separation += std::sqrt(distance(ma, mb) / distance(sa, sb));
    at::Tensor dm = (ma - mb).flatten(), ds = (sa - sb).flatten();
    const double cosine = (dm * ds).sum().item<double>() / std::max(dm.norm().item<double>() * ds.norm().item<double>(), 1e-12);
    score.alignment += cosine;
    if (cosine > 0) ++score.aligned;
    if (distance(ma, sa) < distance(ma, sb) && distance(mb, sb) < distance(mb, sa)) ++score.correct;
  }
  if (score.trials) {
    score.separation /= score.trials;
    score.alignment /= score.trials;
  }
  return score;
}

// One long rollout of the first seed. Motion of a window = mean over its frames of the mean absolute
// difference to the previous frame. The threshold is a quarter of the simulator's median window
// motion (at least half a grey level): a picture moving at a quarter of the simulator's usual rate
// under the same actions still moves; below that it is frozen. Pass: every frame finite, every
// channel mean inside the simulator's range +- margin, and at least 90% as many moving windows as
// the simulator has.
StabilityScore measure_stability(const Setup& s, uint64_t seed, EvalSpeed& speed) {
  const EvalOptions& o = *s.o;
  const int64_t n = o.stability_frames;
  Episode e = start_episode(s, seed);
  at::Tensor context;
  Session session = seeded_session(s, {&e}, {seed}, &context);
  std::vector<std::array<double, 3>> sim_means, model_means;
  std::vector<double> sim_motion, model_motion;
  // Each side's motion starts from its own last context frame (the model's: as the AE decoded it).
  at::Tensor sim_prev = e.context_frames.back(), model_prev = context[0].select(1, context.size(2) - 1);
  StabilityScore st;
  st.frames = n;
  BlockTimes total;
  int64_t timed_frames = 0;
  auto channel_means = [](const at::Tensor& f) {
    at::Tensor m = f.to(at::kDouble).mean({1, 2});
    return std::array<double, 3>{m[0].item<double>(), m[1].item<double>(), m[2].item<double>()};
  };
  rollout(s, session, n,
          [&](int64_t, int64_t) {
            std::vector<float> a = e.step();
            at::Tensor f = frame01(e.world->frame());
            sim_means.push_back(channel_means(f));
            sim_motion.push_back((f - sim_prev).abs().mean().item<double>());
            sim_prev = f;
            return a;
          },
          [&](int64_t j0, const at::Tensor& frames, const at::Tensor& latents, const BlockTimes& t) {
            for (int64_t i = 0; i < frames.size(2); ++i) {
              at::Tensor f = frames[0].select(1, i);
              if (!at::isfinite(f).all().item<bool>() || !at::isfinite(latents[0].select(1, i)).all().item<bool>())
                ++st.non_finite_frames;
              model_means.push_back(channel_means(f));
              model_motion.push_back((f - model_prev).abs().mean().item<double>());
              model_prev = f;
            }
            if (j0 > 0 || n <= s.block) {   // the first block warms up (unless it is the only one)
              total.denoise += t.denoise, total.commit += t.commit, total.decode += t.decode;
              timed_frames += frames.size(2);
            }
          });
  for (int c = 0; c < 3; ++c) {
    st.sim_min[c] = st.model_min[c] = INFINITY;
    st.sim_max[c] = st.model_max[c] = -INFINITY;
  }
  for (int64_t j = 0; j < n; ++j)
    for (int c = 0; c < 3; ++c) {
      st.sim_min[c] = std::min(st.sim_min[c], sim_means[j][c]);
      st.sim_max[c] = std::max(st.sim_max[c], sim_means[j][c]);
      if (std::isfinite(model_means[j][c])) {
        st.model_min[c] = std::min(st.model_min[c], model_means[j][c]);
        st.model_max[c] = std::max(st.model_max[c], model_means[j][c]);
      }
    }
  for (int64_t j = 0; j < n; ++j) {
    bool out = false;
    for (int c = 0; c < 3; ++c)
      out |= model_means[j][c] < st.sim_min[c] - o.colour_margin || model_means[j][c] > st.sim_max[c] + o.colour_margin;
    st.frames_out_of_range += out;
  }
  std::vector<double> sim_windows, model_windows;
  for (int64_t w0 = 0; w0 + o.motion_window <= n; w0 += o.motion_window) {
    double sm = 0, mm = 0;
    for (int64_t j = w0; j < w0 + o.motion_window; ++j) sm += sim_motion[j], mm += model_motion[j];
    sim_windows.push_back(sm / o.motion_window);
    model_windows.push_back(mm / o.motion_window);
  }
  st.windows = static_cast<int>(sim_windows.size());
  std::vector<double> sorted = sim_windows;
  std::sort(sorted.begin(), sorted.end());
  const double median = sorted.empty() ? 0.0 : sorted[sorted.size() / 2];
  st.motion_threshold = std::max(0.25 * median, 0.5 / 255.0);
  for (int w = 0; w < st.windows; ++w) {
    st.sim_moving_windows += sim_windows[w] >= st.motion_threshold;
    st.model_moving_windows += model_windows[w] >= st.motion_threshold;   // NaN: not moving
  }
  st.pass = st.non_finite_frames == 0 && st.frames_out_of_range == 0 && st.model_moving_windows >= 0.9 * st.sim_moving_windows;
  const double seconds = total.denoise + total.commit + total.decode;
  if (timed_frames > 0 && seconds > 0) {
    speed.frames_per_s = timed_frames / seconds;
    speed.denoise_ms = 1000.0 * total.denoise / timed_frames;
    speed.commit_ms = 1000.0 * total.commit / timed_frames;
    speed.decode_ms = 1000.0 * total.decode / timed_frames;
  }
  return st;
}

void check_options(EvalOptions& o) {
  WL_CHECK(!o.model.empty(), "eval: pass --world NAME or --model DIR");
  WL_CHECK(o.seeds >= 1 && o.seeds <= 64, "eval: --seeds must be 1..64, got ", o.seeds);
  WL_CHECK(o.first_seed <= (uint64_t{1} << 48), "eval: --first-seed must be 0..2^48, got ", o.first_seed);
  WL_CHECK(!o.horizons.empty(), "eval: --horizons needs at least one horizon");
  for (int h : o.horizons) WL_CHECK(h >= 1 && h <= 100000, "eval: a horizon must be 1..100000 frames, got ", h);
  std::sort(o.horizons.begin(), o.horizons.end());
  o.horizons.erase(std::unique(o.horizons.begin(), o.horizons.end()), o.horizons.end());
  WL_CHECK(o.context_frames >= 1 && o.context_frames <= 256, "eval: --context-frames must be 1..256, got ", o.context_frames);
  WL_CHECK(o.response_frames >= 1 && o.response_frames <= 1000, "eval: --response-frames must be 1..1000, got ",
           o.response_frames);
  WL_CHECK(o.motion_window >= 1, "eval: --motion-window must be at least 1, got ", o.motion_window);
  WL_CHECK(o.stability_frames >= o.motion_window, "eval: --stability-frames (", o.stability_frames,
           ") must be at least one motion window (", o.motion_window, " frames)");
  WL_CHECK(o.colour_margin >= 0 && o.colour_margin <= 1, "eval: --colour-margin must be in [0, 1], got ", o.colour_margin);
  WL_CHECK(o.block_frames >= 0 && o.block_frames <= 16, "eval: --block-frames must be 0..16, got ", o.block_frames);
  WL_CHECK(o.denoise_steps >= 0 && o.denoise_steps <= 50, "eval: --denoise-steps must be 0..50, got ", o.denoise_steps);
  WL_CHECK(o.action_guidance < 0 || o.action_guidance <= 20, "eval: --action-guidance must be in [0, 20], got ",
           o.action_guidance);
  WL_CHECK(o.action_guidance_steps >= -1 && o.action_guidance_steps <= 50,
           "eval: --action-guidance-steps must be 0..50 (0: all steps), got ", o.action_guidance_steps);
}

// [SECTION] the report

std::string fixed(double v, int digits) {
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  if (std::isnan(v)) return "nan";
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", digits, v);
  return text;
}

nlohmann::json number(double v) {   // JSON has no inf or NaN: those become strings
  return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(fixed(v, 0));
}

std::string machine() { return str(cpu_model_name(), ", ", std::thread::hardware_concurrency(), " threads"); }

std::string range_text(const std::array<double, 3>& lo, const std::array<double, 3>& hi) {
  return str("R ", fixed(lo[0], 3), "..", fixed(hi[0], 3), ", G ", fixed(lo[1], 3), "..", fixed(hi[1], 3), ", B ",
             fixed(lo[2], 3), "..", fixed(hi[2], 3));
}

// "action guidance 6 on the first step, " (empty without guidance).
std::string guidance_text(const EvalOptions& o) {
  if (o.action_guidance == 1.0) return "";
  const int n = o.action_guidance_steps;
  const std::string steps = n == 1 ? " on the first step" : n > 1 ? str(" on the first ", n, " steps") : "";
  return str("action guidance ", o.action_guidance, steps, ", ");
}

std::string setup_line(const EvalReport& r, const EvalOptions& o) {
  return str(r.world, " world ", r.label, " (hash ", r.model_hash, "); seeds ", r.seeds.front(), "..", r.seeds.back(),
             ", ", o.context_frames, " context frames, block ", r.block_frames, ", ", o.denoise_steps, " denoise steps, ",
             guidance_text(o),
             o.policy.empty() ? "the world's" : o.policy, " policy, ", o.device, "; worldloop ", kVersion, " commit ",
             kGitCommit, " (", kBuildFlavour, ")");
}

// Which of the three rules held, so a "no" says what failed.
std::string stability_verdict(const StabilityScore& st) {
  std::string failed;
  auto add = [&](const std::string& what) { failed += (failed.empty() ? "" : ", ") + what; };
  if (st.non_finite_frames > 0) add(str(st.non_finite_frames, " frames not finite"));
  if (st.frames_out_of_range > 0) add(str(st.frames_out_of_range, " frames out of the simulator's colour range"));
  if (st.model_moving_windows < 0.9 * st.sim_moving_windows) add("the picture stops moving");
  return failed.empty() ? "all finite, none out of range, model moving windows >= 90% of the simulator's" : "failed: " + failed;
}

std::string stability_lines(const StabilityScore& st, const EvalOptions& o, const char* indent) {
  return str(indent, "non-finite frames: ", st.non_finite_frames, "\n", indent, "channel means, model: ",
             range_text(st.model_min, st.model_max), "\n", indent, "channel means, simulator: ",
             range_text(st.sim_min, st.sim_max), "\n", indent, "frames outside the simulator's range +- ",
             fixed(o.colour_margin, 3), ": ", st.frames_out_of_range, " of ", st.frames, "\n", indent, "moving ",
             o.motion_window, "-frame windows (mean |frame difference| >= ", fixed(st.motion_threshold, 4),
             ", a quarter of the simulator's median): model ", st.model_moving_windows, " of ", st.windows,
             ", simulator ", st.sim_moving_windows, "\n", indent, "pass: ", st.pass ? "yes" : "no", " (",
             stability_verdict(st), ")\n");
}

bool has_content_split(const EvalReport& r) {
  return !r.horizons.empty() && r.horizons.front().new_share >= 0;
}

std::string eval_text(const EvalReport& r) {
  const EvalOptions& o = r.options;
  std::string t = str("eval: ", setup_line(r, o), "\n\nfidelity (mean over ", r.seeds.size(),
                      " seeds)   model PSNR  model SSIM     AE PSNR     AE SSIM   held PSNR\n");
  for (const auto& h : r.horizons) {
    char line[160];
    std::snprintf(line, sizeof line, "  horizon %-5d frames  %11s %11s %11s %11s %11s\n", h.horizon,
                  fixed(h.model_psnr, 2).c_str(), fixed(h.model_ssim, 4).c_str(), fixed(h.ae_psnr, 2).c_str(),
                  fixed(h.ae_ssim, 4).c_str(), fixed(h.hold_psnr, 2).c_str());
    t += line;
  }
  if (has_content_split(r)) {
    t += "\nfidelity by content     new pixels  model PSNR: shown     new   AE PSNR: shown\n";
    for (const auto& h : r.horizons) {
      char line[160];
      std::snprintf(line, sizeof line, "  horizon %-5d frames  %9s%%  %17s %7s %16s\n", h.horizon,
                    fixed(100 * h.new_share, 1).c_str(), fixed(h.model_psnr_shown, 2).c_str(),
                    fixed(h.model_psnr_new, 2).c_str(), fixed(h.ae_psnr_shown, 2).c_str());
      t += line;
    }
  }
  t += "\naction response\n";
  for (const auto& a : r.response)
    t += str("  ", a.test, ": ", a.correct, " of ", a.trials, " correct (", fixed(a.percent(), 1), "%), ", a.undecided,
             " undecided; model A/B difference ", fixed(a.separation, 2), "x the simulator's, pointing its way in ",
             a.aligned, " of ", a.trials, " (mean cosine ", fixed(a.alignment, 2), ")\n");
  t += str("\nstability (", r.stability.frames, " frames)\n", stability_lines(r.stability, o, "  "));
  t += str("\nspeed: ", fixed(r.speed.frames_per_s, 1), " frames/s (per frame: denoise ", fixed(r.speed.denoise_ms, 2),
           " ms, commit ", fixed(r.speed.commit_ms, 2), " ms, decode ", fixed(r.speed.decode_ms, 2), " ms) on ", machine(),
           at::Device(o.device).is_cuda() ? ", " + device_name(o.device) : "", "\n");
  return t;
}

void write_text_file(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    WL_CHECK(out.good(), "cannot write ", tmp, " (missing folder, disk full or no permission?)");
  }
  WL_CHECK(std::rename(tmp.c_str(), path.c_str()) == 0, "cannot move ", tmp, " to ", path);
}

}  // namespace

std::string eval_json(const EvalReport& r) {
  const EvalOptions& o = r.options;
  nlohmann::json j;
  j["engine"] = {{"version", kVersion}, {"commit", kGitCommit}, {"build", kBuildFlavour}};
  j["machine"] = {{"cpu", cpu_model_name()}, {"threads", std::thread::hardware_concurrency()}, {"device", device_name(o.device)}};
  j["world"] = {{"name", r.world}, {"label", r.label}, {"hash", r.model_hash}, {"block_frames", r.block_frames}};
  j["seeds"] = r.seeds;
  j["options"] = {{"model", o.model}, {"horizons", o.horizons}, {"context_frames", o.context_frames},
                  {"response_frames", o.response_frames}, {"stability_frames", o.stability_frames},
                  {"motion_window", o.motion_window}, {"colour_margin", o.colour_margin},
                  {"denoise_steps", o.denoise_steps}, {"action_guidance", o.action_guidance},
                  {"action_guidance_steps", o.action_guidance_steps}, {"policy", o.policy}, {"device", o.device},
                  {"ssim", "per-channel mean, 11x11 Gaussian window sigma 1.5, valid region"}, {"psnr", "RGB in [0, 1]"}};
  j["fidelity"] = nlohmann::json::array();
  for (const auto& h : r.horizons) {
    nlohmann::json row = {{"horizon", h.horizon}, {"model_psnr", number(h.model_psnr)}, {"model_ssim", number(h.model_ssim)},
                          {"ae_psnr", number(h.ae_psnr)}, {"ae_ssim", number(h.ae_ssim)}, {"hold_psnr", number(h.hold_psnr)}};
    if (h.new_share >= 0)
      row["content"] = {{"new_share", h.new_share}, {"model_psnr_shown", number(h.model_psnr_shown)},
                        {"model_psnr_new", number(h.model_psnr_new)}, {"ae_psnr_shown", number(h.ae_psnr_shown)}};
    j["fidelity"].push_back(row);
  }
  j["response"] = nlohmann::json::array();
  for (const auto& a : r.response)
    j["response"].push_back({{"test", a.test}, {"trials", a.trials}, {"correct", a.correct}, {"undecided", a.undecided},
                             {"percent", a.percent()}, {"separation", number(a.separation)},
                             {"aligned", a.aligned}, {"alignment", number(a.alignment)}});
  const StabilityScore& st = r.stability;
  auto arr = [](const std::array<double, 3>& v) { return nlohmann::json{number(v[0]), number(v[1]), number(v[2])}; };
  j["stability"] = {{"frames", st.frames}, {"non_finite_frames", st.non_finite_frames},
                    {"sim_channel_mean_min", arr(st.sim_min)}, {"sim_channel_mean_max", arr(st.sim_max)},
                    {"model_channel_mean_min", arr(st.model_min)}, {"model_channel_mean_max", arr(st.model_max)},
                    {"frames_out_of_range", st.frames_out_of_range}, {"motion_threshold", st.motion_threshold},
                    {"windows", st.windows}, {"sim_moving_windows", st.sim_moving_windows},
                    {"model_moving_windows", st.model_moving_windows}, {"pass", st.pass}};
  j["speed"] = {{"frames_per_s", r.speed.frames_per_s}, {"denoise_ms_per_frame", r.speed.denoise_ms},
                {"commit_ms_per_frame", r.speed.commit_ms}, {"decode_ms_per_frame", r.speed.decode_ms}};
  return j.dump(2) + "\n";
}

std::string eval_markdown(const EvalReport& r) {
  const EvalOptions& o = r.options;
  std::string m = str("### Evaluation\n\n`worldloop eval`: ", setup_line(r, o), ".\n\n",
                      "| horizon (frames) | model PSNR | model SSIM | AE PSNR (ceiling) | AE SSIM (ceiling) | "
                      "last context frame held, PSNR |\n",
                      "|---|---|---|---|---|---|\n");
  for (const auto& h : r.horizons)
    m += str("| ", h.horizon, " | ", fixed(h.model_psnr, 2), " | ", fixed(h.model_ssim, 4), " | ", fixed(h.ae_psnr, 2), " | ",
             fixed(h.ae_ssim, 4), " | ", fixed(h.hold_psnr, 2), " |\n");
  m += str("\nPSNR on RGB in [0, 1]; SSIM per channel (11x11 Gaussian window, sigma 1.5), averaged; mean over ",
           r.seeds.size(), " seeds. The held frame: the last simulator frame before the horizon's count starts.\n");
  if (has_content_split(r)) {
    m += "\nBy content: a pixel is new when the surface it shows (a block face) was in none of the context frames; "
         "the sky and the hotbar count as shown (the camera's pose sets them). Squared error pooled over the seeds.\n\n"
         "| horizon (frames) | new pixels | model PSNR, shown | model PSNR, new | AE PSNR, shown |\n|---|---|---|---|---|\n";
    for (const auto& h : r.horizons)
      m += str("| ", h.horizon, " | ", fixed(100 * h.new_share, 1), "% | ", fixed(h.model_psnr_shown, 2), " | ",
               fixed(h.model_psnr_new, 2), " | ", fixed(h.ae_psnr_shown, 2), " |\n");
  }
  m += str("\n| action test | correct | model A/B difference / simulator's | points the simulator's way (mean cosine) |\n|---|---|---|---|\n");
  for (const auto& a : r.response)
    m += str("| ", a.test, " | ", a.correct, " of ", a.trials, " (", fixed(a.percent(), 1), "%), ", a.undecided,
             " undecided | ", fixed(a.separation, 2), " | ", a.aligned, " of ", a.trials, " (", fixed(a.alignment, 2), ") |\n");
  m += "\nCorrect: each of the model's two futures is nearer the simulator's future under the same action than the "
       "other one. Points its way: the model's A - B difference has a positive cosine with the simulator's (the "
       "direction of the action's effect, whatever its size).\n";
  m += str("\nStability over ", r.stability.frames, " frames:\n\n", stability_lines(r.stability, o, "- "));
  m += str("\nSpeed: ", fixed(r.speed.frames_per_s, 1), " frames/s (denoise + commit + decode; per frame ",
           fixed(r.speed.denoise_ms, 2), " + ", fixed(r.speed.commit_ms, 2), " + ", fixed(r.speed.decode_ms, 2), " ms) on ",
           machine(), at::Device(o.device).is_cuda() ? ", " + device_name(o.device) : "", ".\n");
  return m;
}

void write_card_section(const std::string& path, const std::string& section) {
  static const std::string kBegin = "<!-- eval:begin -->", kEnd = "<!-- eval:end -->";
  std::string text;
  if (std::filesystem::exists(path)) {
    std::ifstream in(path, std::ios::binary);
    WL_CHECK(in.good(), "cannot read the card ", path);
    text.assign(std::istreambuf_iterator<char>(in), {});
  }
  const size_t begin = text.find(kBegin), end = text.find(kEnd);
  WL_CHECK((begin == std::string::npos) == (end == std::string::npos) && (begin == std::string::npos || begin < end) &&
               (begin == std::string::npos || text.find(kBegin, begin + 1) == std::string::npos),
           path, ": the eval section needs exactly one '", kBegin, "' followed by one '", kEnd,
           "'; hint: fix or delete the markers by hand");
  std::string body = section;
  if (!body.empty() && body.back() != '\n') body += '\n';
  if (begin == std::string::npos) {
    if (!text.empty() && text.back() != '\n') text += '\n';
    text += str(text.empty() ? "" : "\n", kBegin, "\n", body, kEnd, "\n");
  } else {
    text = text.substr(0, begin + kBegin.size()) + "\n" + body + text.substr(end);
  }
  write_text_file(path, text);
}

// [SECTION] public

EvalReport run_eval(const EvalOptions& options, std::ostream& out) {
  EvalOptions o = options;
  check_options(o);
  std::unique_ptr<WorldModel> model = WorldModel::load(o.model, WorldModelOptions{o.device, false});
  WL_CHECK(model->can_encode(), "eval: ", o.model, " cannot encode frames, so no session can start from the simulator's; "
           "hint: eval needs a world whose decoder is our autoencoder (`worldloop train --stage ae`)");
  Setup s;
  s.model = model.get();
  s.world = model->info().world;
  s.policy = o.policy.empty() ? policy_names(s.world).front() : o.policy;
  make_policy(s.policy, s.world);   // throws naming the world's policies
  s.block = o.block_frames > 0 ? o.block_frames : model->info().block_frames;
  if (o.denoise_steps == 0) o.denoise_steps = model->info().denoise_steps;
  s.sampler = sampler_for_steps(model->info(), o.denoise_steps);
  if (o.action_guidance < 0) o.action_guidance = model->info().action_guidance;
  s.sampler.action_guidance = o.action_guidance;
  if (o.action_guidance_steps < 0) o.action_guidance_steps = model->info().action_guidance_steps;
  WL_CHECK(o.action_guidance_steps <= o.denoise_steps, "eval: --action-guidance-steps (", o.action_guidance_steps,
           ") is more than the ", o.denoise_steps, " denoise steps");
  s.sampler.action_guidance_steps = o.action_guidance_steps;
  s.range = model->make_decoder()->range();
  s.o = &o;

  EvalReport r;
  r.options = o;
  r.world = s.world;
  r.label = model->info().label;
  r.model_hash = model->hash_hex();
  r.block_frames = s.block;
  for (int i = 0; i < o.seeds; ++i) r.seeds.push_back(o.first_seed + static_cast<uint64_t>(i));
  auto note = [&](const std::string& what) {
    if (o.progress) out << "eval: " << what << std::endl;
  };
  note(str("fidelity, ", o.seeds, " seeds x ", o.horizons.back(), " frames"));
  r.horizons = measure_fidelity(s, r.seeds);
  note("action response");
  for (const ResponseTest& test : response_tests(s.world)) r.response.push_back(measure_response(s, r.seeds, test));
  note(str("stability, ", o.stability_frames, " frames"));
  r.stability = measure_stability(s, r.seeds.front(), r.speed);
  out << eval_text(r);
  if (!o.json_path.empty()) write_text_file(o.json_path, eval_json(r));
  if (!o.card_path.empty()) write_card_section(o.card_path, eval_markdown(r));
  return r;
}

}  // namespace wl
