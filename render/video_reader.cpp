// VideoReader: libavformat demuxes the first video stream, libavcodec decodes it, libswscale turns
// each picture into packed RGB8. See video_reader.h.
#include "render/video_reader.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/frame.h>
#include <libswscale/swscale.h>
}

#include <cstring>

#include "kernels/core/error.h"
#include "render/av_check.h"

namespace wl {
namespace {

// [SECTION] Move-only FFmpeg owners

struct InputFormatClose {
  void operator()(AVFormatContext* c) const { avformat_close_input(&c); }
};
struct CodecContextFree {
  void operator()(AVCodecContext* c) const { avcodec_free_context(&c); }
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

// libswscale's name for the matrix a stream declares (BT.601 when it declares none, as players do
// for standard-definition video).
int sws_colorspace(AVColorSpace space) {
  switch (space) {
    case AVCOL_SPC_BT709: return SWS_CS_ITU709;
    case AVCOL_SPC_FCC: return SWS_CS_FCC;
    case AVCOL_SPC_SMPTE240M: return SWS_CS_SMPTE240M;
    case AVCOL_SPC_BT2020_NCL:
    case AVCOL_SPC_BT2020_CL: return SWS_CS_BT2020;
    default: return SWS_CS_ITU601;
  }
}

}  // namespace

struct VideoReader::Impl {
  std::string path;
  VideoInfo info;
  int stream_index = -1;
  AVRational time_base{0, 1};
  bool draining = false;               // the demuxer is at its end; the decoder is being flushed
  bool truncated = false;              // the file ended inside a frame
  int64_t frames_read = 0;

  // Declared in creation order, destroyed in reverse: scaler, packet, frame, decoder, demuxer.
  std::unique_ptr<AVFormatContext, InputFormatClose> format;
  std::unique_ptr<AVCodecContext, CodecContextFree> codec;
  std::unique_ptr<AVFrame, FrameFree> frame;
  std::unique_ptr<AVPacket, PacketFree> packet;
  std::unique_ptr<SwsContext, SwsFree> sws;

  bool receive();                      // next decoded picture into `frame`; false at the end
  void convert(VideoFrame& out);
};

VideoReader::VideoReader(const std::string& path) : impl_(std::make_unique<Impl>()) {
  Impl& s = *impl_;
  s.path = path;
  std::string hint = "check the path and that the file is a video";
  try {
    AVFormatContext* raw_format = nullptr;
    WL_AV_CHECK(avformat_open_input(&raw_format, path.c_str(), nullptr, nullptr));
    s.format.reset(raw_format);
    WL_AV_CHECK(avformat_find_stream_info(s.format.get(), nullptr));
    const AVCodec* decoder = nullptr;
    hint = "the file holds no video stream this FFmpeg can decode";
    s.stream_index = av_find_best_stream(s.format.get(), AVMEDIA_TYPE_VIDEO, -1, -1, &decoder, 0);
    WL_AV_CHECK(s.stream_index);
    AVStream* stream = s.format->streams[s.stream_index];
    s.time_base = stream->time_base;

    s.codec.reset(avcodec_alloc_context3(decoder));
    WL_CHECK(s.codec, "avcodec_alloc_context3 failed");
    WL_AV_CHECK(avcodec_parameters_to_context(s.codec.get(), stream->codecpar));
    s.codec->thread_count = 0;
    WL_AV_CHECK(avcodec_open2(s.codec.get(), decoder, nullptr));
    s.frame.reset(av_frame_alloc());
    s.packet.reset(av_packet_alloc());
    WL_CHECK(s.frame && s.packet, "out of memory");

    hint = "the stream declares no frame size";
    WL_CHECK(s.codec->width > 0 && s.codec->height > 0, "frame size ", s.codec->width, "x", s.codec->height);
    s.info.width = s.codec->width;
    s.info.height = s.codec->height;
    AVRational rate = stream->avg_frame_rate.num > 0 ? stream->avg_frame_rate : stream->r_frame_rate;
    s.info.fps_num = rate.num;
    s.info.fps_den = rate.num > 0 ? rate.den : 0;
    s.info.codec = decoder->name;
    s.info.frame_count_hint = stream->nb_frames;
  } catch (const Error& e) {
    throw Error(str("cannot read video ", path, ": ", e.what(), "; hint: ", hint));
  }
}

VideoReader::~VideoReader() = default;

const VideoInfo& VideoReader::info() const { return impl_->info; }
int64_t VideoReader::frames_read() const { return impl_->frames_read; }
bool VideoReader::truncated() const { return impl_->truncated; }

bool VideoReader::Impl::receive() {
  while (true) {
    int code = avcodec_receive_frame(codec.get(), frame.get());
    if (code == AVERROR_EOF) return false;
    if (code != AVERROR(EAGAIN)) {
      WL_AV_CHECK(code);
      return true;
    }
    if (draining) return false;   // cannot happen after a flush, but never spin
    // The decoder wants input: feed it the next packet of our stream, or the flush at the end.
    while (true) {
      code = av_read_frame(format.get(), packet.get());
      if (code == AVERROR_EOF) {
        draining = true;
        WL_AV_CHECK(avcodec_send_packet(codec.get(), nullptr));
        break;
      }
      WL_AV_CHECK(code);
      if (packet->stream_index != stream_index) {
        av_packet_unref(packet.get());
        continue;
      }
      if (packet->flags & AV_PKT_FLAG_CORRUPT) {
        // The demuxer read less than the container promised: the writer stopped mid-fragment.
        // What follows cannot be trusted, so the stream ends at the last complete frame.
        av_packet_unref(packet.get());
        truncated = true;
        draining = true;
        WL_AV_CHECK(avcodec_send_packet(codec.get(), nullptr));
        break;
      }
      code = avcodec_send_packet(codec.get(), packet.get());
      av_packet_unref(packet.get());
      WL_AV_CHECK(code);
      break;
    }
  }
}

void VideoReader::Impl::convert(VideoFrame& out) {
  const int width = frame->width, height = frame->height;
  WL_CHECK(width == info.width && height == info.height, "frame ", frames_read, " is ", width, "x", height,
           ", the stream's first frames were ", info.width, "x", info.height);
  // Full-chroma interpolation: libswscale's default packed-RGB output path replicates chroma and
  // rounds coarsely (a mean error of ~2.6 levels in green on a gradient, against ~0.3 with these flags).
  const int flags = SWS_BICUBIC | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT | SWS_FULL_CHR_H_INP;
  sws.reset(sws_getCachedContext(sws.release(), width, height, static_cast<AVPixelFormat>(frame->format), width,
                                 height, AV_PIX_FMT_RGB24, flags, nullptr, nullptr, nullptr));
  WL_CHECK(sws, "no conversion from pixel format ", frame->format, " to RGB24");
  const int* matrix = sws_getCoefficients(sws_colorspace(frame->colorspace));
  const int full_range = frame->color_range == AVCOL_RANGE_JPEG ? 1 : 0;
  // Fails harmlessly for RGB sources, which need no matrix.
  sws_setColorspaceDetails(sws.get(), matrix, full_range, matrix, 1, 0, 1 << 16, 1 << 16);

  out.rgb.resize(static_cast<size_t>(width) * height * 3);
  uint8_t* destination[1] = {out.rgb.data()};
  const int destination_pitch[1] = {width * 3};
  sws_scale(sws.get(), frame->data, frame->linesize, 0, height, destination, destination_pitch);
  out.pts = frame->best_effort_timestamp == AV_NOPTS_VALUE ? 0 : frame->best_effort_timestamp;
  out.time_s = static_cast<double>(out.pts) * av_q2d(time_base);
  if (format->streams[stream_index]->start_time != AV_NOPTS_VALUE)
    out.time_s -= static_cast<double>(format->streams[stream_index]->start_time) * av_q2d(time_base);
}

bool VideoReader::read(VideoFrame& out) {
  Impl& s = *impl_;
  try {
    if (!s.receive()) return false;
    s.convert(out);
    av_frame_unref(s.frame.get());
  } catch (const Error& e) {
    throw Error(str("cannot decode frame ", s.frames_read, " of ", s.path, ": ", e.what(),
                    "; hint: the file is damaged before its end"));
  }
  s.frames_read += 1;
  return true;
}

VideoContents read_video(const std::string& path) {
  VideoReader reader(path);
  VideoContents contents;
  contents.info = reader.info();
  VideoFrame frame;
  while (reader.read(frame)) contents.frames.push_back(std::move(frame));
  contents.truncated = reader.truncated();
  return contents;
}

}  // namespace wl
