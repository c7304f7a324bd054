// VPT action space: camera bins checked against hand-computed mu-law values (bin centres are
// 11^(k/10) - 1 degrees for encoded value 2k, edges sit at odd encoded values), clipping, the null
// bin, button order and forward/back, left/right cancellation.
#include <gtest/gtest.h>

#include <cmath>

#include "envs/vpt_actions.h"
#include "kernels/core/error.h"

namespace wl {
namespace {

// 11^(k/10) - 1 for k = 0..10: mu-law decode with mu = 10, maxval = 10.
constexpr double kDecoded[] = {0.0, 0.27098161521014075, 0.6153942662021781, 1.053136413658844, 1.6094986352788734,
                               2.3166247903554, 3.2153691330919, 4.357656669484113, 5.809483127522302,
                               7.654727864164496, 10.0};

TEST(VptCamera, BinCentres) {
  const double expected[11] = {-10.0, -kDecoded[8], -kDecoded[6], -kDecoded[4], -kDecoded[2], 0.0,
                               kDecoded[2],  kDecoded[4],  kDecoded[6],  kDecoded[8],  10.0};
  for (int bin = 0; bin < kVptCameraBins; ++bin) {
    EXPECT_NEAR(vpt_camera_degrees(bin), expected[bin], 1e-12) << "bin " << bin;
    EXPECT_EQ(vpt_camera_bin(expected[bin]), bin) << "a centre maps back to its bin";
  }
  EXPECT_THROW(vpt_camera_degrees(11), Error);
  EXPECT_THROW(vpt_camera_degrees(-1), Error);
}

TEST(VptCamera, BinEdges) {
  auto edges = vpt_camera_bin_edges();
  const double expected[10] = {-kDecoded[9], -kDecoded[7], -kDecoded[5], -kDecoded[3], -kDecoded[1],
                               kDecoded[1],  kDecoded[3],  kDecoded[5],  kDecoded[7],  kDecoded[9]};
  for (int i = 0; i < 10; ++i) {
    EXPECT_NEAR(edges[i], expected[i], 1e-12) << "edge " << i;
    // Just either side of an edge lands in the two neighbouring bins.
    EXPECT_EQ(vpt_camera_bin(expected[i] - 1e-6), i);
    EXPECT_EQ(vpt_camera_bin(expected[i] + 1e-6), i + 1);
  }
}

TEST(VptCamera, NullBinAndClipping) {
  EXPECT_EQ(kVptCameraNullBin, 5);
  EXPECT_EQ(vpt_camera_bin(0.0), 5);
  EXPECT_EQ(vpt_camera_bin(0.27), 5);   // just inside the null bin (edge 0.27098)
  EXPECT_EQ(vpt_camera_bin(-0.27), 5);
  EXPECT_EQ(vpt_camera_bin(0.15), 5);   // one mouse count (360/2400 deg) does not move the camera
  EXPECT_EQ(vpt_camera_bin(0.30), 6);   // two counts do
  EXPECT_EQ(vpt_camera_bin(10.0), 10);
  EXPECT_EQ(vpt_camera_bin(45.0), 10);  // clipped to +-10
  EXPECT_EQ(vpt_camera_bin(-1e9), 0);
  EXPECT_EQ(vpt_camera_bin(NAN), 5);
  EXPECT_EQ(vpt_camera_bin(8.0), 10);   // past the last edge (7.655): the +-10 bin
  EXPECT_EQ(vpt_camera_bin(7.0), 9);    // between edges 4.358 and 7.655
  EXPECT_EQ(vpt_camera_bin(-2.0), 3);   // between edges -2.317 and -1.053
}

TEST(VptButtons, OrderMatchesVpt) {
  EXPECT_EQ(vpt_button_index("attack"), 0);
  EXPECT_EQ(vpt_button_index("inventory"), 10);
  EXPECT_EQ(vpt_button_index("hotbar.1"), 11);
  EXPECT_EQ(vpt_button_index("hotbar.9"), 19);
  EXPECT_EQ(vpt_button_index("swapHands"), -1);
  ActionSpec spec = vpt_action_spec();
  ASSERT_EQ(spec.width(), 22);
  EXPECT_EQ(spec.dims[20].name, "camera_pitch");
  EXPECT_EQ(spec.dims[21].labels.size(), 11u);
  EXPECT_EQ(spec.dims[21].labels[5], "+0.00 deg");
}

TEST(VptButtons, OppositesCancel) {
  VptAction a;
  a.buttons[kForward] = a.buttons[kBack] = true;
  a.buttons[kLeft] = true;
  a.buttons[kJump] = true;
  std::vector<float> v = vpt_to_vector(a);
  EXPECT_EQ(v[kForward], 0.f);
  EXPECT_EQ(v[kBack], 0.f);
  EXPECT_EQ(v[kLeft], 1.f);  // left alone stays
  EXPECT_EQ(v[kJump], 1.f);
  a.buttons[kRight] = true;
  v = vpt_to_vector(a);
  EXPECT_EQ(v[kLeft], 0.f);
  EXPECT_EQ(v[kRight], 0.f);
}

TEST(VptButtons, VectorRoundTrip) {
  VptAction a;
  a.buttons[kAttack] = a.buttons[kSprint] = a.buttons[kHotbar1 + 4] = true;
  a.camera_pitch_deg = -3.0;  // bin 2 (centre -3.215)
  a.camera_yaw_deg = 1.0;     // bin 6 (centre 0.615)
  std::vector<float> v = vpt_to_vector(a);
  EXPECT_EQ(v[kVoxelPitchDim], 2.f);
  EXPECT_EQ(v[kVoxelYawDim], 6.f);
  EXPECT_NO_THROW(vpt_action_spec().validate({1, 22, v}));
  VptAction back = vpt_from_vector(v);
  EXPECT_EQ(back.buttons, a.buttons);
  EXPECT_NEAR(back.camera_pitch_deg, -kDecoded[6], 1e-12);
  EXPECT_NEAR(back.camera_yaw_deg, kDecoded[2], 1e-12);
  std::vector<float> bad(22, 0.f);
  bad[kVoxelPitchDim] = NAN;  // a model's garbage output falls back to no camera motion
  EXPECT_EQ(vpt_from_vector(bad).camera_pitch_deg, 0.0);
  EXPECT_THROW(vpt_from_vector(std::vector<float>(21)), Error);
}

}  // namespace
}  // namespace wl
