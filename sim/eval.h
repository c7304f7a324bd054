// `worldloop eval`: how well a trained world model plays its own simulator. The session is seeded
// from real simulator frames (WorldModel::encode + Session::seed), then the model and the simulator
// get the same actions and their frames are compared:
//   fidelity     PSNR / SSIM of model vs simulator frames at horizons 1, 8, 32, 128, next to the
//                autoencoder's own reconstruction of the same frames (the ceiling) and the last
//                context frame held still (the floor); voxel also splits it by content the context
//                showed and content it did not
//   response     opposing-action tests per world (voxel yaw, driving steer, robot arm), % correct
//   stability    a long rollout: no NaN/Inf, colour inside the simulator's range, still moving
//   speed        model frames/s on this machine (denoise + commit + decode per frame)
// Frames are [3, H, W] float in [0, 1]. Same options -> identical numbers (speed aside).
// Callers: main.cpp (`eval`), tests/sim/test_eval.cpp.
#pragma once

#include <ATen/core/Tensor.h>

#include <array>
#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

namespace wl {

inline constexpr uint64_t kEvalSeedBase = 1000;   // the cards' first seed

struct EvalOptions {
  std::string model;                           // world name (assets/worlds/<name>) or world directory
  int seeds = 16;                              // episodes per test; episode i uses seed first_seed + i
  uint64_t first_seed = kEvalSeedBase;         // another base scores seeds a setting was not chosen on
  std::vector<int> horizons = {1, 8, 32, 128}; // frames after the seeded context
  int context_frames = 6;                      // simulator frames encoded and seeded before each test
  int response_frames = 8;                     // frames each opposing action is held
  int stability_frames = 10000;                // frames of the long rollout (after its context)
  int motion_window = 20;                      // frames per motion window (1 s at 20 fps)
  double colour_margin = 0.05;                 // allowed per-channel mean outside the simulator's range
  int denoise_steps = 0;                       // sampler steps per block; 0 = the world's
  int block_frames = 0;                        // latent frames per block; 0 = the world's
  double action_guidance = -1;                 // classifier-free action guidance; < 0 = the world's
  int action_guidance_steps = -1;              // guided leading denoise steps (0: all); < 0 = the world's
  std::string policy;                          // scripted policy; "" = the world's own
  std::string device = "cpu";                  // "cpu" or "cuda"
  std::string json_path;                       // also write the report as JSON here
  std::string card_path;                       // also write it into this markdown card's eval section
  bool progress = true;                        // progress lines while running
};

struct HorizonScore {
  int horizon = 0;                             // frames after the context (1 = the first generated)
  double model_psnr = 0, model_ssim = 0;       // model vs simulator, mean over seeds
  double ae_psnr = 0, ae_ssim = 0;             // encode -> decode of the simulator frame vs itself
  double hold_psnr = 0;                        // the last context frame held still vs the simulator's
  // Worlds that tell which surface each pixel shows (World::surface_ids; voxel): the share of
  // pixels showing a surface no context frame showed (-1: the world cannot tell), and PSNR over the
  // pixels the context did show and over the new ones (squared error pooled over the seeds).
  double new_share = -1;
  double model_psnr_shown = 0, model_psnr_new = 0, ae_psnr_shown = 0;
};

struct ResponseScore {
  std::string test;                            // "camera_yaw 2 vs 8 (turn left vs right, held 8 frames)"
  int trials = 0;                              // seeds where the simulator's A and B frames differ
  int correct = 0;
  int undecided = 0;                           // seeds where they do not (the action did nothing)
  double separation = 0;                       // mean over trials of RMS(model A - model B) / RMS(sim A - sim B):
                                               // 0 = the model ignores the action, 1 = it moves as much
  int aligned = 0;                             // trials where model A - model B points the simulator's way
  double alignment = 0;                        // mean cosine of (model A - model B) and (sim A - sim B)
  double percent() const { return trials ? 100.0 * correct / trials : 0.0; }
};

struct StabilityScore {
  int64_t frames = 0;
  int64_t non_finite_frames = 0;               // a NaN or Inf in the frame or its latent
  std::array<double, 3> sim_min{}, sim_max{};  // per-channel frame means over the simulator's run
  std::array<double, 3> model_min{}, model_max{};
  int64_t frames_out_of_range = 0;             // any channel mean outside sim range +- margin
  double motion_threshold = 0;                 // mean |frame difference| a window must reach
  int windows = 0;
  int sim_moving_windows = 0, model_moving_windows = 0;
  bool pass = false;                           // all finite, none out of range, motion kept (see eval.cpp)
};

struct EvalSpeed {
  double frames_per_s = 0;                     // displayed frames / (denoise + commit + decode)
  double denoise_ms = 0, commit_ms = 0, decode_ms = 0;   // per frame
};

struct EvalReport {
  EvalOptions options;                         // as run: defaults resolved (steps, horizons sorted)
  std::string world, label, model_hash;
  int block_frames = 0;
  std::vector<uint64_t> seeds;
  std::vector<HorizonScore> horizons;
  std::vector<ResponseScore> response;
  StabilityScore stability;
  EvalSpeed speed;
};

// Runs every part, prints the table to `out`, writes the JSON and card when asked. wl::Error for a
// world without an encoder, bad options, or an unwritable file.
EvalReport run_eval(const EvalOptions& options, std::ostream& out);

// The report as JSON (options, machine, commit; "speed" is the only part that varies between runs).
std::string eval_json(const EvalReport& report);
// The report as a markdown section (no markers).
std::string eval_markdown(const EvalReport& report);
// Replaces the text between `<!-- eval:begin -->` and `<!-- eval:end -->` in the markdown file at
// `path` with `section` (appending both markers and the section when absent; creating the file when
// missing), leaving the rest byte for byte; atomic. wl::Error for a lone or misordered marker.
void write_card_section(const std::string& path, const std::string& section);

// [SECTION] metrics on frames [3, H, W] (or [N, 3, H, W], averaged over N) in [0, 1]
// PSNR over RGB: 10 log10(1 / MSE); +inf for identical frames.
double psnr(const at::Tensor& a, const at::Tensor& b);
// SSIM per channel with an 11x11 Gaussian window (sigma 1.5, valid region), C1 = 0.01^2,
// C2 = 0.03^2, averaged over the channels (and frames). 1 for identical frames.
double ssim(const at::Tensor& a, const at::Tensor& b);

}  // namespace wl
