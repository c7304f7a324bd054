// Recorder: RGBA8 frames -> bounded queue -> encoder thread (libswscale RGBA -> YUV 4:2:0, H.264
// through libavcodec) -> fragmented MP4 (libavformat). See recorder.h for the contract.
//
// The caller's thread only copies pixels into a free slot under the queue's mutex; the encoder
// thread owns every FFmpeg handle once the constructor has returned. After each packet the output
// is flushed, so every fragment the muxer completes reaches the file at once (the mp4 muxer keeps a
// fragment's samples in memory until the next keyframe closes it).
#include "render/recorder.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/dict.h>
#include <libavutil/frame.h>
#include <libavutil/log.h>
#include <libswscale/swscale.h>
}

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <mutex>
#include <thread>

#include "kernels/core/error.h"
#include "kernels/core/log.h"
#include "render/av_check.h"

namespace wl {
namespace {

// [SECTION] Move-only FFmpeg owners

struct CodecContextFree {
  void operator()(AVCodecContext* c) const { avcodec_free_context(&c); }
};
struct OutputFormatFree {
  void operator()(AVFormatContext* c) const {
    if (c->pb) avio_closep(&c->pb);
    avformat_free_context(c);
  }
};
struct FrameFree {
  void operator()(AVFrame* f) const { av_frame_free(&f); }
};
struct PacketFree {
  void operator()(AVPacket* p) const { av_packet_free(&p); }
};
struct SwsFree {
  void operator()(SwsContext* s) const { sws_freeContext(s); }
};
using CodecContextPtr = std::unique_ptr<AVCodecContext, CodecContextFree>;
using OutputFormatPtr = std::unique_ptr<AVFormatContext, OutputFormatFree>;
using FramePtr = std::unique_ptr<AVFrame, FrameFree>;
using PacketPtr = std::unique_ptr<AVPacket, PacketFree>;
using SwsPtr = std::unique_ptr<SwsContext, SwsFree>;

// Options handed to an FFmpeg open call; whatever it does not consume is freed here.
class Dict {
 public:
  Dict() = default;
  ~Dict() { av_dict_free(&dict_); }
  Dict(const Dict&) = delete;
  Dict& operator=(const Dict&) = delete;
  void set(const char* key, const std::string& value) { WL_AV_CHECK(av_dict_set(&dict_, key, value.c_str(), 0)); }
  AVDictionary** ptr() { return &dict_; }

 private:
  AVDictionary* dict_ = nullptr;
};

// [SECTION] FFmpeg's log

// FFmpeg prints through av_log to stderr (libx264 its statistics at info level). The first recorder
// routes that into the engine's log under the tag "ffmpeg": FFmpeg's warnings and errors as warnings,
// its info as debug, its chatter not at all. While encoders are probed their failures (NVENC without
// a driver) are expected and logged as debug; stats().encoder_note says why each was skipped.
thread_local bool t_probing_encoders = false;
thread_local std::string t_probe_message;   // FFmpeg's last error while probing, for encoder_note

void log_ffmpeg_line(void* context, int level, const char* format, va_list args) {
  if (level > AV_LOG_INFO) return;
  const bool probe_error = t_probing_encoders && level <= AV_LOG_ERROR;
  LogLevel wl_level = level <= AV_LOG_WARNING && !t_probing_encoders ? LogLevel::Warn : LogLevel::Debug;
  if (!log_enabled(wl_level) && !probe_error) return;
  thread_local int print_prefix = 1;
  char line[1024];
  av_log_format_line2(context, level, format, args, line, sizeof(line), &print_prefix);
  std::string text = line;
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  if (text.empty()) return;
  if (log_enabled(wl_level)) log_line(wl_level, "ffmpeg", text);
  // The note drops FFmpeg's "[h264_nvenc @ 0x55d0...] " prefix: the note already names the encoder.
  if (probe_error) {
    size_t prefix_end = text[0] == '[' ? text.find("] ") : std::string::npos;
    t_probe_message = prefix_end == std::string::npos ? text : text.substr(prefix_end + 2);
  }
}

void route_ffmpeg_log() {
  static std::once_flag once;
  std::call_once(once, [] { av_log_set_callback(log_ffmpeg_line); });
}

// [SECTION] Encoder selection

// libx264 presets name speeds; NVENC numbers them p1 (fastest) to p7 (best).
std::string nvenc_preset(const std::string& x264_preset) {
  static const char* const kNames[][2] = {{"ultrafast", "p1"}, {"superfast", "p1"}, {"veryfast", "p2"},
                                          {"faster", "p3"},    {"fast", "p4"},      {"medium", "p5"},
                                          {"slow", "p6"},      {"slower", "p7"},    {"veryslow", "p7"}};
  for (const auto& name : kNames)
    if (x264_preset == name[0]) return name[1];
  return "p4";
}

bool supports_yuv420p(const AVCodec* codec) {
  if (!codec->pix_fmts) return true;   // the codec does not say; avcodec_open2 will
  for (const AVPixelFormat* f = codec->pix_fmts; *f != AV_PIX_FMT_NONE; ++f)
    if (*f == AV_PIX_FMT_YUV420P) return true;
  return false;
}

// Tries info.codecs in order; returns the first that opens. `note` collects why others did not.
CodecContextPtr open_encoder(const RecorderInfo& info, int gop, bool global_header, std::string& note) {
  t_probing_encoders = true;
  struct EndProbe {
    ~EndProbe() { t_probing_encoders = false; }
  } end_probe;
  for (const std::string& name : info.codecs) {
    const AVCodec* codec = avcodec_find_encoder_by_name(name.c_str());
    if (!codec) {
      note += str(note.empty() ? "" : "; ", name, ": not in this FFmpeg build");
      continue;
    }
    if (codec->type != AVMEDIA_TYPE_VIDEO || !supports_yuv420p(codec)) {
      note += str(note.empty() ? "" : "; ", name, ": not a video encoder taking yuv420p");
      continue;
    }
    CodecContextPtr context(avcodec_alloc_context3(codec));
    WL_CHECK(context, "out of memory allocating the ", name, " encoder");
    AVCodecContext* c = context.get();
    c->width = info.width;
    c->height = info.height;
    c->pix_fmt = AV_PIX_FMT_YUV420P;
    c->time_base = AVRational{info.fps.den, info.fps.num};   // one tick per frame index
    c->framerate = AVRational{info.fps.num, info.fps.den};
    c->gop_size = gop;
    c->max_b_frames = 0;            // presentation order = decode order: a kill loses fewer frames
    c->thread_count = 0;            // the encoder picks
    c->color_range = AVCOL_RANGE_MPEG;
    c->colorspace = AVCOL_SPC_BT709;
    c->color_primaries = AVCOL_PRI_BT709;   // sRGB primaries
    c->color_trc = AVCOL_TRC_IEC61966_2_1;  // sRGB transfer
    if (global_header) c->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;

    Dict options;
    if (name.find("nvenc") != std::string::npos) {
      options.set("preset", nvenc_preset(info.preset));
      options.set("rc", "vbr");
      options.set("cq", std::to_string(info.crf));
      options.set("no-scenecut", "1");     // keyframes only at fragment boundaries
    } else if (name == "libx264") {
      options.set("preset", info.preset);
      options.set("crf", std::to_string(info.crf));
      options.set("x264-params", "scenecut=0");
    }
    t_probe_message.clear();
    int code = avcodec_open2(c, codec, options.ptr());
    if (code < 0) {
      note += str(note.empty() ? "" : "; ", name, ": ", av_error_string(code));
      if (!t_probe_message.empty()) note += str(" (", t_probe_message, ")");
      continue;
    }
    return context;
  }
  return nullptr;
}

// Queued frame: which pixel buffer holds it and its frame index (= pts in 1/fps units).
struct Slot {
  int buffer = 0;
  int64_t index = 0;
};

}  // namespace

// [SECTION] State

struct Recorder::Impl {
  RecorderInfo info;
  std::string encoder_name;
  std::string encoder_note;

  // FFmpeg state, declared in creation order and destroyed in reverse: packet, frame, scaler, the
  // encoder, then the muxer (which closes the file). Touched only by the encoder thread once the
  // constructor has returned.
  OutputFormatPtr format;
  CodecContextPtr codec;
  AVStream* stream = nullptr;          // owned by `format`
  SwsPtr sws;
  FramePtr yuv;
  PacketPtr packet;

  // The queue. `buffers` are the slots' RGBA pixels (width * 4 bytes a row); a buffer is either
  // free, queued in `ready`, or being converted by the encoder thread.
  mutable std::mutex mutex;
  std::condition_variable wake;
  std::condition_variable space;   // a buffer came free (or the encoder failed): for block_when_full
  std::vector<std::vector<uint8_t>> buffers;
  std::vector<int> free_buffers;
  std::deque<Slot> ready;
  bool stopping = false;               // stop() asked the thread to finish
  bool failed = false;                 // the thread gave up; pushes are dropped
  int64_t last_index = -1;
  int64_t frames_taken = 0;            // taken from the queue: in the encoder, the muxer or the file
  int64_t frames_muxed = 0;            // handed to the muxer (in its open fragment or in the file)
  RecorderStats stats;

  // Started last and joined first (by stop(), before any member above is destroyed).
  std::thread thread;

  void encode_loop();
  void encode(const AVFrame* frame);   // sends a frame (nullptr: flush) and writes what comes out
};

// [SECTION] Encoder thread

void Recorder::Impl::encode(const AVFrame* frame) {
  WL_AV_CHECK(avcodec_send_frame(codec.get(), frame));
  while (true) {
    int code = avcodec_receive_packet(codec.get(), packet.get());
    if (code == AVERROR(EAGAIN) || code == AVERROR_EOF) return;
    WL_AV_CHECK(code);
    av_packet_rescale_ts(packet.get(), codec->time_base, stream->time_base);
    packet->stream_index = stream->index;
    WL_AV_CHECK(av_interleaved_write_frame(format.get(), packet.get()));   // takes the packet's data
    avio_flush(format->pb);
    WL_AV_CHECK(format->pb->error);
    int64_t bytes = avio_tell(format->pb);
    std::lock_guard<std::mutex> lock(mutex);
    // The muxer holds a fragment's samples until a keyframe closes it; when the file grows, every
    // frame before this packet (which opens the next fragment) is in it.
    frames_muxed += 1;
    if (bytes > stats.bytes_written) stats.frames_written = frames_muxed - 1;
    stats.bytes_written = bytes;
  }
}

void Recorder::Impl::encode_loop() {
  try {
    while (true) {
      Slot slot;
      {
        std::unique_lock<std::mutex> lock(mutex);
        wake.wait(lock, [&] { return stopping || !ready.empty(); });
        if (ready.empty()) break;   // stopping, and everything queued is encoded
        slot = ready.front();
        ready.pop_front();
        frames_taken += 1;
        stats.queue_depth = static_cast<int>(ready.size());
      }
      // The encoder may still hold the previous picture (lookahead): get a buffer of our own.
      WL_AV_CHECK(av_frame_make_writable(yuv.get()));
      const uint8_t* source[1] = {buffers[slot.buffer].data()};
      const int source_pitch[1] = {info.width * 4};
      sws_scale(sws.get(), source, source_pitch, 0, info.height, yuv->data, yuv->linesize);
      {
        std::lock_guard<std::mutex> lock(mutex);
        free_buffers.push_back(slot.buffer);
      }
      space.notify_one();
      yuv->pts = slot.index;
      encode(yuv.get());
    }
    encode(nullptr);
    WL_AV_CHECK(av_write_trailer(format.get()));
    avio_flush(format->pb);
    WL_AV_CHECK(format->pb->error);
    std::lock_guard<std::mutex> lock(mutex);
    stats.frames_written = frames_muxed;
    stats.bytes_written = avio_tell(format->pb);
  } catch (const std::exception& e) {
    // Whatever is queued, inside the encoder or in the muxer's open fragment is lost: count it, so
    // that written + dropped still equals pushed, and let push() drop from now on.
    std::lock_guard<std::mutex> lock(mutex);
    failed = true;
    stats.error = e.what();
    stats.frames_dropped += static_cast<int64_t>(ready.size()) + (frames_taken - stats.frames_written);
    for (const Slot& slot : ready) free_buffers.push_back(slot.buffer);
    ready.clear();
    stats.queue_depth = 0;
    space.notify_all();
  }
}

// [SECTION] Recorder

Recorder::Recorder(const RecorderInfo& info) : impl_(std::make_unique<Impl>()) {
  Impl& s = *impl_;
  s.info = info;
  WL_CHECK(!info.path.empty(), "RecorderInfo.path is empty; hint: name the .mp4 to write");
  WL_CHECK(info.width > 0 && info.height > 0 && info.width % 2 == 0 && info.height % 2 == 0, "cannot record ",
           info.path, ": frame size ", info.width, "x", info.height,
           " is not even in both dimensions, which H.264 in YUV 4:2:0 needs; hint: crop or pad the frame to ",
           info.width + info.width % 2, "x", info.height + info.height % 2);
  WL_CHECK(info.fps.num > 0 && info.fps.den > 0, "cannot record ", info.path, ": frame rate ", info.fps.num, "/",
           info.fps.den, " is not positive");
  WL_CHECK(info.queue_capacity >= 1, "cannot record ", info.path, ": queue_capacity ", info.queue_capacity,
           " must be at least 1");
  WL_CHECK(info.fragment_seconds > 0.0, "cannot record ", info.path, ": fragment_seconds ", info.fragment_seconds,
           " must be positive");
  const int gop = std::max(1, static_cast<int>(std::lround(info.fragment_seconds * info.fps.num / info.fps.den)));

  route_ffmpeg_log();
  // Only a file this recorder created is removed when set-up fails (never /dev/full or a user's file).
  std::error_code exists_error;
  const bool existed = std::filesystem::exists(info.path, exists_error);
  bool created = false;
  std::string hint = "this FFmpeg build may lack the mp4 muxer";
  try {
    AVFormatContext* raw_format = nullptr;
    WL_AV_CHECK(avformat_alloc_output_context2(&raw_format, nullptr, "mp4", info.path.c_str()));
    s.format.reset(raw_format);

    hint = "install an FFmpeg with libx264 (Debian: libavcodec59) or list another H.264 encoder in RecorderInfo.codecs";
    s.codec = open_encoder(info, gop, s.format->oformat->flags & AVFMT_GLOBALHEADER, s.encoder_note);
    WL_CHECK(s.codec, "no encoder of [", [&] {
      std::string names;
      for (const std::string& name : info.codecs) names += str(names.empty() ? "" : ", ", name);
      return names;
    }(), "] opened (", s.encoder_note, ")");
    s.encoder_name = s.codec->codec->name;

    hint = "out of memory";
    s.stream = avformat_new_stream(s.format.get(), nullptr);
    WL_CHECK(s.stream, "avformat_new_stream failed");
    WL_AV_CHECK(avcodec_parameters_from_context(s.stream->codecpar, s.codec.get()));
    s.stream->time_base = s.codec->time_base;
    s.stream->avg_frame_rate = s.codec->framerate;

    hint = "check that the directory exists and is writable";
    WL_AV_CHECK(avio_open(&s.format->pb, info.path.c_str(), AVIO_FLAG_WRITE));
    created = !existed;
    hint = "the disk may be full";
    Dict options;
    options.set("movflags", "frag_keyframe+empty_moov+default_base_moof");
    WL_AV_CHECK(avformat_write_header(s.format.get(), options.ptr()));
    avio_flush(s.format->pb);
    WL_AV_CHECK(s.format->pb->error);
    s.stats.bytes_written = avio_tell(s.format->pb);

    hint = "libswscale cannot convert RGBA to yuv420p at this size";
    s.sws.reset(sws_getContext(info.width, info.height, AV_PIX_FMT_RGBA, info.width, info.height, AV_PIX_FMT_YUV420P,
                               SWS_BILINEAR | SWS_ACCURATE_RND, nullptr, nullptr, nullptr));
    WL_CHECK(s.sws, "sws_getContext(RGBA -> yuv420p) failed");
    const int* bt709 = sws_getCoefficients(SWS_CS_ITU709);
    WL_CHECK(sws_setColorspaceDetails(s.sws.get(), bt709, 1, bt709, 0, 0, 1 << 16, 1 << 16) >= 0,
             "sws_setColorspaceDetails(BT.709) failed");
    s.yuv.reset(av_frame_alloc());
    WL_CHECK(s.yuv, "av_frame_alloc failed");
    s.yuv->format = AV_PIX_FMT_YUV420P;
    s.yuv->width = info.width;
    s.yuv->height = info.height;
    s.yuv->color_range = AVCOL_RANGE_MPEG;
    s.yuv->colorspace = AVCOL_SPC_BT709;
    WL_AV_CHECK(av_frame_get_buffer(s.yuv.get(), 0));
    s.packet.reset(av_packet_alloc());
    WL_CHECK(s.packet, "av_packet_alloc failed");
  } catch (const Error& e) {
    std::string encoder = s.encoder_name.empty() ? std::string("no encoder") : "encoder " + s.encoder_name;
    s.codec.reset();
    s.format.reset();   // closes the file
    if (created) std::remove(info.path.c_str());
    throw Error(str("cannot record to ", info.path, " (", encoder, "): ", e.what(), "; hint: ", hint));
  }

  s.buffers.assign(static_cast<size_t>(info.queue_capacity),
                   std::vector<uint8_t>(static_cast<size_t>(info.width) * info.height * 4));
  for (int i = info.queue_capacity - 1; i >= 0; --i) s.free_buffers.push_back(i);
  s.stats.encoder = s.encoder_name;
  s.stats.encoder_note = s.encoder_note;
  WL_LOG_INFO("record", "recording ", info.width, "x", info.height, " at ", info.fps.num, "/", info.fps.den,
              " fps to ", info.path, " with ", s.encoder_name, s.encoder_note.empty() ? "" : " (skipped: ",
              s.encoder_note, s.encoder_note.empty() ? "" : ")");
  s.thread = std::thread([&s] { s.encode_loop(); });
}

Recorder::~Recorder() {
  try {
    stop();
  } catch (const std::exception& e) {
    WL_LOG_ERROR("record", e.what());
  }
}

bool Recorder::push(const FrameTarget& frame, int64_t frame_index) {
  Impl& s = *impl_;
  WL_CHECK(!frame.on_device, "Recorder::push got a device frame; hint: copy it to host memory first");
  WL_CHECK(frame.pixels && frame.width == s.info.width && frame.height == s.info.height &&
               frame.row_pitch >= int64_t{4} * frame.width,
           "Recorder::push expected a ", s.info.width, "x", s.info.height, " RGBA8 frame, got ", frame.width, "x",
           frame.height, " with row pitch ", frame.row_pitch, frame.pixels ? "" : " and no pixels");
  std::unique_lock<std::mutex> lock(s.mutex);
  if (s.info.block_when_full)
    s.space.wait(lock, [&] { return s.stopping || s.failed || !s.free_buffers.empty(); });
  WL_CHECK(frame_index > s.last_index, "Recorder::push: frame index ", frame_index,
           " is not after the previous one (", s.last_index, "); frame indices must increase");
  s.last_index = frame_index;
  s.stats.frames_pushed += 1;
  if (s.stopping || s.failed || s.free_buffers.empty()) {
    s.stats.frames_dropped += 1;
    return false;
  }
  int buffer = s.free_buffers.back();
  s.free_buffers.pop_back();
  // Copied under the lock: the encoder thread only waits here for one frame's memcpy, and queue
  // order stays frame order even if several threads push.
  const size_t row_bytes = static_cast<size_t>(s.info.width) * 4;
  uint8_t* destination = s.buffers[buffer].data();
  for (int y = 0; y < frame.height; ++y)
    std::memcpy(destination + y * row_bytes, frame.pixels + y * frame.row_pitch, row_bytes);
  s.ready.push_back(Slot{buffer, frame_index});
  s.stats.queue_depth = static_cast<int>(s.ready.size());
  s.wake.notify_one();
  return true;
}

void Recorder::stop() {
  Impl& s = *impl_;
  if (!s.thread.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    s.stopping = true;
  }
  s.wake.notify_all();
  s.thread.join();
  RecorderStats stats = this->stats();
  // The muxer and encoder are done with: close the file now, not at destruction.
  s.packet.reset();
  s.yuv.reset();
  s.sws.reset();
  s.codec.reset();
  s.format.reset();
  WL_CHECK(stats.error.empty(), "recording to ", s.info.path, " with ", s.encoder_name, " failed after ",
           stats.frames_written, " frames: ", stats.error, "; the file ends at its last complete fragment");
  WL_LOG_INFO("record", "wrote ", stats.frames_written, " frames (", stats.frames_dropped, " dropped, ",
              stats.bytes_written, " bytes) to ", s.info.path);
}

RecorderStats Recorder::stats() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return impl_->stats;
}

}  // namespace wl
