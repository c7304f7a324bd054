// Recorder and VideoReader: frames written to fragmented MP4 read back with the right count, size,
// timing and pixels (within H.264's loss); a recorder killed with SIGKILL leaves a file that plays up
// to its last complete fragment; a full queue drops frames and counts every one; bad set-ups (odd
// size, unwritable path, no usable encoder) fail with one clear wl::Error.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "kernels/core/error.h"
#include "render/recorder.h"
#include "render/video_reader.h"

namespace wl {
namespace {

// [SECTION] Helpers

std::string temp_path(const std::string& name) {
  return str(testing::TempDir(), "wl_recorder_", getpid(), "_", name, ".mp4");
}

bool file_exists(const std::string& path) { return std::ifstream(path).good(); }

int64_t file_size(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  return in ? static_cast<int64_t>(in.tellg()) : -1;
}

// Smooth gradients (H.264 keeps them well) plus a white bar that moves 4 pixels a frame, so
// neighbouring frames differ clearly and a frame shown at the wrong time is caught.
void expected_pixel(int x, int y, int index, int width, int height, uint8_t rgb[3]) {
  bool bar = (x - (index * 4) % width + width) % width < 4;
  rgb[0] = bar ? 255 : static_cast<uint8_t>(x * 255 / (width - 1));
  rgb[1] = bar ? 255 : static_cast<uint8_t>(y * 255 / (height - 1));
  rgb[2] = bar ? 255 : static_cast<uint8_t>((index * 4) % 200);
}

// An RGBA frame holding the pattern of `index`, with a row pitch wider than the row to check
// that the recorder honours it.
struct PatternFrame {
  std::vector<uint8_t> pixels;
  FrameTarget target;
  PatternFrame(int width, int height) : pixels(static_cast<size_t>(width * 4 + 16) * height) {
    target = FrameTarget{pixels.data(), width, height, width * 4 + 16, false};
  }
  const FrameTarget& fill(int index) {
    for (int y = 0; y < target.height; ++y)
      for (int x = 0; x < target.width; ++x) {
        uint8_t* p = target.pixels + y * target.row_pitch + 4 * x;
        expected_pixel(x, y, index, target.width, target.height, p);
        p[3] = 255;
      }
    return target;
  }
};

struct PixelError {
  double mean = 0;   // mean absolute difference per channel
  int max = 0;
  int first_x = -1, first_y = -1;   // first pixel off by more than 64, for the failure message
};

PixelError pattern_error(const VideoFrame& frame, int index, int width, int height) {
  PixelError error;
  int64_t sum = 0;
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) {
      uint8_t expected[3];
      expected_pixel(x, y, index, width, height, expected);
      for (int c = 0; c < 3; ++c) {
        int d = std::abs(int(frame.rgb[(static_cast<size_t>(y) * width + x) * 3 + c]) - int(expected[c]));
        sum += d;
        error.max = std::max(error.max, d);
        if (d > 64 && error.first_x < 0) error.first_x = x, error.first_y = y;
      }
    }
  error.mean = static_cast<double>(sum) / (3.0 * width * height);
  return error;
}

int frame_index_of(const VideoFrame& frame, double fps) { return static_cast<int>(std::lround(frame.time_s * fps)); }

// The file's top-level MP4 boxes: how many fragments (moof followed by its mdat) are complete,
// and how many samples (frames) they hold, read from each trun's sample_count. This is what the
// file promises independently of FFmpeg's demuxer.
struct FragmentScan {
  int complete_fragments = 0;
  int64_t samples = 0;
};

uint32_t be32(const uint8_t* p) { return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3]; }

int64_t trun_samples(const std::vector<uint8_t>& bytes, size_t begin, size_t end) {
  int64_t samples = 0;
  for (size_t pos = begin; pos + 8 <= end;) {
    uint32_t size = be32(&bytes[pos]);
    std::string type(reinterpret_cast<const char*>(&bytes[pos + 4]), 4);
    if (size < 8 || pos + size > end) break;
    if (type == "traf") samples += trun_samples(bytes, pos + 8, pos + size);
    if (type == "trun" && size >= 16) samples += be32(&bytes[pos + 12]);   // after version/flags
    pos += size;
  }
  return samples;
}

FragmentScan scan_fragments(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  FragmentScan scan;
  int64_t pending = -1;   // samples of a complete moof whose mdat has not been seen complete
  for (size_t pos = 0; pos + 8 <= bytes.size();) {
    uint64_t size = be32(&bytes[pos]);
    std::string type(reinterpret_cast<const char*>(&bytes[pos + 4]), 4);
    if (size == 1 && pos + 16 <= bytes.size()) size = uint64_t(be32(&bytes[pos + 8])) << 32 | be32(&bytes[pos + 12]);
    if (size < 8 || pos + size > bytes.size()) break;   // truncated: the writer was killed inside it
    if (type == "moof") pending = trun_samples(bytes, pos + 8, pos + size);
    if (type == "mdat" && pending >= 0) {
      scan.complete_fragments += 1;
      scan.samples += pending;
      pending = -1;
    }
    pos += size;
  }
  return scan;
}

// [SECTION] Round trip

TEST(Recorder, SixtyFramesReadBackWithSizeTimingAndPixels) {
  const std::string path = temp_path("sixty");
  const int width = 64, height = 48;
  RecorderStats stats;
  {
    Recorder recorder({.path = path, .width = width, .height = height, .fps = {30, 1}, .queue_capacity = 64});
    PatternFrame frame(width, height);
    for (int i = 0; i < 60; ++i) EXPECT_TRUE(recorder.push(frame.fill(i), i)) << "frame " << i;
    recorder.stop();
    stats = recorder.stats();
    EXPECT_FALSE(recorder.push(frame.fill(60), 60)) << "a push after stop() is dropped";
  }
  EXPECT_EQ(stats.frames_written, 60);
  EXPECT_EQ(stats.frames_dropped, 0);
  EXPECT_EQ(stats.queue_depth, 0);
  EXPECT_TRUE(stats.error.empty()) << stats.error;
  EXPECT_TRUE(stats.encoder == "libx264" || stats.encoder == "h264_nvenc") << stats.encoder;
  EXPECT_EQ(stats.bytes_written, file_size(path));
  EXPECT_GE(scan_fragments(path).complete_fragments, 2) << "60 frames at 30 fps, 1 s fragments";

  VideoContents video = read_video(path);
  EXPECT_EQ(video.info.width, width);
  EXPECT_EQ(video.info.height, height);
  EXPECT_EQ(video.info.codec, "h264");
  EXPECT_EQ(video.info.fps_num * 1, video.info.fps_den * 30) << video.info.fps_num << "/" << video.info.fps_den;
  ASSERT_EQ(video.frames.size(), 60u);
  double worst_mean = 0;
  for (int i = 0; i < 60; ++i) {
    const VideoFrame& frame = video.frames[i];
    ASSERT_EQ(frame.rgb.size(), size_t(width) * height * 3);
    EXPECT_EQ(frame_index_of(frame, 30.0), i) << "time " << frame.time_s;
    PixelError error = pattern_error(frame, i, width, height);
    worst_mean = std::max(worst_mean, error.mean);
    // crf 20 on a 64x48 frame with a sharp bar: ~3.3 levels per channel at worst here, max ~50.
    EXPECT_LT(error.mean, 4.5) << "frame " << i << " max " << error.max;
    EXPECT_LT(error.max, 96) << "frame " << i << " first pixel off by > 64 at (" << error.first_x << ", "
                             << error.first_y << ")";
    // Closer to its own pattern than to its neighbours': the frames are in order and not repeated.
    if (i + 1 < 60) {
      EXPECT_GT(pattern_error(frame, i + 1, width, height).mean, 2 * error.mean + 1) << "frame " << i;
    }
  }
  std::printf("60 frames, %lld bytes, worst mean abs error %.2f per channel\n",
              static_cast<long long>(stats.bytes_written), worst_mean);
  std::remove(path.c_str());
}

TEST(Recorder, VideoReaderStreamsFramesOneByOne) {
  const std::string path = temp_path("stream");
  {
    Recorder recorder({.path = path, .width = 32, .height = 16, .fps = {25, 1}, .queue_capacity = 16});
    PatternFrame frame(32, 16);
    for (int i = 0; i < 10; ++i) recorder.push(frame.fill(i), i);
  }   // the destructor stops and finalises
  VideoReader reader(path);
  VideoFrame frame;
  int count = 0;
  while (reader.read(frame)) {
    EXPECT_EQ(frame_index_of(frame, 25.0), count);
    ++count;
  }
  EXPECT_EQ(count, 10);
  EXPECT_EQ(reader.frames_read(), 10);
  EXPECT_FALSE(reader.read(frame)) << "stays at the end";
  std::remove(path.c_str());
}

// A write cut off inside the last fragment (the process died mid-write, or the disk filled): the
// reader ends cleanly after the previous, complete fragment.
TEST(Recorder, FileCutInsideItsLastFragmentReadsUpToThePreviousOne) {
  const std::string path = temp_path("whole"), cut_path = temp_path("cut");
  const int width = 64, height = 48;
  {
    Recorder recorder({.path = path, .width = width, .height = height, .fps = {30, 1}, .queue_capacity = 64,
                       .fragment_seconds = 0.5});   // 15 frames a fragment, 4 fragments
    PatternFrame frame(width, height);
    for (int i = 0; i < 60; ++i) recorder.push(frame.fill(i), i);
  }
  std::ifstream in(path, std::ios::binary);
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t last_mdat = 0, last_mdat_size = 0;
  for (size_t pos = 0; pos + 8 <= bytes.size();) {
    uint32_t size = be32(&bytes[pos]);
    if (size < 8) break;
    if (std::string(reinterpret_cast<const char*>(&bytes[pos + 4]), 4) == "mdat") last_mdat = pos, last_mdat_size = size;
    pos += size;
  }
  ASSERT_GT(last_mdat_size, 16u);
  std::ofstream(cut_path, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(last_mdat + last_mdat_size / 2));

  EXPECT_EQ(scan_fragments(path).complete_fragments, 4);
  FragmentScan cut = scan_fragments(cut_path);
  EXPECT_EQ(cut.complete_fragments, 3);
  EXPECT_EQ(cut.samples, 45);
  VideoContents video;
  ASSERT_NO_THROW(video = read_video(cut_path));
  EXPECT_TRUE(video.truncated);
  EXPECT_GE(video.frames.size(), 45u);
  EXPECT_LT(video.frames.size(), 60u);
  for (size_t i = 0; i < video.frames.size() && i < 45; ++i) {
    EXPECT_EQ(frame_index_of(video.frames[i], 30.0), static_cast<int>(i));
    EXPECT_LT(pattern_error(video.frames[i], static_cast<int>(i), width, height).mean, 4.5) << "frame " << i;
  }
  std::printf("cut inside fragment 4: %zu frames decoded\n", video.frames.size());
  EXPECT_FALSE(read_video(path).truncated);
  std::remove(path.c_str());
  std::remove(cut_path.c_str());
}

// [SECTION] Kill -9

// A child process records frames until the parent has seen two complete fragments land in the
// file, then is killed with SIGKILL (no destructor, no trailer). The file must decode without
// error and hold at least every frame of the fragments that were complete.
TEST(Recorder, KilledRecorderLeavesPlayableFileUpToLastFragment) {
  const std::string path = temp_path("killed");
  const int width = 64, height = 48, fps = 30;
  std::remove(path.c_str());
  pid_t child = fork();
  ASSERT_GE(child, 0) << "fork failed";
  if (child == 0) {
    try {
      Recorder recorder({.path = path, .width = width, .height = height, .fps = {fps, 1}, .queue_capacity = 8,
                         .fragment_seconds = 0.2});   // 6 frames a fragment
      PatternFrame frame(width, height);
      for (int i = 0;; ++i) {
        recorder.push(frame.fill(i), i);
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
    } catch (const std::exception& e) {
      std::fprintf(stderr, "child: %s\n", e.what());
    }
    _exit(1);
  }

  FragmentScan before;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    before = scan_fragments(path);
    if (before.complete_fragments >= 2) break;
    int status = 0;
    if (waitpid(child, &status, WNOHANG) == child) FAIL() << "the recording child exited early";
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_EQ(kill(child, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "status " << status;
  ASSERT_GE(before.complete_fragments, 2) << "no two fragments within 30 s";

  FragmentScan after = scan_fragments(path);
  EXPECT_GE(after.samples, before.samples);
  VideoContents video;
  ASSERT_NO_THROW(video = read_video(path));
  EXPECT_EQ(video.info.width, width);
  EXPECT_EQ(video.info.height, height);
  EXPECT_GE(static_cast<int64_t>(video.frames.size()), after.samples)
      << "frames of the " << after.complete_fragments << " complete fragments";
  EXPECT_GE(video.frames.size(), 12u);
  int previous = -1;
  for (const VideoFrame& frame : video.frames) {
    int index = frame_index_of(frame, fps);
    EXPECT_GT(index, previous) << "timestamps increase";
    previous = index;
    EXPECT_LT(pattern_error(frame, index, width, height).mean, 4.5) << "frame " << index;
  }
  std::printf("killed after %d fragments (%lld frames); file holds %d fragments, %lld frames; decoded %zu%s\n",
              before.complete_fragments, static_cast<long long>(before.samples), after.complete_fragments,
              static_cast<long long>(after.samples), video.frames.size(), video.truncated ? " (truncated)" : "");
  std::remove(path.c_str());
}

// The disk fills mid-recording (a file size limit in a child process): the encoder thread fails,
// later pushes are dropped, stop() throws one wl::Error naming the file, every frame is still
// accounted for, and the file plays up to its last complete fragment.
TEST(Recorder, DiskFullMidRecordingIsCountedAndReported) {
  const std::string path = temp_path("full");
  const int width = 64, height = 48;
  std::remove(path.c_str());
  struct Report {
    int64_t pushed, written, dropped;
    bool threw, names_file;
  };
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0) << "fork failed";
  if (child == 0) {
    close(fds[0]);
    signal(SIGXFSZ, SIG_IGN);   // writes past the limit then fail with EFBIG instead of killing us
    rlimit limit{12000, 12000};
    setrlimit(RLIMIT_FSIZE, &limit);
    Report report{};
    try {
      // block_when_full: no frame is dropped for a full queue before the disk fills (on a loaded
      // machine the encoder falls behind 2000 pushes a second and would leave gaps in time, which
      // the frame-by-frame check below would take for lost frames); once the encoder thread has
      // failed, push() drops at once, so the drops counted are those of the failure alone.
      Recorder recorder({.path = path, .width = width, .height = height, .fps = {30, 1}, .queue_capacity = 8,
                         .block_when_full = true, .fragment_seconds = 0.2});
      PatternFrame frame(width, height);
      for (int i = 0; i < 400; ++i) {
        recorder.push(frame.fill(i), i);
        std::this_thread::sleep_for(std::chrono::microseconds(500));
      }
      try {
        recorder.stop();
      } catch (const Error& e) {
        report.threw = true;
        report.names_file = std::string(e.what()).find(path) != std::string::npos;
        std::fprintf(stderr, "child: stop() threw: %s\n", e.what());
      }
      RecorderStats stats = recorder.stats();
      report.pushed = stats.frames_pushed;
      report.written = stats.frames_written;
      report.dropped = stats.frames_dropped;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "child: %s\n", e.what());
    }
    bool sent = write(fds[1], &report, sizeof(report)) == sizeof(report);
    _exit(sent ? 0 : 1);
  }
  close(fds[1]);
  Report report{};
  ssize_t got = read(fds[0], &report, sizeof(report));
  close(fds[0]);
  int status = 0;
  waitpid(child, &status, 0);
  ASSERT_EQ(got, static_cast<ssize_t>(sizeof(report)));
  EXPECT_TRUE(report.threw) << "stop() reports the failure";
  EXPECT_TRUE(report.names_file);
  EXPECT_EQ(report.pushed, 400);
  EXPECT_EQ(report.written + report.dropped, report.pushed);
  EXPECT_GT(report.dropped, 0);
  EXPECT_GE(report.written, 6) << "at least one fragment fits in 12000 bytes";
  EXPECT_LE(file_size(path), 12000);

  VideoContents video;
  ASSERT_NO_THROW(video = read_video(path));
  EXPECT_GE(static_cast<int64_t>(video.frames.size()), report.written);
  EXPECT_EQ(scan_fragments(path).samples, report.written) << "frames_written = frames in complete fragments";
  for (size_t i = 0; i < video.frames.size(); ++i)
    EXPECT_EQ(frame_index_of(video.frames[i], 30.0), static_cast<int>(i));
  std::printf("disk full: %lld written, %lld dropped; %zu frames decoded\n", static_cast<long long>(report.written),
              static_cast<long long>(report.dropped), video.frames.size());
  std::remove(path.c_str());
}

// [SECTION] Dropped frames

// A queue of one and bursts of pushes far faster than the encoder: frames are dropped, every one is
// counted, and the file holds exactly the frames that were accepted, at their own times.
TEST(Recorder, FullQueueDropsAndCountsFrames) {
  const std::string path = temp_path("dropped");
  const int width = 320, height = 240, pushed = 200;
  std::set<int> accepted;
  RecorderStats stats;
  {
    Recorder recorder({.path = path, .width = width, .height = height, .fps = {30, 1}, .preset = "medium",
                       .queue_capacity = 1});
    PatternFrame frame(width, height);
    frame.fill(0);   // one picture for all: a push costs a memcpy, far less than converting a frame
    for (int i = 0; i < pushed; ++i) {
      if (recorder.push(frame.target, i)) accepted.insert(i);
      // Bursts of 10 pushes find the queue full; the pauses between them let frames through.
      if (i % 10 == 9) std::this_thread::sleep_for(std::chrono::milliseconds(5));
      RecorderStats live = recorder.stats();
      EXPECT_LE(live.queue_depth, 1);
    }
    recorder.stop();
    stats = recorder.stats();
  }
  EXPECT_EQ(stats.frames_pushed, pushed);
  EXPECT_EQ(stats.frames_written + stats.frames_dropped, pushed);
  EXPECT_GT(stats.frames_dropped, 0);
  EXPECT_GT(stats.frames_written, 0);
  EXPECT_EQ(stats.frames_written, static_cast<int64_t>(accepted.size()));

  VideoContents video = read_video(path);
  ASSERT_EQ(static_cast<int64_t>(video.frames.size()), stats.frames_written);
  std::set<int> decoded;
  for (const VideoFrame& frame : video.frames) decoded.insert(frame_index_of(frame, 30.0));
  EXPECT_EQ(decoded, accepted) << "the dropped frames leave gaps in time";
  std::printf("pushed %d: written %lld, dropped %lld\n", pushed, static_cast<long long>(stats.frames_written),
              static_cast<long long>(stats.frames_dropped));
  std::remove(path.c_str());
}

// [SECTION] Set-up errors and encoder choice

std::string error_of(const RecorderInfo& info) {
  try {
    Recorder recorder(info);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Recorder, OddFrameSizeIsRefused) {
  const std::string path = temp_path("odd");
  std::string message = error_of({.path = path, .width = 63, .height = 48});
  EXPECT_NE(message.find(path), std::string::npos) << message;
  EXPECT_NE(message.find("63x48"), std::string::npos) << message;
  EXPECT_NE(message.find("even"), std::string::npos) << message;
  EXPECT_NE(message.find("64x48"), std::string::npos) << "the hint names a size that works: " << message;
  EXPECT_FALSE(file_exists(path));
}

TEST(Recorder, UnwritablePathGivesOneClearError) {
  const std::string path = "/nonexistent-wl-dir/sub/out.mp4";
  std::string message = error_of({.path = path, .width = 64, .height = 48, .codecs = {"libx264"}});
  ASSERT_FALSE(message.empty()) << "no error";
  EXPECT_NE(message.find(path), std::string::npos) << message;
  EXPECT_NE(message.find("libx264"), std::string::npos) << "names the encoder: " << message;
  EXPECT_NE(message.find("No such file or directory"), std::string::npos) << message;
  EXPECT_NE(message.find("hint"), std::string::npos) << message;
}

TEST(Recorder, MissingEncodersAreSkippedInOrder) {
  const std::string path = temp_path("fallback");
  {
    Recorder recorder({.path = path, .width = 64, .height = 48, .codecs = {"no_such_encoder", "libx264"}});
    RecorderStats stats = recorder.stats();
    EXPECT_EQ(stats.encoder, "libx264");
    EXPECT_NE(stats.encoder_note.find("no_such_encoder: not in this FFmpeg build"), std::string::npos)
        << stats.encoder_note;
  }
  // The default list starts with NVENC, which needs an NVIDIA driver: without one it is skipped.
  {
    Recorder recorder({.path = path, .width = 64, .height = 48});
    RecorderStats stats = recorder.stats();
    EXPECT_TRUE(stats.encoder == "h264_nvenc" || stats.encoder == "libx264") << stats.encoder;
    if (stats.encoder == "libx264") {
      EXPECT_NE(stats.encoder_note.find("h264_nvenc"), std::string::npos) << stats.encoder_note;
    }
    std::printf("default encoder here: %s (%s)\n", stats.encoder.c_str(), stats.encoder_note.c_str());
  }
  std::remove(path.c_str());

  std::string message = error_of({.path = path, .width = 64, .height = 48, .codecs = {"no_such_encoder"}});
  EXPECT_NE(message.find(path), std::string::npos) << message;
  EXPECT_NE(message.find("no_such_encoder"), std::string::npos) << message;
  EXPECT_FALSE(file_exists(path)) << "nothing is created when no encoder opens";
}

TEST(Recorder, WrongFramesAreCallerBugs) {
  const std::string path = temp_path("misuse");
  Recorder recorder({.path = path, .width = 64, .height = 48});
  PatternFrame small(32, 48);
  EXPECT_THROW(recorder.push(small.fill(0), 0), Error);
  PatternFrame frame(64, 48);
  EXPECT_TRUE(recorder.push(frame.fill(5), 5));
  EXPECT_THROW(recorder.push(frame.fill(5), 5), Error) << "indices must increase";
  FrameTarget device = frame.target;
  device.on_device = true;
  EXPECT_THROW(recorder.push(device, 6), Error);
  recorder.stop();
  EXPECT_EQ(recorder.stats().frames_written, 1);
  std::remove(path.c_str());
}

TEST(VideoReader, MissingFileNamesIt) {
  try {
    VideoReader reader("/nonexistent-wl-dir/none.mp4");
    FAIL() << "no throw";
  } catch (const Error& e) {
    std::string message = e.what();
    EXPECT_NE(message.find("/nonexistent-wl-dir/none.mp4"), std::string::npos) << message;
    EXPECT_NE(message.find("No such file or directory"), std::string::npos) << message;
  }
}

}  // namespace
}  // namespace wl
