// `worldloop train`: the tiny trained worlds, in C++ with LibTorch autograd. Three stages:
//   ae       the latent autoencoder (model/autoencoder.h) on frames [B, 3, S, S] of a world played
//            by its scripted policies (or a `worldloop dataset` folder): MSE reconstruction, with
//            noise on the latents so the decoder tolerates a DiT's errors; running latent statistics.
//   dit      a small LinearDiT (the 2B model's code path) on the frozen AE's latents [B, C, T, S/8, S/8],
//            action-conditioned (latent frame t sees the action that made it), block-causal through
//            forward_chunked, flow matching (x_t = (1 - s) x0 + s eps, target eps - x0) with an
//            independent noise level per block (diffusion forcing: noisy context, sometimes clean).
//   rollout  Self-Forcing style: from a dit run, each clip is generated block by block by the
//            world's own few-step sampler reading the state its own earlier blocks committed (after
//            zero or one ground-truth block); one random sampler step per block keeps its gradient
//            (truncated: the state and the other steps are detached) and is pulled to the simulator's
//            clean block; plus the dit loss on the same clip (weight df_weight) so nothing is forgotten.
// The weights saved are an exponential moving average of the trained ones (decay `ema`). Every
// `checkpoint_every` steps (and when --max-minutes runs out) the run directory gets, atomically,
// step_N/ and `latest` naming it; every random draw of step s comes from (seed, s), so --resume
// continues bit-identically on the same machine. Run directory:
//   run.json  loss.csv (step,loss,lr,seconds,data_wait)  latest  ae.safetensors (dit, rollout: the frozen AE)
//   step_000500/model.safetensors (EMA)  [config.json (dit, rollout): a playable world directory]
//               train/optimizer.safetensors  train/raw.safetensors (the trained, non-averaged weights)
// Callers: main.cpp (the `train` subcommand), tests/sim/test_train.cpp.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "model/autoencoder.h"

namespace wl {

struct TrainOptions {
  std::string stage;                // "ae", "dit" or "rollout"
  std::string world = "voxel";      // "voxel", "driving" or "robot": frames, actions and policy
  std::string out;                  // the run directory (new or empty; with resume, an earlier run)
  std::string data;                 // a `worldloop dataset` folder; "" = simulate with the scripted policy
  std::string ae;                   // dit: the AE run directory (its latest step) or its .safetensors
  std::string init;                 // dit, rollout: start from this run's newest weights or an exported world
                                    // (rollout needs it; a dit run with it continues training with a fresh optimizer)
  int64_t steps = 2000;             // optimizer steps in total (a resumed run continues to this)
  int64_t batch = 0;                // 0: the stage's default (ae 16 frames, dit 8 clips)
  double lr = 0.0;                  // 0: the stage's default (ae 1e-3, dit 3e-4); linear warmup first
  int64_t warmup = 100;             // steps of linear learning-rate warmup (independent of `steps`)
  double weight_decay = 0.01;       // AdamW
  double clip_grad = 1.0;           // global gradient-norm clip; 0 = off
  std::string device = "cpu";       // "cpu" or "cuda[:i]"
  bool resume = false;              // continue the run in `out` from its latest checkpoint
  int64_t checkpoint_every = 500;   // steps between checkpoints (the last step always gets one)
  int64_t log_every = 50;           // steps between progress lines
  double max_minutes = 0.0;         // > 0: checkpoint and stop after this much wall time (resume later)
  double ema = 0.999;               // decay of the saved weight average (0: save the trained weights)
  uint64_t seed = 0;                // data, noise and initialisation
  int size = 128;                   // frame width and height in pixels, a multiple of 8 (latents size/8)
  int episode_frames = 200;         // simulated episodes last this long before the next seed
  std::string policy;               // scripted policy; "" = the world's scripted one and sticky_random, alternating slots
  // ae
  AEConfig ae_config;               // the autoencoder a new ae run trains
  int frame_stride = 4;             // simulated frames between two samples of one episode
  double latent_noise = 0.1;        // max latent noise during training, in latent standard deviations
  // dit
  std::string model_size = "small"; // "tiny" (tests) or "small" (the shipped worlds)
  int clip_frames = 12;             // latent frames per training clip
  int block_frames = 3;             // latent frames per block; clip_frames must be a multiple
  double clean_context = 0.2;       // chance a context block is clean (timestep 0, as inference commits)
  double action_lr_scale = 1.0;     // the action embedder's learning rate is lr times this (it starts at zero
                                    // and learns slowest; a world whose model ignores its actions needs more)
  double action_dropout = 0.0;      // chance a clip's block is trained without its actions (DiTStep::action_keep
                                    // = 0), so play can use classifier-free action guidance
  double contrast = 0.0;            // > 0: counterfactual pairs (simulated clips only, even batch): rows 2i and 2i + 1
                                    // share context and noise, and their last block's actions differ; this weighs
                                    // the loss on the difference of the pair's velocities (what the action changed)
  int contrast_blocks = 1;          // a pair's actions differ in its last this many blocks (the difference then also
                                    // passes through the state: what a held action does over several blocks)
  int reuse = 1;                    // dit, rollout: each batch of clips trains this many consecutive steps (fresh
                                    // noise each), for runs whose simulators cannot keep the GPU busy
  double timestep_shift = 3.0;      // training sigma = shift u / (1 + (shift - 1) u), u ~ U(0, 1); the world's sampler shift
  int denoise_steps = 4;            // the world's sampler steps (uniform schedule), trained on by rollout
  // rollout
  double df_weight = 0.5;           // weight of the dit (diffusion forcing) loss beside the rollout loss (on the
                                    // last clip_frames frames of a longer rollout clip)
  int rollout_blocks = 0;           // blocks per self-generated clip (0: clip_frames / block_frames); past that the
                                    // state keeps the world's window (clip_frames / block_frames - 1 blocks), as play
                                    // does, so the model learns to hold a scene longer than a training clip
  bool progress = true;             // progress lines on the output stream
};

struct TrainSummary {
  int64_t first_step = 0;           // the step this run started after (0, or the resumed step)
  int64_t last_step = 0;            // the step of the final checkpoint
  std::vector<double> losses;       // per step run by this call
  bool stopped_early = false;       // --max-minutes ran out before --steps
  std::string checkpoint;           // the final step directory
  double seconds = 0.0;
};

// Runs or resumes a stage. Throws wl::Error, before writing anything, for an unknown stage, world
// or policy, a dit run without --ae, a rollout run without --init, bad sizes, an --out that holds another run without --resume,
// or --resume with nothing to resume.
TrainSummary run_train(const TrainOptions& options, std::ostream& out);

// The DiT config a stage-2 run trains: "tiny" or "small", with C latent channels and A action dims.
DiTConfig train_dit_config(const std::string& model_size, int latent_channels, int action_dims);

// `worldloop export`: a dit or rollout run's newest checkpoint as a self-contained world directory
// (what assets/worlds/<name>/ holds): config.json (decoder "ae.safetensors"), model.safetensors and
// ae.safetensors in `dtype` ("f16": half the bytes, what we ship; "f32"), recipe.json (the run's
// run.json). `out` must be new, empty, or an earlier export (its README.md world card is kept).
struct ExportOptions {
  std::string run;                  // the dit or rollout run directory
  std::string out;                  // the world directory to write
  std::string dtype = "f16";
};
void export_world(const ExportOptions& options, std::ostream& out);

// The newest checkpoint directory of a run (RUN_DIR/<latest>); wl::Error when the run has none.
std::string latest_checkpoint(const std::string& run_dir);

}  // namespace wl
