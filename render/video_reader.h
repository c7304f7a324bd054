// VideoReader: decodes a video file (libavformat + libavcodec) into RGB8 frames, for the tests of
// render/recorder.h and for replay, which compares a regenerated session with its recording.
//
//   VideoReader reader("session/video.mp4");
//   VideoFrame frame;
//   while (reader.read(frame)) use(frame.rgb, reader.info().width, reader.info().height);
//
// Reads any file FFmpeg can demux; the first video stream is decoded. A file whose writer was killed
// (render/recorder.h writes fragmented MP4) reads up to its last complete frame and then ends
// cleanly, with truncated() set when it stopped inside a partly written fragment. YUV -> RGB uses the colour matrix and range the stream declares (BT.601 when it declares
// none). Not thread-safe; one reader per thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace wl {

struct VideoInfo {
  int width = 0;                  // decoded frame size in pixels
  int height = 0;
  int fps_num = 0;                // the stream's frame rate as a fraction (0/0 when it declares none)
  int fps_den = 0;
  std::string codec;              // decoder name, e.g. "h264"
  int64_t frame_count_hint = 0;   // frames the container declares; 0 when it does not say (fragmented
                                  //   MP4 never does): decode to count
};

struct VideoFrame {
  int64_t pts = 0;                // presentation time in stream units (best effort)
  double time_s = 0.0;            // the same in seconds from the start of the stream
  std::vector<uint8_t> rgb;       // [height, width, 3] RGB8, tightly packed
};

class VideoReader {
 public:
  // Opens the file and its first video stream's decoder. Throws wl::Error naming the file.
  explicit VideoReader(const std::string& path);
  ~VideoReader();
  VideoReader(const VideoReader&) = delete;
  VideoReader& operator=(const VideoReader&) = delete;

  const VideoInfo& info() const;
  // Decodes the next frame in presentation order into `frame`; false at the end of the stream.
  // Throws wl::Error naming the file and the frame number when the data cannot be decoded.
  bool read(VideoFrame& frame);
  int64_t frames_read() const;    // frames read() has returned so far
  // True once reading stopped at a frame the file holds only part of (its writer was killed or the
  // disk filled mid-write): the frames before it were returned, nothing after it is trusted.
  bool truncated() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Decodes the whole file: info plus every frame (frames.size() is the frame count).
struct VideoContents {
  VideoInfo info;
  std::vector<VideoFrame> frames;
  bool truncated = false;         // see VideoReader::truncated()
};
VideoContents read_video(const std::string& path);

}  // namespace wl
