// Recorder: writes the engine's frames to an H.264 MP4 on its own thread, so that recording never
// stalls the frame loop ("record" is its last stage).
//
//   Recorder recorder({.path = "session/video.mp4", .width = 640, .height = 360});
//   for (int64_t i = 0; running; ++i) {
//     ... decoder writes target (RGBA8 host pixels) ...
//     recorder.push(target, i);          // copies the pixels; never blocks; false: counted as dropped
//   }
//   recorder.stop();                     // encodes what is queued, finalises the file; throws on I/O errors
//
// The file is fragmented MP4 (an empty moov, then one moof + mdat per fragment, each opened by a
// keyframe), so a process killed at any moment leaves a playable file holding every frame up to the
// last completed fragment: at most `fragment_seconds` (plus the encoder's few frames of lookahead)
// are lost. Frame i is stamped at i / fps seconds, so frames dropped because the encoder fell behind
// leave gaps in time rather than a shorter, faster video, and stats() counts them.
// Encoders are tried in the order of info.codecs: a missing or failing one (NVENC without a driver)
// is skipped, and stats().encoder says which opened. Colour: RGBA -> YUV 4:2:0 (libswscale), BT.709,
// limited range; the alpha channel is ignored. Used by the frame loop's "record" stage, `--record`,
// and `worldloop rollout` / `synth`; render/video_reader.h reads the files back.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sim/frame_types.h"

namespace wl {

// Frames per second as a fraction (30000/1001 for NTSC rates); both parts positive.
struct FrameRate {
  int num = 30;
  int den = 1;
};

struct RecorderInfo {
  std::string path;                    // the .mp4 to write; created or truncated; its directory must exist
  int width = 0;                       // frame size in pixels; both even (YUV 4:2:0 halves them),
  int height = 0;                      //   anything else is refused with wl::Error
  FrameRate fps;                       // frame i of push() is shown at i / fps seconds
  std::vector<std::string> codecs = {"h264_nvenc", "libx264"};   // encoders to try, in order
  int crf = 20;                        // quality, 0-51, lower is better (libx264 crf, NVENC cq)
  std::string preset = "veryfast";     // libx264 speed preset; mapped to NVENC's p1-p7
  int queue_capacity = 8;              // frames waiting for the encoder; a push beyond it is dropped
  bool block_when_full = false;        // offline writers (dataset export, decode): push() waits for
                                       // the encoder instead of dropping; never set in the frame loop
  double fragment_seconds = 1.0;       // keyframe interval = fragment length (what a kill may lose)
};

// Counters since the recorder was made. While recording, frames_pushed = frames_written +
// frames_dropped + the frames queued, in the encoder or in the open fragment; after stop() (even a
// failed one) the last term is 0.
struct RecorderStats {
  int64_t frames_pushed = 0;           // push() calls
  int64_t frames_written = 0;          // frames in the file's completed fragments (all of them after stop())
  int64_t frames_dropped = 0;          // frames lost: queue full, pushed after stop, or after a failure
  int queue_depth = 0;                 // frames waiting for the encoder now
  int64_t bytes_written = 0;           // bytes in the file so far (it grows a fragment at a time)
  std::string encoder;                 // the encoder that opened: "h264_nvenc" or "libx264"
  std::string encoder_note;            // why earlier preferences were skipped ("" if the first opened)
  std::string error;                   // the encoder thread's failure ("" while healthy)
};

class Recorder {
 public:
  // Opens the first encoder of info.codecs that works, creates the file, writes its header and
  // starts the encoder thread. Throws wl::Error naming the file and the encoders tried.
  explicit Recorder(const RecorderInfo& info);
  ~Recorder();                         // stop(), logging instead of throwing
  Recorder(const Recorder&) = delete;
  Recorder& operator=(const Recorder&) = delete;

  // Queues a copy of `frame` (RGBA8 host memory of info.width x info.height) as frame `frame_index`
  // (strictly increasing; gaps are fine). Never blocks on the encoder: returns false, and counts the
  // frame as dropped, when the queue is full, after stop(), or after the encoder thread failed.
  // A device frame, a wrong size or a non-increasing index is a caller bug and throws wl::Error.
  bool push(const FrameTarget& frame, int64_t frame_index);
  // Encodes the queued frames, writes the last fragment and closes the file. Idempotent. Throws
  // wl::Error if the encoder thread failed (disk full, ...): the file then ends at its last fragment.
  void stop();
  RecorderStats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace wl
