// `worldloop play --model DIR` / `--random-tiny`: a world model played through the frame loop
// (sim/loop.h). Windowed: the person at the keys (or --policy) plays in real time on the steady
// clock with the worker thread, overlay, F5/F9 save-states and the overlay's slots. Headless
// (--headless, or no display): a scripted policy plays N frames on a virtual clock with inline
// generation, so the output is the ideal real-time session and the same on every run; --out writes
// the shown frames as an MP4 at the world's frame rate (nothing else). --record DIR writes the
// session record (video.mp4, actions.jsonl, blocks.jsonl, session.json: sim/session_log.h) that
// `worldloop replay` regenerates; in a window the overlay's record button and F8 start and stop it
// (without --record, each recording goes to a new session_<time> directory). A world that can
// encode frames (our autoencoder's) starts from the simulator's frames, so the first thing shown is
// the world itself rather than what the model makes of nothing (--start noise: an empty state). --random-tiny is a tiny DiT and decoder with
// random weights, labelled so in every line it prints: it shows that the loop runs, not a world.
// A model without actions (world "none": SANA-Video, text-conditioned only) plays the same way;
// its player sends empty actions, so keys change nothing. write_random_sana_video_world() makes
// such a world directory with random weights at any size (docs/play.md, "SANA-Video checkpoints").
// Callers: main.cpp (`play` without --ground-truth, `export --random-sana-video`).
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>

namespace wl {

struct ModelPlayOptions {
  std::string model_dir;         // a world directory (sim/world_model.h); empty with random_tiny
  bool random_tiny = false;      // the random-weight tiny world instead of a directory
  std::string world = "voxel";   // random_tiny: whose actions it takes
  std::string policy;            // a scripted policy plays ("" = the person; headless: sticky_random)
  int frames = 0;                // video frames to show, 0 = until Esc (headless: 200)
  uint64_t seed = 0;             // noise (and policy) seed
  std::string out;               // write the shown frames to this MP4
  std::string record;            // write the session record into this new directory
  bool headless = false;         // no window even when a display is there
  std::string bindings;          // a bindings file overriding the default keys
  std::string device = "cpu";    // "cpu" or "cuda"
  int block_frames = 0;          // latent frames per block, 0 = the world's
  int denoise_steps = 0;         // sampler steps per block (0: the world's)
  std::string snapshot_dir = ".";   // where F5/F9 and the overlay's slots save
  std::string start = "auto";    // "simulator": the state starts from the simulator's frames (FrameLoop::
                                 // reset_from_simulator; worlds with an encoder); "noise": an empty state;
                                 // "auto": simulator when the world can encode frames, else noise
};

// A SANA-Video-shaped world with random weights, to try `play` and `bench` without a checkpoint
// (`worldloop export --random-sana-video DIR`); the directory layout is sim/world_model.h's.
struct RandomSanaVideoSpec {
  std::string preset = "sana-video-2b-480p";   // DiT preset (dit_preset): "sana-video-2b-480p", or "tiny"
                                               // (16 latent channels; small decoders too: a CPU test world)
  std::string decoder = "taehv";               // "taehv" or "wan" (the Wan2.1 VAE decoder)
  int latent_h = 60, latent_w = 104;           // latent grid: 480x832 video; even (the DiT's 2x2 patches)
  std::string dtype = "bf16";                  // weights on disk: "f32", "f16" or "bf16"
  uint64_t seed = 1;                           // every weight and the caption are random by this seed
};

// Writes `dir` (new or empty): config.json (the preset's DiTConfig, no actions; world "none", 16 fps,
// blocks of 3 latent frames, LongSANA's 4-step sampler, "random_weights": true), model.safetensors,
// taehv.safetensors or wan_vae.safetensors, and caption.safetensors (8 random caption tokens).
// The released-size decoders go with the full preset, small ones with "tiny". Prints one line to
// `out`. wl::Error for a bad spec or a directory that is neither new nor empty.
void write_random_sana_video_world(const std::string& dir, const RandomSanaVideoSpec& spec, std::ostream& out);

// Plays, then prints one summary line to `out`. Throws wl::Error for a bad world directory,
// policy, bindings file, unwritable output, or a window asked of a build without one.
void run_model_play(const ModelPlayOptions& options, std::ostream& out);

}  // namespace wl
