// WL_VK_CHECK and WL_AV_CHECK turn failing results into wl::Error with the API's own error name.
#include <gtest/gtest.h>

#include "render/vk_check.h"
#ifdef WL_WITH_RECORDING
extern "C" {
#include <libavutil/error.h>
}

#include "render/av_check.h"
#endif

namespace wl {
namespace {

TEST(RenderChecks, VkCheckNamesTheResult) {
  EXPECT_NO_THROW(WL_VK_CHECK(VK_SUCCESS));
  try {
    WL_VK_CHECK(VK_ERROR_DEVICE_LOST);
    FAIL() << "no throw";
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("VK_ERROR_DEVICE_LOST"), std::string::npos) << m;
    EXPECT_NE(m.find("test_checks.cpp:"), std::string::npos) << m;
  }
  EXPECT_STREQ(vk_result_name(VK_ERROR_OUT_OF_DATE_KHR), "VK_ERROR_OUT_OF_DATE_KHR");
}

#ifdef WL_WITH_RECORDING
TEST(RenderChecks, AvCheckNamesTheError) {
  EXPECT_NO_THROW(WL_AV_CHECK(0));
  EXPECT_NO_THROW(WL_AV_CHECK(17));   // positive results (byte counts) pass
  try {
    WL_AV_CHECK(AVERROR(ENOENT));
    FAIL() << "no throw";
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("No such file or directory"), std::string::npos) << m;
  }
}
#endif

}  // namespace
}  // namespace wl
