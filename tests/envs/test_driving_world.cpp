// The driving world: determinism (golden FNV-1a checksums), the ego's speed limits under any
// action, the fence, and traffic that keeps moving forward in its lanes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "envs/driving_world.h"
#include "kernels/core/error.h"

namespace wl {
namespace {

uint64_t episode_checksum(World& world, uint64_t seed, uint64_t action_seed, int frames) {
  ActionTensor actions = sticky_random_actions(world.action_spec(), frames, action_seed);
  uint64_t hash = fnv1a(world.reset(seed).rgb);
  for (int t = 0; t < frames; ++t) hash = fnv1a(world.step({actions.row(t), 3}).rgb, hash);
  return hash;
}

TEST(DrivingWorld, SameSeedSameFrames) {
  DrivingWorld a({}), b({});
  EXPECT_EQ(episode_checksum(a, 4, 2, 80), episode_checksum(b, 4, 2, 80));
  EXPECT_NE(episode_checksum(a, 4, 2, 80), episode_checksum(a, 5, 2, 80));
  EXPECT_THROW(a.step(std::vector<float>(2)), Error);
}

TEST(DrivingWorld, GoldenChecksums) {
  // See the voxel goldens: refresh only for an intended change, on the reference toolchain.
  struct Golden {
    uint64_t seed, action_seed;
    int frames;
    uint64_t checksum;
  };
  const Golden kGoldens[] = {{1, 1, 100, 0x024fe7b45813ecb5ull}, {42, 7, 100, 0x6d8f8cb07713c3d0ull}};
  for (const Golden& g : kGoldens) {
    DrivingWorld world({});
    EXPECT_EQ(episode_checksum(world, g.seed, g.action_seed, g.frames), g.checksum)
        << std::hex << "seed " << g.seed << " actions " << g.action_seed;
  }
}

TEST(DrivingWorld, SpeedObeysThrottleAndBrakeLimits) {
  DrivingWorld world({32, 32});
  world.reset(9);
  ActionTensor actions = sticky_random_actions(world.action_spec(), 2000, 9);
  for (int t = 0; t < actions.frames; ++t) {
    const float* a = actions.row(t);
    float before = world.ego().speed;
    world.step({a, 3});
    float after = world.ego().speed;
    ASSERT_GE(after, 0.f);
    ASSERT_LE(after, DrivingWorld::kMaxSpeed);
    // Never faster than full throttle allows; a bump or the fence may only slow the car down.
    ASSERT_LE(after - before, a[kDrivingThrottle] * DrivingWorld::kMaxAccel * 0.05f + 1e-4f) << "step " << t;
    ASSERT_LE(std::abs(world.ego().d), 14.f + 1e-4f);
  }
  // From a fresh start, full throttle accelerates at kMaxAccel less rolling and air drag; a
  // simple lane keeper steers (else the bends take the car into the fence, which scrubs speed).
  world.reset(9);
  float v0 = world.ego().speed;
  world.step(std::vector<float>{0.f, 1.f, 0.f});
  EXPECT_NEAR(world.ego().speed - v0, (DrivingWorld::kMaxAccel - 0.2f - 0.0009f * v0 * v0) * 0.05f, 1e-4f);
  for (int t = 0; t < 100; ++t) {
    float steer = std::clamp(0.3f * (world.ego().d + DrivingWorld::kLaneWidth) + 2.f * world.ego().heading, -1.f, 1.f);
    world.step(std::vector<float>{steer, 1.f, 0.f});
    ASSERT_LT(std::abs(world.ego().d + DrivingWorld::kLaneWidth), 1.5f) << "the lane keeper left its lane at " << t;
  }
  EXPECT_GT(world.ego().speed, 5.f);
  for (int t = 0; t < 100; ++t) world.step(std::vector<float>{0.f, 0.f, 1.f});
  EXPECT_EQ(world.ego().speed, 0.f);
}

TEST(DrivingWorld, TrafficStaysInLanesAndMovesOn) {
  DrivingWorld world({32, 32});
  world.reset(3);
  std::vector<float> cruise{0.f, 0.4f, 0.f};
  for (int t = 0; t < 600; ++t) {
    world.step(cruise);
    ASSERT_EQ(world.traffic().size(), static_cast<size_t>(DrivingWorld::kTrafficCars));
    for (const CarState& car : world.traffic()) {
      ASSERT_GE(car.speed, 0.f);
      float lane = car.d / DrivingWorld::kLaneWidth;
      ASSERT_EQ(lane, std::round(lane));  // exactly on a lane centre
    }
  }
  EXPECT_GT(world.ego().s, 100.f);
}

}  // namespace
}  // namespace wl
