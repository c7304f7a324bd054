// ActionSpec: lookups and validation errors that name the frame and the dimension.
#include <gtest/gtest.h>

#include <cmath>

#include "envs/action_spec.h"
#include "kernels/core/error.h"

namespace wl {
namespace {

ActionSpec driving_like() {
  return {"driving", {{"steer", ActionKind::Continuous, -1.f, 1.f, {}}, {"gear", ActionKind::Discrete, 0.f, 2.f, {"R", "N", "D"}}}};
}

TEST(ActionSpec, IndexAndWidth) {
  ActionSpec spec = driving_like();
  EXPECT_EQ(spec.width(), 2);
  EXPECT_EQ(spec.index("gear"), 1);
  EXPECT_EQ(spec.index("brake"), -1);
}

TEST(ActionSpec, ValidateAcceptsAndRejects) {
  ActionSpec spec = driving_like();
  ActionTensor ok{2, 2, {0.5f, 2.f, -1.f, 0.f}};
  EXPECT_NO_THROW(spec.validate(ok));
  ActionTensor wrong_width{1, 3, {0.f, 0.f, 0.f}};
  EXPECT_THROW(spec.validate(wrong_width), Error);
  ActionTensor out_of_range{1, 2, {1.5f, 0.f}};
  try {
    spec.validate(out_of_range);
    FAIL() << "no throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("action 'steer' = 1.5"), std::string::npos) << e.what();
  }
  ActionTensor fractional_class{1, 2, {0.f, 0.5f}};
  EXPECT_THROW(spec.validate(fractional_class), Error);
  ActionTensor nan{1, 2, {NAN, 0.f}};
  EXPECT_THROW(spec.validate(nan), Error);
}

}  // namespace
}  // namespace wl
