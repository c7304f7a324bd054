// wl::Error and WL_CHECK: the one error type of the engine, and the check macro every library uses.
//
// Setup and I/O failures (weights, devices, files, encoder) throw wl::Error, whose message names the
// file or tensor, what was expected, what was found, and a hint. main() catches it, prints one line
// and exits non-zero; library code never calls exit(). Header-only so that render/ and envs/ can use
// it without linking torch. The API-specific checks live beside their APIs:
//   WL_CUDA_CHECK in kernels/cuda_check.h, WL_VK_CHECK in render/vk_check.h,
//   WL_AV_CHECK in render/av_check.h.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace wl {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// Concatenates anything with operator<< into one string: wl::str("tensor ", name, " has ", n, " dims").
template <typename... Args>
std::string str(Args&&... args) {
  std::ostringstream out;
  if constexpr (sizeof...(Args) > 0) (out << ... << std::forward<Args>(args));
  return out.str();
}

namespace detail {
// Strips the directory so messages stay one short line: "safetensors.cpp:120".
constexpr const char* base_name(const char* path) {
  const char* base = path;
  for (const char* p = path; *p; ++p)
    if (*p == '/') base = p + 1;
  return base;
}

// `what` names the failed API call ("CUDA call `cudaMalloc(...)`"); nullptr for plain checks, whose
// message already says what was expected and found.
[[noreturn]] inline void throw_check(const char* file, int line, const char* what, const std::string& message) {
  throw Error(str(message, message.empty() ? "" : " ", "(", what ? what : "", what ? " at " : "at ", base_name(file),
                  ":", line, ")"));
}
inline std::string or_condition(std::string message, const char* condition) {
  return message.empty() ? str("check `", condition, "` failed") : message;
}
}  // namespace detail

}  // namespace wl

// WL_CHECK(cond, parts...): throws wl::Error("parts... (at file.cpp:42)"). The parts say what was
// expected, what was found, and a hint; without parts the condition itself is the message.
#define WL_CHECK(cond, ...)                                                                     \
  do {                                                                                          \
    if (!(cond)) [[unlikely]]                                                                   \
      ::wl::detail::throw_check(__FILE__, __LINE__, nullptr,                                    \
                                ::wl::detail::or_condition(::wl::str(__VA_ARGS__), #cond));     \
  } while (0)

// WL_FAIL(parts...): throws unconditionally, with the same file:line suffix.
#define WL_FAIL(...) ::wl::detail::throw_check(__FILE__, __LINE__, nullptr, ::wl::str(__VA_ARGS__))
