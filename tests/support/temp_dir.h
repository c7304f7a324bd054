// TempDir: a fresh, empty directory for one test, removed with everything in it afterwards:
// <tmp>/wl_<prefix>_<pid>_<test name>, so parallel test processes never share one.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

namespace wl::test {

struct TempDir {
  std::filesystem::path path;
  explicit TempDir(const std::string& prefix = "test")
      : path(std::filesystem::temp_directory_path() /
             ("wl_" + prefix + "_" + std::to_string(::getpid()) + "_" +
              ::testing::UnitTest::GetInstance()->current_test_info()->name())) {
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return (path / name).string(); }
};

}  // namespace wl::test
