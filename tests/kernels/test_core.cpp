// wl::Error, WL_CHECK and the logger: messages carry the parts, the failed check and file:line.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "kernels/core/error.h"
#include "kernels/core/log.h"

namespace wl {
namespace {

TEST(Core, CheckPassesAndFailsWithMessage) {
  EXPECT_NO_THROW(WL_CHECK(1 + 1 == 2, "never shown"));
  try {
    int found = 3;
    WL_CHECK(found == 4, "expected 4 heads, found ", found);
    FAIL() << "WL_CHECK did not throw";
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("expected 4 heads, found 3"), std::string::npos) << m;
    EXPECT_NE(m.find("(at test_core.cpp:"), std::string::npos) << m;
  }
  try {
    WL_CHECK(2 < 1);
    FAIL() << "WL_CHECK did not throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("check `2 < 1` failed"), std::string::npos) << e.what();
  }
}

TEST(Core, ErrorIsRuntimeError) {
  EXPECT_THROW(WL_FAIL("boom"), std::runtime_error);
}

TEST(Core, ParseLogLevel) {
  EXPECT_EQ(parse_log_level("debug"), LogLevel::Debug);
  EXPECT_EQ(parse_log_level("off"), LogLevel::Off);
  EXPECT_FALSE(parse_log_level("verbose").has_value());
}

TEST(Core, LoggerFiltersByLevelAndPrintsTag) {
  std::FILE* sink = std::tmpfile();
  ASSERT_NE(sink, nullptr);
  LogLevel saved = log_level();
  set_log_sink(sink);
  set_log_level(LogLevel::Warn);
  WL_LOG_INFO("loader", "hidden");
  WL_LOG_WARN("decode", "shown ", 42);
  set_log_sink(nullptr);
  set_log_level(saved);
  std::rewind(sink);
  char buffer[256] = {};
  size_t n = std::fread(buffer, 1, sizeof(buffer) - 1, sink);
  std::fclose(sink);
  std::string text(buffer, n);
  EXPECT_EQ(text.find("hidden"), std::string::npos) << text;
  EXPECT_NE(text.find("W [decode] shown 42\n"), std::string::npos) << text;
}

}  // namespace
}  // namespace wl
