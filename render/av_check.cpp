// FFmpeg error text for WL_AV_CHECK messages.
#include "render/av_check.h"

extern "C" {
#include <libavutil/error.h>
}

namespace wl {

std::string av_error_string(int code) {
  char buffer[AV_ERROR_MAX_STRING_SIZE] = {};
  if (av_strerror(code, buffer, sizeof(buffer)) < 0) return "unknown FFmpeg error";
  return buffer;
}

}  // namespace wl
