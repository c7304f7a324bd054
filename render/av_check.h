// WL_AV_CHECK(call): FFmpeg calls return a negative AVERROR on failure; this throws wl::Error
// naming the call, FFmpeg's own description of the error and file:line. Non-negative results pass.
#pragma once

#include <string>

#include "kernels/core/error.h"

namespace wl {
std::string av_error_string(int code);   // av_strerror, e.g. "No such file or directory"
}  // namespace wl

#define WL_AV_CHECK(call)                                                                         \
  do {                                                                                            \
    int wl_av_code_ = (call);                                                                     \
    if (wl_av_code_ < 0) [[unlikely]]                                                             \
      ::wl::detail::throw_check(__FILE__, __LINE__, "FFmpeg call `" #call "`",                    \
                                ::wl::str("FFmpeg error ", wl_av_code_, ": ", ::wl::av_error_string(wl_av_code_))); \
  } while (0)
