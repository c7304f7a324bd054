// The pyarrow + PyAV interpreter for tests that check our files the way Python readers see them
// (tests/reference/setup_pyarrow_venv.sh makes the venv once per machine), and a runner for the
// check scripts beside it. When PyPI is unreachable the venv cannot be made: tests then skip
// loudly with the reason, as the diffusers golden tests do. Used by test_parquet.cpp, test_synth.cpp.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace wl::test {

struct CommandResult {
  int code = -1;
  std::string output;   // stdout and stderr together
};

inline CommandResult run_command(const std::string& command) {
  CommandResult r;
  std::FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return r;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) r.output.append(buffer, n);
  int status = ::pclose(pipe);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// The venv's python, or "" with `skip_reason` set (PyPI unreachable). A failure to build the venv
// for any other reason fails the calling test.
inline std::string reference_python(std::string& skip_reason) {
  if (const char* why = std::getenv("WL_GOLDENS_UNAVAILABLE")) {
    skip_reason = std::string("no pyarrow reference venv: WL_GOLDENS_UNAVAILABLE=") + why;
    return "";
  }
  CommandResult r = run_command("bash '" WL_TESTS_DIR "/reference/setup_pyarrow_venv.sh'");
  if (r.code == 77) {
    skip_reason = "no pyarrow reference venv (tests/reference/setup_pyarrow_venv.sh): " + r.output;
    return "";
  }
  EXPECT_EQ(r.code, 0) << "tests/reference/setup_pyarrow_venv.sh failed:\n" << r.output;
  // The python's path is the last line (set-up logs come before it).
  while (!r.output.empty() && (r.output.back() == '\n' || r.output.back() == '\r')) r.output.pop_back();
  return r.code == 0 ? r.output.substr(r.output.find_last_of('\n') + 1) : "";
}

}  // namespace wl::test

// Skips the test (loudly: GoogleTest prints the reason) when the reference venv is unavailable.
#define WL_REQUIRE_REFERENCE_PYTHON(python)                                       \
  std::string python;                                                             \
  {                                                                               \
    std::string skip_reason_;                                                     \
    python = ::wl::test::reference_python(skip_reason_);                          \
    if (!skip_reason_.empty()) GTEST_SKIP() << skip_reason_;                      \
    ASSERT_FALSE(python.empty());                                                 \
  }
