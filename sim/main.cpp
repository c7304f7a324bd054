// worldloop: the command line. Each subcommand parses its flags into an options struct and calls
// one function; every wl::Error (and any other exception) ends here as one line on stderr and a
// non-zero exit code. Subcommands appear only once they work.
//   worldloop --version
//   worldloop info FILE.safetensors [--prefix P]
//   worldloop play (--model DIR | --random-tiny [--world W]) [--headless --frames N --out FILE.mp4] [--policy P]
//   worldloop play --ground-truth [--world NAME] [--policy P] [--frames N] [--record FILE.mp4] [--headless]
//   worldloop dataset --world W --episodes N --frames F [--policy P] --out DIR [--seed S] [--size 128]
//   worldloop view IMAGE_OR_VIDEO [--headless --frames N --out PNG]
//   worldloop bench [--section worlds,dit] [--repeats N] [--json FILE]
//   worldloop forward --model DIR --inputs IN.safetensors --out OUT.safetensors
//   worldloop decode --vae DIR --latents IN.safetensors --out OUT.safetensors|OUT.mp4
//   worldloop train --stage ae|dit --world W --out RUN_DIR [--ae RUN_DIR] [--steps N] [--batch B] [--lr X] [--resume]
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <iostream>

#include "kernels/core/error.h"
#include "kernels/core/log.h"
#include "model/safetensors.h"
#include "sim/bench.h"
#include "sim/decode.h"
#include "sim/dataset.h"
#include "sim/forward.h"
#include "sim/ground_truth.h"
#include "sim/info.h"
#include "sim/play.h"
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
  play_cmd->add_option("--record", truth.record, "Record the world's frames to this MP4 (actions beside it as jsonl)")
      ->needs(truth_flag);
  play_cmd->add_option("--bindings", truth.bindings, "A bindings file overriding the default keys");
  play_cmd->add_flag("--headless", truth.headless, "No window: a scripted policy plays");
  play_cmd->add_option("--out", model_play.out, "World model: write the frames shown to this MP4")->excludes(truth_flag);
  play_cmd->add_option("--device", model_play.device, "World model: cpu or cuda")->excludes(truth_flag)->capture_default_str();
  play_cmd->add_option("--block-frames", model_play.block_frames, "World model: latent frames per block (0: the world's)")
      ->excludes(truth_flag);
  play_cmd->add_option("--denoise-steps", model_play.denoise_steps, "World model: sampler steps per block")
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
  bench_cmd->add_option("--section", bench.sections, "Run only these sections: worlds, present, loop, dit, decoders")
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
  bench_cmd->add_option("--loop-world", bench.loop_world, "World of the loop section")->capture_default_str();
  bench_cmd->add_option("--loop-frames", bench.loop_frames, "Displayed frames per run of the loop section")
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
  CLI::App* train_cmd = app.add_subcommand("train", "Train a world: the autoencoder (stage ae), then the DiT (stage dit)");
  train_cmd->add_option("--stage", train.stage, "ae or dit")->required();
  train_cmd->add_option("--world", train.world, "voxel, driving or robot")->capture_default_str();
  train_cmd->add_option("--out", train.out, "The run directory (new, or the run to --resume)")->required();
  train_cmd->add_option("--ae", train.ae, "Stage dit: the autoencoder run directory or its .safetensors");
  train_cmd->add_option("--data", train.data, "A `worldloop dataset` folder instead of simulating on the fly");
  train_cmd->add_option("--steps", train.steps, "Optimizer steps in total")->capture_default_str();
  train_cmd->add_option("--batch", train.batch, "Frames (ae) or clips (dit) per step; 0: ae 16, dit 8")->capture_default_str();
  train_cmd->add_option("--lr", train.lr, "Peak learning rate; 0: ae 1e-3, dit 3e-4")->capture_default_str();
  train_cmd->add_option("--warmup", train.warmup, "Steps of linear learning-rate warmup")->capture_default_str();
  train_cmd->add_option("--device", train.device, "cpu or cuda")->capture_default_str();
  train_cmd->add_flag("--resume", train.resume, "Continue the run in --out from its latest checkpoint");
  train_cmd->add_option("--checkpoint-every", train.checkpoint_every, "Steps between checkpoints")->capture_default_str();
  train_cmd->add_option("--log-every", train.log_every, "Steps between progress lines")->capture_default_str();
  train_cmd->add_option("--seed", train.seed, "Data, noise and initialisation seed")->capture_default_str();
  train_cmd->add_option("--size", train.size, "Frame width and height in pixels (latents are 8x smaller)")->capture_default_str();
  train_cmd->add_option("--policy", train.policy, "Scripted policy that plays the simulator (default: the world's first)");
  train_cmd->add_option("--latent-channels", train.ae_config.latent_channels, "Stage ae: latent channels C")
      ->capture_default_str();
  train_cmd->add_option("--model-size", train.model_size, "Stage dit: tiny or small")->capture_default_str();
  train_cmd->add_option("--clip-frames", train.clip_frames, "Stage dit: latent frames per clip")->capture_default_str();
  train_cmd->add_option("--block-frames", train.block_frames, "Stage dit: latent frames per block")->capture_default_str();

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
      wl::run_model_play(model_play, std::cout);
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
    if (*train_cmd) {
      wl::run_train(train, std::cout);
      return 0;
    }
    std::cout << app.help();
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "worldloop: error: %s\n", e.what());
    return 1;
  }
}
