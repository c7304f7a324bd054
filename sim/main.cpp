// worldloop: the command line. Each subcommand parses its flags into an options struct and calls
// one function; every wl::Error (and any other exception) ends here as one line on stderr and a
// non-zero exit code. Subcommands appear only once they work.
//   worldloop --version
//   worldloop info FILE.safetensors [--prefix P]
//   worldloop play (--model DIR | --random-tiny [--world W]) [--headless --frames N --out FILE.mp4] [--policy P]
//   worldloop play --ground-truth [--world NAME] [--policy P] [--frames N] [--record SESSION_DIR] [--headless]
//   worldloop play (--model DIR | --random-tiny) [--headless --frames N] --record SESSION_DIR
//   worldloop replay SESSION_DIR [--out video.mp4] [--model DIR --force]
//   worldloop rollout (--model DIR | --random-tiny --world W) --out DIR [--policy P,..] [--actions F..] [--trajectory F..]
//                     [--seed S --seeds N] [--frames N] [--batch B] [--branch K --from FILE.wlsnap] [--device cuda]
//                     [--video | --no-video]
//   worldloop dataset --world W --episodes N --frames F [--policy P] --out DIR [--seed S] [--size 128]
//   worldloop view IMAGE_OR_VIDEO [--headless --frames N --out PNG]
//   worldloop bench [--section worlds,dit] [--repeats N] [--json FILE] [--wan-variant baseline,cl,all]
//   worldloop forward --model DIR --inputs IN.safetensors --out OUT.safetensors
//   worldloop decode --vae DIR --latents IN.safetensors --out OUT.safetensors|OUT.mp4
//   worldloop synth (--model DIR | --world robot | --random-tiny | --ground-truth) --episodes N --frames F --out DIR [--shard i/n]
//   worldloop synth --merge OUT SHARD_DIRS...
//   worldloop train --stage ae|dit|rollout --world W --out RUN_DIR [--ae RUN_DIR | --init RUN_DIR] [--steps N] [--resume]
//   worldloop export --run RUN_DIR --out WORLD_DIR [--dtype f16|f32]
//   worldloop export --random-sana-video DIR [--preset sana-video-2b-480p|tiny] [--decoder taehv|wan] [--latent-h 60 --latent-w 104]
//   worldloop eval (--world W | --model DIR) [--seeds N] [--json FILE] [--card README.md] [--device cpu|cuda]
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <iostream>

#include "kernels/core/error.h"
#include "kernels/core/log.h"
#include "model/safetensors.h"
#include "sim/bench.h"
#include "sim/decode.h"
#include "sim/eval.h"
#include "sim/dataset.h"
#include "sim/forward.h"
#include "sim/ground_truth.h"
#include "sim/info.h"
#include "sim/play.h"
#include "sim/replay.h"
#include "sim/rollout.h"
#include "sim/synth.h"
#include "sim/train.h"
#include "sim/version.h"
#include "sim/view.h"
#include "sim/world_files.h"

namespace {

struct PlayOptions {
  std::string world = "voxel";   // shipped world name, or a world directory via --model
  std::string model_dir;         // a world directory of the user's own
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"worldloop: real-time video world models"};
  app.require_subcommand(0, 1);
  bool show_version = false;
  std::string log_level;
  app.add_flag("--version", show_version, "Print version, commit and build flavour");
  app.add_option("--log-level", log_level, "debug, info, warn, error or off (default: $WL_LOG or info)")
      ->check(CLI::IsMember({"debug", "info", "warn", "error", "off"}));

  wl::InfoOptions info;
  CLI::App* info_cmd = app.add_subcommand("info", "Describe a safetensors file: tensors, parameters, dtypes, metadata");
  info_cmd->add_option("file", info.path, "The .safetensors file")->required();
  info_cmd->add_option("--prefix", info.prefix, "Only list tensors whose name starts with this");

  PlayOptions play;
  CLI::App* play_cmd = app.add_subcommand("play", "Play a world in a window (records headless without a display)");
  auto* world_opt = play_cmd->add_option("--world", play.world, "Shipped world: voxel, driving or robot")->capture_default_str();
  auto* model_opt =
      play_cmd->add_option("--model", play.model_dir, "A world directory (config.json + model.safetensors)")->excludes(world_opt);
  bool ground_truth = false;
  wl::GroundTruthOptions truth;
  wl::ModelPlayOptions model_play;
  auto* truth_flag = play_cmd->add_flag("--ground-truth", ground_truth, "Play the simulator itself instead of a world model")
                         ->excludes(model_opt);
  auto* tiny_flag = play_cmd->add_flag("--random-tiny", model_play.random_tiny,
                                       "A tiny world model with RANDOM WEIGHTS (tests the loop; shows nothing learnt)")
                        ->excludes(model_opt)
                        ->excludes(truth_flag);
  // Shared by both kinds of play (copied into the model's options below).
  play_cmd->add_option("--policy", truth.policy, "Let this scripted policy play (headless default: ground truth the world's "
                                                 "first, a model sticky_random)");
  play_cmd->add_option("--frames", truth.frames, "Stop after this many frames (0: until Esc; headless: 200)");
  play_cmd->add_option("--seed", truth.seed, "World, noise and policy seed")->capture_default_str();
  play_cmd->add_option("--size", truth.size, "Frame width and height in pixels")->needs(truth_flag)->capture_default_str();
  play_cmd->add_option("--record", truth.record, "Record the session (video.mp4, actions.jsonl, session.json) into this new "
                                                 "directory; `worldloop replay DIR` regenerates it");
  play_cmd->add_option("--bindings", truth.bindings, "A bindings file overriding the default keys");
  play_cmd->add_flag("--headless", truth.headless, "No window: a scripted policy plays");
  play_cmd->add_option("--out", model_play.out, "World model: write the frames shown to this MP4")->excludes(truth_flag);
  play_cmd->add_option("--device", model_play.device, "World model: cpu or cuda")->excludes(truth_flag)->capture_default_str();
  play_cmd->add_option("--block-frames", model_play.block_frames, "World model: latent frames per block (0: the world's)")
      ->excludes(truth_flag);
  play_cmd->add_option("--denoise-steps", model_play.denoise_steps, "World model: sampler steps per block (0: the world's)")
      ->excludes(truth_flag)
      ->check(CLI::Range(0, 50));
  play_cmd->add_option("--start", model_play.start,
                       "World model: simulator (the state starts from the simulator's frames), noise (an empty state), or "
                       "auto (simulator when the world can encode frames)")
      ->excludes(truth_flag)
      ->capture_default_str();
  play_cmd->add_option("--snapshots", model_play.snapshot_dir, "World model: folder for F5/F9 and the overlay's save slots")
      ->excludes(truth_flag)
      ->capture_default_str();
  (void)tiny_flag;

  wl::DatasetOptions dataset;
  CLI::App* dataset_cmd = app.add_subcommand("dataset", "Export training data: frames, actions, MP4 and manifest per episode");
  dataset_cmd->add_option("--world", dataset.world, "voxel, driving or robot")->capture_default_str();
  dataset_cmd->add_option("--episodes", dataset.episodes, "Episodes in total (finished ones are kept)")->capture_default_str();
  dataset_cmd->add_option("--frames", dataset.frames, "Frames per episode (20 per second)")->capture_default_str();
  dataset_cmd->add_option("--policy", dataset.policy, "Scripted policy (default: the world's first)");
  dataset_cmd->add_option("--out", dataset.out, "The dataset folder (new, empty, or the same dataset to resume)")->required();
  dataset_cmd->add_option("--seed", dataset.seed, "Episode i uses seed S + i")->capture_default_str();
  dataset_cmd->add_option("--size", dataset.size, "Frame width and height in pixels, even")->capture_default_str();
  bool no_video = false, no_progress = false;
  dataset_cmd->add_flag("--no-video", no_video, "Skip the per-episode video.mp4");
  dataset_cmd->add_flag("--no-progress", no_progress, "No progress bar on stderr");

  wl::ViewOptions view;
  CLI::App* view_cmd = app.add_subcommand("view", "Show an image or play a video through the presenter and overlay");
  view_cmd->add_option("file", view.path, "An image (PNG, ...) or a video (MP4, ...)")->required();
  view_cmd->add_flag("--headless", view.headless, "Render offscreen, no window");
  view_cmd->add_option("--frames", view.frames, "Frames to present (0: until Esc; headless: the file once)");
  view_cmd->add_option("--out", view.out_png, "Headless: save the last composed output as PNG");
  view_cmd->add_option("--output-width", view.output_width, "Window or headless output width")->capture_default_str();
  view_cmd->add_option("--output-height", view.output_height, "Window or headless output height")->capture_default_str();
  bool view_no_overlay = false;
  view_cmd->add_flag("--nearest", view.nearest, "Nearest-neighbour scaling instead of linear");
  view_cmd->add_flag("--no-overlay", view_no_overlay, "Start with the overlay hidden (F1 shows it)");

  wl::BenchOptions bench;
  CLI::App* bench_cmd = app.add_subcommand("bench", "Measure speed and memory; prints a table, optionally JSON");
  bench_cmd->add_option("--section", bench.sections, "Run only these sections: worlds, present, loop, worlds-models, dit, decoders")
      ->delimiter(',');
  bench_cmd->add_option("--repeats", bench.repeats, "Timed repetitions per row; the median is reported")->capture_default_str();
  bench_cmd->add_option("--world-frames", bench.world_frames, "Steps per repetition for the worlds section")->capture_default_str();
  bench_cmd->add_option("--world-size", bench.world_size, "World frame width and height in pixels")->capture_default_str();
  bench_cmd->add_option("--json", bench.json_path, "Also write the results as JSON to this file");
  bench_cmd->add_option("--preset", bench.preset, "DiT config for the dit section (random weights); runs that section");
  bench_cmd->add_option("--block-frames", bench.block_frames, "Latent frames per block for the dit section")->delimiter(',')
      ->capture_default_str();
  bench_cmd->add_option("--latent-h", bench.latent_h, "Latent height for the dit section (video height / 8)")->capture_default_str();
  bench_cmd->add_option("--latent-w", bench.latent_w, "Latent width for the dit section (video width / 8)")->capture_default_str();
  bench_cmd->add_option("--device", bench.device, "cpu or cuda for the dit section")->capture_default_str();
  bench_cmd->add_flag("--bf16", bench.bf16, "bf16 model on CPU (always on CUDA)");
  bench_cmd->add_option("--decoder-latents", bench.decoder_latents, "Latents streamed per decoder in the decoders section")
      ->capture_default_str();
  bench_cmd->add_option("--wan-variant", bench.wan_variants,
                        "decoders section: Wan2.1 VAE variants to time, comma-separated, each 'auto' (the device's default), "
                        "'baseline', 'all', or switches joined by '+': cl (channels-last 3-D), cudnn (cuDNN autotuning), "
                        "conv2d (time-kernel-1 convs as conv2d), buf (preallocated cache|input windows), fuse (at::rms_norm + "
                        "SiLU into the window; needs cl), up (upsample_nearest2d); e.g. baseline,cl,cl+cudnn,all")
      ->delimiter(',')
      ->capture_default_str();
  bench_cmd->add_option("--loop-world", bench.loop_world, "World of the loop section")->capture_default_str();
  bench_cmd->add_option("--loop-frames", bench.loop_frames, "Displayed frames per run of the loop section")
      ->capture_default_str();
  bench_cmd->add_option("--model", bench.models, "worlds-models section: also time these world directories");
  bench_cmd->add_option("--model-frames", bench.model_frames, "Displayed frames per run of the worlds-models section")
      ->capture_default_str();

  wl::ForwardOptions forward;
  CLI::App* forward_cmd = app.add_subcommand("forward", "One DiT forward on given latents, timestep and caption embeddings");
  forward_cmd->add_option("--model", forward.model, "World/model directory or .safetensors file")->required();
  forward_cmd->add_option("--inputs", forward.inputs, "latents, timestep, caption, caption_mask [, actions, first_frame, state.*]")
      ->required();
  forward_cmd->add_option("--out", forward.out, "Output .safetensors: velocity [and state.*]")->required();
  forward_cmd->add_option("--device", forward.device, "cpu or cuda")->capture_default_str();
  forward_cmd->add_flag("--bf16", forward.bf16, "Run the model in bf16 (fp32 attention accumulation)");
  forward_cmd->add_flag("--commit", forward.commit, "Commit the block into the world state and write the state out");
  forward_cmd->add_option("--state-policy", forward.state_policy, "global, window:N or sink+window:N for a new state");

  wl::DecodeOptions decode;
  CLI::App* decode_cmd = app.add_subcommand("decode", "Decode latents to frames with the Wan2.1 VAE or TAEHV (streaming)");
  decode_cmd->add_option("--vae", decode.vae, "Decoder weights: .safetensors file or directory")->required();
  decode_cmd->add_option("--decoder", decode.decoder, "wan2.1, taehv or auto")->capture_default_str();
  decode_cmd->add_option("--latents", decode.latents, "Input .safetensors with \"latents\" [B, 16, T, h, w]")->required();
  decode_cmd->add_option("--out", decode.out, "Output .safetensors (\"frames\") or .mp4")->required();
  decode_cmd->add_option("--device", decode.device, "cpu or cuda")->capture_default_str();
  decode_cmd->add_flag("--bf16", decode.bf16, "Decode in bf16");
  decode_cmd->add_option("--fps", decode.fps, "Frame rate of an .mp4")->capture_default_str();

  wl::TrainOptions train;
  CLI::App* train_cmd = app.add_subcommand("train", "Train a world: the autoencoder (stage ae), the DiT (stage dit), then on its own rollouts (stage rollout)");
  train_cmd->add_option("--stage", train.stage, "ae, dit or rollout")->required();
  train_cmd->add_option("--world", train.world, "voxel, driving or robot")->capture_default_str();
  train_cmd->add_option("--out", train.out, "The run directory (new, or the run to --resume)")->required();
  train_cmd->add_option("--ae", train.ae, "Stage dit: the autoencoder run directory or its .safetensors");
  train_cmd->add_option("--init", train.init, "Stage dit, rollout: a dit/rollout run or an exported world to start from");
  train_cmd->add_option("--max-minutes", train.max_minutes, "Checkpoint and stop after this much wall time (0: no limit)")
      ->capture_default_str();
  train_cmd->add_option("--ema", train.ema, "Decay of the saved weight average (0: save the trained weights)")->capture_default_str();
  train_cmd->add_option("--denoise-steps", train.denoise_steps, "Stage dit, rollout: the world's sampler steps")->capture_default_str();
  train_cmd->add_option("--timestep-shift", train.timestep_shift, "Stage dit, rollout: flow shift of training and sampling")
      ->capture_default_str();
  train_cmd->add_option("--df-weight", train.df_weight, "Stage rollout: weight of the dit loss beside the rollout loss")
      ->capture_default_str();
  train_cmd->add_option("--rollout-blocks", train.rollout_blocks,
                        "Stage rollout: blocks per self-generated clip (0: a training clip's); the state keeps the world's window")
      ->capture_default_str();
  train_cmd->add_option("--data", train.data, "A `worldloop dataset` folder instead of simulating on the fly");
  train_cmd->add_option("--steps", train.steps, "Optimizer steps in total")->capture_default_str();
  train_cmd->add_option("--batch", train.batch, "Frames (ae) or clips (dit) per step; 0: ae 16, dit 8")->capture_default_str();
  train_cmd->add_option("--lr", train.lr, "Peak learning rate; 0: ae 1e-3, dit 3e-4")->capture_default_str();
  train_cmd->add_option("--action-lr-scale", train.action_lr_scale,
                        "dit, rollout: the action embedder learns at --lr times this")->capture_default_str();
  train_cmd->add_option("--action-dropout", train.action_dropout,
                        "dit, rollout: chance a block trains without its actions (for action guidance)")->capture_default_str();
  train_cmd->add_option("--contrast", train.contrast,
                        "dit, rollout: weight of the counterfactual-pair loss (what the last block's actions changed); "
                        "simulated clips, even batch")->capture_default_str();
  train_cmd->add_option("--contrast-blocks", train.contrast_blocks,
                        "dit, rollout: a counterfactual pair's actions differ in its last this many blocks")->capture_default_str();
  train_cmd->add_option("--reuse", train.reuse, "dit, rollout: steps trained on each batch of clips (fresh noise each)")
      ->capture_default_str();
  train_cmd->add_option("--warmup", train.warmup, "Steps of linear learning-rate warmup")->capture_default_str();
  train_cmd->add_option("--device", train.device, "cpu or cuda")->capture_default_str();
  train_cmd->add_flag("--resume", train.resume, "Continue the run in --out from its latest checkpoint");
  train_cmd->add_option("--checkpoint-every", train.checkpoint_every, "Steps between checkpoints")->capture_default_str();
  train_cmd->add_option("--log-every", train.log_every, "Steps between progress lines")->capture_default_str();
  train_cmd->add_option("--seed", train.seed, "Data, noise and initialisation seed")->capture_default_str();
  train_cmd->add_option("--size", train.size, "Frame width and height in pixels (latents are 8x smaller)")->capture_default_str();
  train_cmd->add_option("--policy", train.policy,
                        "Policy that plays the simulator (default: the world's scripted one and sticky_random, alternating)");
  train_cmd->add_option("--latent-channels", train.ae_config.latent_channels, "Stage ae: latent channels C")
      ->capture_default_str();
  train_cmd->add_option("--model-size", train.model_size, "Stage dit: tiny or small")->capture_default_str();
  train_cmd->add_option("--clip-frames", train.clip_frames, "Stage dit: latent frames per clip")->capture_default_str();
  train_cmd->add_option("--block-frames", train.block_frames, "Stage dit: latent frames per block")->capture_default_str();

  wl::ExportOptions export_world;
  wl::RandomSanaVideoSpec random_sana;
  std::string random_sana_dir;
  CLI::App* export_cmd = app.add_subcommand("export", "Make a self-contained world directory from a dit or rollout run, "
                                                      "or a RANDOM-WEIGHT SANA-Video one (--random-sana-video)");
  auto* export_run = export_cmd->add_option("--run", export_world.run, "The `worldloop train --stage dit|rollout` run directory");
  auto* export_out = export_cmd->add_option("--out", export_world.out, "The world directory to write (new, or an earlier export)");
  auto* export_dtype = export_cmd->add_option("--dtype", export_world.dtype,
                                              "Weight dtype: f16 (shipped worlds) or f32; --random-sana-video: f32, f16 or bf16 "
                                              "(default bf16)");
  auto* export_random = export_cmd->add_option("--random-sana-video", random_sana_dir,
                                               "Write a SANA-Video-shaped world with RANDOM WEIGHTS (no actions) into this new "
                                               "directory, for trying play/bench without a checkpoint")
                            ->excludes(export_run)
                            ->excludes(export_out);
  export_cmd->add_option("--preset", random_sana.preset, "--random-sana-video: DiT preset sana-video-2b-480p, or tiny (small "
                                                         "decoders too; CPU tests)")
      ->needs(export_random)
      ->capture_default_str();
  export_cmd->add_option("--decoder", random_sana.decoder, "--random-sana-video: taehv or wan")->needs(export_random)->capture_default_str();
  export_cmd->add_option("--latent-h", random_sana.latent_h, "--random-sana-video: latent height, even (video height / 8)")
      ->needs(export_random)
      ->capture_default_str();
  export_cmd->add_option("--latent-w", random_sana.latent_w, "--random-sana-video: latent width, even (video width / 8)")
      ->needs(export_random)
      ->capture_default_str();
  export_cmd->add_option("--seed", random_sana.seed, "--random-sana-video: weight and caption seed")->needs(export_random)->capture_default_str();

  wl::EvalOptions eval;
  std::string eval_world;
  CLI::App* eval_cmd = app.add_subcommand("eval", "Score a trained world against its simulator: fidelity, action response, "
                                                  "stability, speed");
  auto* eval_world_opt = eval_cmd->add_option("--world", eval_world, "Shipped world: voxel, driving or robot");
  eval_cmd->add_option("--model", eval.model, "A world directory (train's step_N folder)")->excludes(eval_world_opt);
  eval_cmd->add_option("--seeds", eval.seeds, "Episodes per test (seeds F, F + 1, ... from --first-seed)")->capture_default_str();
  eval_cmd->add_option("--first-seed", eval.first_seed, "The first episode's seed (held-out seeds for a check)")
      ->capture_default_str();
  eval_cmd->add_option("--horizons", eval.horizons, "Frames after the context to score")->delimiter(',')->capture_default_str();
  eval_cmd->add_option("--context-frames", eval.context_frames, "Simulator frames seeded before each test")->capture_default_str();
  eval_cmd->add_option("--response-frames", eval.response_frames, "Frames each opposing action is held")->capture_default_str();
  eval_cmd->add_option("--stability-frames", eval.stability_frames, "Frames of the long rollout")->capture_default_str();
  eval_cmd->add_option("--motion-window", eval.motion_window, "Frames per motion window")->capture_default_str();
  eval_cmd->add_option("--colour-margin", eval.colour_margin, "Allowed channel mean outside the simulator's range")
      ->capture_default_str();
  eval_cmd->add_option("--denoise-steps", eval.denoise_steps, "Sampler steps per block")->capture_default_str();
  eval_cmd->add_option("--action-guidance", eval.action_guidance,
                       "Classifier-free action guidance w (1: none; default: the world's sampler.action_guidance)")
      ->check(CLI::Range(0.0, 20.0));
  eval_cmd->add_option("--action-guidance-steps", eval.action_guidance_steps,
                       "Guide only the first N denoise steps (0: all; default: the world's sampler.action_guidance_steps)")
      ->check(CLI::Range(0, 50));
  eval_cmd->add_option("--block-frames", eval.block_frames, "Latent frames per block (0: the world's)")->capture_default_str();
  eval_cmd->add_option("--policy", eval.policy, "Scripted policy (default: the world's own)");
  eval_cmd->add_option("--device", eval.device, "cpu or cuda")->capture_default_str();
  eval_cmd->add_option("--json", eval.json_path, "Also write the report as JSON to this file");
  eval_cmd->add_option("--card", eval.card_path, "Also write it into this markdown card between <!-- eval:begin/end -->");

  wl::SynthOptions synth;
  std::string synth_shard = "0/1", synth_merge;
  std::vector<std::string> synth_shard_dirs;
  bool synth_no_progress = false;
  CLI::App* synth_cmd = app.add_subcommand("synth", "Robot data synthesis: a LeRobot v2.1 dataset played by a policy");
  synth_cmd->add_option("--out", synth.out, "The dataset folder (new, empty, or the same dataset to resume)");
  synth_cmd->add_option("--episodes", synth.episodes, "Episodes in the dataset (all shards together)")->capture_default_str();
  synth_cmd->add_option("--frames", synth.frames, "Frames per episode")->capture_default_str();
  synth_cmd->add_option("--policy", synth.policy, "pick_place or sticky_random")->capture_default_str();
  synth_cmd->add_option("--actions", synth.actions_file, "Replay this actions.jsonl instead of a policy");
  synth_cmd->add_option("--model", synth.model_dir, "Video from this world directory");
  synth_cmd->add_option("--world", synth.world, "Video from this shipped world (robot)");
  synth_cmd->add_flag("--random-tiny", synth.random_tiny, "Video from a RANDOM-WEIGHT tiny model (tests)");
  synth_cmd->add_flag("--ground-truth", synth.ground_truth, "Video from the simulator itself");
  synth_cmd->add_option("--size", synth.size, "Ground truth: frame width and height in pixels")->capture_default_str();
  synth_cmd->add_option("--seed", synth.seed, "Episode e's seed is a hash of (seed, e)")->capture_default_str();
  synth_cmd->add_option("--task", synth.task, "The task text (default: one describing the policy)");
  synth_cmd->add_option("--shard", synth_shard, "i/n: make the episodes e with e % n == i")->capture_default_str();
  synth_cmd->add_option("--device", synth.device, "World model: cpu or cuda")->capture_default_str();
  synth_cmd->add_option("--denoise-steps", synth.denoise_steps, "World model: sampler steps per block (0: the world's)")->capture_default_str();
  synth_cmd->add_flag("--no-progress", synth_no_progress, "No progress bar on stderr");
  synth_cmd->add_option("--merge", synth_merge, "Join the shard folders named after it into this dataset folder");
  synth_cmd->add_option("shard_dirs", synth_shard_dirs, "With --merge: the shard runs' --out folders");

  wl::ReplayOptions replay;
  CLI::App* replay_cmd = app.add_subcommand("replay", "Regenerate a recorded session from its logs and check it frame by frame");
  replay_cmd->add_option("session", replay.session_dir, "A directory written by `play --record DIR` or `rollout`")->required();
  replay_cmd->add_option("--out", replay.out, "Also write the regenerated frames to this MP4");
  replay_cmd->add_option("--model", replay.model_dir, "Replay with this world directory instead of the recorded model");
  replay_cmd->add_option("--device", replay.device, "cpu or cuda")->capture_default_str();
  replay_cmd->add_flag("--force", replay.force, "Replay with a different model anyway; reports the first differing frame");

  wl::RolloutOptions rollout;
  bool rollout_no_progress = false, rollout_no_video = false;
  CLI::App* rollout_cmd = app.add_subcommand("rollout", "Headless batched rollouts of a world model: seeds x action sources");
  auto* rollout_model = rollout_cmd->add_option("--model", rollout.model_dir, "A world directory");
  rollout_cmd->add_flag("--random-tiny", rollout.random_tiny, "A tiny world model with RANDOM WEIGHTS (tests)")->excludes(rollout_model);
  auto* rollout_world = rollout_cmd->add_option("--world", rollout.world, "A shipped world (voxel, driving or robot); with "
                                                "--random-tiny: whose actions")->excludes(rollout_model)->capture_default_str();
  rollout_cmd->add_option("--out", rollout.out, "Output directory (new, empty, or this run's to resume)")->required();
  rollout_cmd->add_option("--policy", rollout.policies, "Scripted policies, one action source each")->delimiter(',');
  rollout_cmd->add_option("--actions", rollout.action_files, "actions.jsonl files, one action source each");
  rollout_cmd->add_option("--trajectory", rollout.trajectories, "Driving: jsonl of {frames, speed, curvature} segments");
  rollout_cmd->add_option("--seed", rollout.seed, "First seed")->capture_default_str();
  rollout_cmd->add_option("--seeds", rollout.seeds, "Seeds per action source (seed, seed + 1, ...)")->capture_default_str();
  rollout_cmd->add_option("--frames", rollout.frames, "Video frames per rollout")->capture_default_str();
  rollout_cmd->add_option("--batch", rollout.batch, "Rollouts run at once (one batched session)")->capture_default_str();
  rollout_cmd->add_option("--block-frames", rollout.block_frames, "Latent frames per block (0: the world's)")->capture_default_str();
  rollout_cmd->add_option("--denoise-steps", rollout.denoise_steps, "Sampler steps per block (0: the world's)")->capture_default_str();
  rollout_cmd->add_option("--branch", rollout.branch, "Fork K futures from --from (seeds seed .. seed + K - 1)");
  rollout_cmd->add_option("--from", rollout.from, "With --branch: the saved state (.wlsnap) to fork from");
  rollout_cmd->add_option("--device", rollout.device, "cpu or cuda")->capture_default_str();
  auto* rollout_video = rollout_cmd->add_flag("--video", rollout.video_required,
                                             "Require video.mp4 (an error in a build without recording)");
  rollout_cmd->add_flag("--no-video", rollout_no_video, "Skip video.mp4")->excludes(rollout_video);
  rollout_cmd->add_flag("--no-progress", rollout_no_progress, "No progress bar on stderr");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  try {
    if (!log_level.empty()) wl::set_log_level(*wl::parse_log_level(log_level));
    if (show_version) {
      std::cout << "worldloop " << wl::kVersion << " (commit " << wl::kGitCommit << ", " << wl::kBuildFlavour << ")\n";
      return 0;
    }
    if (*info_cmd) {
      wl::print_info(info, std::cout);
      return 0;
    }
    if (*play_cmd && ground_truth) {
      truth.world = play.world;
      wl::run_ground_truth(truth, std::cout);
      return 0;
    }
    if (*play_cmd) {
      model_play.model_dir = model_play.random_tiny ? "" : (play.model_dir.empty() ? play.world : play.model_dir);
      model_play.world = play.world;
      model_play.policy = truth.policy;
      model_play.frames = truth.frames;
      model_play.seed = truth.seed;
      model_play.headless = truth.headless;
      model_play.bindings = truth.bindings;
      model_play.record = truth.record;
      wl::run_model_play(model_play, std::cout);
      return 0;
    }
    if (*replay_cmd) {
      wl::run_replay(replay, std::cout);
      return 0;
    }
    if (*rollout_cmd) {
      rollout.progress = !rollout_no_progress;
      rollout.video = !rollout_no_video;
      // `--world W` alone names a shipped world, as in `play`.
      if (!rollout.random_tiny && rollout.model_dir.empty() && rollout_world->count() > 0) rollout.model_dir = rollout.world;
      wl::run_rollout(rollout, std::cout);
      return 0;
    }
    if (*dataset_cmd) {
      dataset.video = !no_video;
      dataset.progress = !no_progress;
      wl::DatasetSummary s = wl::run_dataset(dataset);
      std::cout << "dataset " << dataset.out << ": " << s.episodes_made << " episode" << (s.episodes_made == 1 ? "" : "s")
                << " made, " << s.episodes_kept << " already there, " << s.frames_made << " frames in " << s.seconds
                << " s\n";
      return 0;
    }
    if (*view_cmd) {
      view.overlay = !view_no_overlay;
      wl::run_view(view);
      return 0;
    }
    if (*decode_cmd) {
      wl::run_decode(decode);
      return 0;
    }
    if (*forward_cmd) {
      wl::run_forward(forward);
      return 0;
    }
    if (*bench_cmd) {
      wl::run_bench(bench, std::cout);
      return 0;
    }
    if (*eval_cmd) {
      if (eval.model.empty()) eval.model = eval_world;
      wl::run_eval(eval, std::cout);
      return 0;
    }
    if (*synth_cmd) {
      wl::SynthSummary s;
      if (!synth_merge.empty()) {
        s = wl::merge_synth(synth_merge, synth_shard_dirs);
        std::cout << "synth --merge " << synth_merge << ": " << s.episodes_kept << " episodes joined in " << s.seconds << " s\n";
        return 0;
      }
      WL_CHECK(synth_shard_dirs.empty(), "synth: unexpected argument '", synth_shard_dirs.front(), "'; hint: folders after the ",
               "options are only for --merge OUT SHARD_DIRS...");
      std::tie(synth.shard_index, synth.shard_count) = wl::parse_shard(synth_shard);
      synth.progress = !synth_no_progress;
      s = wl::run_synth(synth);
      std::cout << "synth " << synth.out << ": " << s.episodes_made << " episode" << (s.episodes_made == 1 ? "" : "s") << " made, "
                << s.episodes_kept << " already there, " << s.frames_made << " frames in " << s.seconds << " s"
                << (s.note.empty() ? "" : "; ") << s.note << "\n";
      return 0;
    }
    if (*train_cmd) {
      wl::run_train(train, std::cout);
      return 0;
    }
    if (*export_cmd) {
      if (!random_sana_dir.empty()) {
        if (export_dtype->count() > 0) random_sana.dtype = export_world.dtype;
        wl::write_random_sana_video_world(random_sana_dir, random_sana, std::cout);
        return 0;
      }
      WL_CHECK(!export_world.run.empty() && !export_world.out.empty(),
               "export needs --run RUN_DIR and --out WORLD_DIR (or --random-sana-video DIR)");
      wl::export_world(export_world, std::cout);
      return 0;
    }
    std::cout << app.help();
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "worldloop: error: %s\n", e.what());
    return 1;
  }
}
