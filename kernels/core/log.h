// A small leveled logger: `WL_LOG_INFO("loader", "read ", n, " tensors")` prints
//   12.345 I [loader] read 212 tensors
// to stderr (seconds since start, level letter, tag). The tag is the same name a stage has in the
// frame loop, the overlay's timing plot and the profiler, so one grep finds all of them.
// The level comes from set_log_level() or the WL_LOG environment variable (debug|info|warn|error|off).
// Thread-safe: one line is written under a mutex. Header-only (see error.h for why).
#pragma once

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "kernels/core/error.h"

namespace wl {

enum class LogLevel { Debug = 0, Info = 1, Warn = 2, Error = 3, Off = 4 };

// Parses "debug", "info", "warn", "error" or "off"; nullopt for anything else.
inline std::optional<LogLevel> parse_log_level(std::string_view name) {
  if (name == "debug") return LogLevel::Debug;
  if (name == "info") return LogLevel::Info;
  if (name == "warn") return LogLevel::Warn;
  if (name == "error") return LogLevel::Error;
  if (name == "off") return LogLevel::Off;
  return std::nullopt;
}

namespace detail {
struct LogState {
  std::mutex mutex;
  LogLevel level = LogLevel::Info;
  std::FILE* sink = stderr;
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  LogState() {
    if (const char* env = std::getenv("WL_LOG"))
      if (auto parsed = parse_log_level(env)) level = *parsed;
  }
};
inline LogState& log_state() {
  static LogState state;
  return state;
}
}  // namespace detail

inline void set_log_level(LogLevel level) { detail::log_state().level = level; }
inline LogLevel log_level() { return detail::log_state().level; }
inline bool log_enabled(LogLevel level) { return level >= detail::log_state().level && level != LogLevel::Off; }
// Redirects log lines (tests capture them in a tmpfile); nullptr restores stderr.
inline void set_log_sink(std::FILE* sink) { detail::log_state().sink = sink ? sink : stderr; }

inline void log_line(LogLevel level, std::string_view tag, const std::string& message) {
  auto& state = detail::log_state();
  if (!log_enabled(level)) return;
  static constexpr char kLetters[] = {'D', 'I', 'W', 'E'};
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - state.start).count();
  std::lock_guard<std::mutex> lock(state.mutex);
  std::fprintf(state.sink, "%9.3f %c [%.*s] %s\n", seconds, kLetters[static_cast<int>(level)],
               static_cast<int>(tag.size()), tag.data(), message.c_str());
  std::fflush(state.sink);
}

}  // namespace wl

// The message is only built when the level is enabled.
#define WL_LOG(level, tag, ...)                                            \
  do {                                                                     \
    if (::wl::log_enabled(level)) ::wl::log_line(level, tag, ::wl::str(__VA_ARGS__)); \
  } while (0)
#define WL_LOG_DEBUG(tag, ...) WL_LOG(::wl::LogLevel::Debug, tag, __VA_ARGS__)
#define WL_LOG_INFO(tag, ...) WL_LOG(::wl::LogLevel::Info, tag, __VA_ARGS__)
#define WL_LOG_WARN(tag, ...) WL_LOG(::wl::LogLevel::Warn, tag, __VA_ARGS__)
#define WL_LOG_ERROR(tag, ...) WL_LOG(::wl::LogLevel::Error, tag, __VA_ARGS__)
