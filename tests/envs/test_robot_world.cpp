// The robot world: determinism (golden FNV-1a checksums), blocks conserved and never interpenetrating
// or below the table under random play, and cause and effect (a scripted pick lifts a block, a
// release drops it back onto the table or onto another block).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "envs/robot_world.h"
#include "kernels/core/error.h"

namespace wl {
namespace {

uint64_t episode_checksum(World& world, uint64_t seed, uint64_t action_seed, int frames) {
  ActionTensor actions = sticky_random_actions(world.action_spec(), frames, action_seed);
  uint64_t hash = fnv1a(world.reset(seed).rgb);
  for (int t = 0; t < frames; ++t) hash = fnv1a(world.step({actions.row(t), 7}).rgb, hash);
  return hash;
}

// One step towards `target` (the tool point) with the gripper command `open` (1 open, 0 closed):
// the world delta turned into the gripper frame, at most a full step per axis.
const Frame& step_towards(RobotWorld& world, Vec3 target, float open) {
  std::array<Vec3, 3> r = gripper_axes(world.gripper());
  Vec3 delta = (target - world.gripper().position) * (1.f / RobotWorld::kMaxStep);
  std::vector<float> a(kRobotActionDims, 0.f);
  for (int k = 0; k < 3; ++k) a[k] = std::clamp(dot(delta, r[k]), -1.f, 1.f);
  a[kRobotGripper] = open;
  return world.step(a);
}

// Lifts block `i` by 8 cm: up, over it, down around it (the palm just above its top), close, up.
// Returns the held index.
int pick(RobotWorld& world, int i) {
  RobotBlock b = world.blocks()[i];
  float bottom = b.centre.z - 0.5f * b.size;
  for (int t = 0; t < 60; ++t) step_towards(world, {world.gripper().position.x, world.gripper().position.y, 0.2f}, 1.f);
  for (int t = 0; t < 60; ++t) step_towards(world, {b.centre.x, b.centre.y, 0.2f}, 1.f);
  Vec3 grasp{b.centre.x, b.centre.y, bottom + std::max(b.size - RobotWorld::kFingerLength + 0.006f, 0.004f)};
  for (int t = 0; t < 40; ++t) step_towards(world, grasp, 1.f);
  for (int t = 0; t < 10; ++t) step_towards(world, grasp, 0.f);
  for (int t = 0; t < 30; ++t) step_towards(world, grasp + Vec3{0.f, 0.f, 0.08f}, 0.f);
  return world.gripper().held;
}

TEST(RobotWorld, SameSeedSameFrames) {
  RobotWorld a({}), b({});
  EXPECT_EQ(episode_checksum(a, 4, 2, 80), episode_checksum(b, 4, 2, 80));
  EXPECT_NE(episode_checksum(a, 4, 2, 80), episode_checksum(a, 5, 2, 80));
  EXPECT_THROW(a.step(std::vector<float>(6)), Error);
  std::unique_ptr<World> world = make_world("robot", {96, 64});
  EXPECT_EQ(world->reset(3).rgb.size(), 96u * 64u * 3u);
  EXPECT_EQ(world->action_spec().width(), kRobotActionDims);
}

TEST(RobotWorld, GoldenChecksums) {
  // See the voxel goldens: refresh only for an intended change, on the reference toolchain.
  struct Golden {
    uint64_t seed, action_seed;
    int frames;
    uint64_t checksum;
  };
  const Golden kGoldens[] = {{1, 1, 100, 0xd5919984135293f6ull}, {42, 7, 100, 0x2e54a0f68e17c6c3ull}};
  for (const Golden& g : kGoldens) {
    RobotWorld world({});
    EXPECT_EQ(episode_checksum(world, g.seed, g.action_seed, g.frames), g.checksum)
        << std::hex << "seed " << g.seed << " actions " << g.action_seed;
  }
}

TEST(RobotWorld, BlocksConservedUnderRandomPlay) {
  for (uint64_t seed : {3u, 11u, 77u}) {
    RobotWorld world({32, 32});
    world.reset(seed);
    const size_t count = world.blocks().size();
    ASSERT_GE(count, 3u);
    ASSERT_LE(count, 5u);
    ASSERT_FALSE(world.blocks_interpenetrate());
    ActionTensor actions = sticky_random_actions(world.action_spec(), 2000, seed);
    for (int t = 0; t < actions.frames; ++t) {
      world.step({actions.row(t), 7});
      ASSERT_EQ(world.blocks().size(), count);
      ASSERT_FALSE(world.blocks_interpenetrate()) << "seed " << seed << " step " << t;
      for (const RobotBlock& b : world.blocks()) {
        ASSERT_GE(b.centre.z - 0.5f * b.size, -1e-4f);
        ASSERT_GT(b.centre.x, RobotWorld::kTableMin[0]);
        ASSERT_LT(b.centre.x, RobotWorld::kTableMax[0]);
        ASSERT_LT(std::abs(b.centre.y), RobotWorld::kTableMax[1]);
      }
      const RobotGripper& g = world.gripper();
      ASSERT_GE(g.gap, RobotWorld::kMinGap - 1e-6f);
      ASSERT_LE(g.gap, RobotWorld::kMaxGap + 1e-6f);
      ASSERT_LE(std::abs(g.roll), RobotWorld::kMaxTilt + 1e-5f);
      ASSERT_LE(std::abs(g.pitch), RobotWorld::kMaxTilt + 1e-5f);
    }
  }
}

TEST(RobotWorld, ScriptedPickLiftsAndReleaseDrops) {
  for (uint64_t seed : {1u, 2u, 5u}) {
    RobotWorld world({32, 32});
    world.reset(seed);
    ASSERT_EQ(pick(world, 0), 0) << "seed " << seed;
    const RobotBlock& b = world.blocks()[0];
    EXPECT_NEAR(b.centre.z - 0.5f * b.size, 0.08f, 0.012f) << "seed " << seed;  // lifted with the gripper
    EXPECT_EQ(world.gripper().gap, b.size);
    // Open: it falls back onto the table and rests there.
    for (int t = 0; t < 20; ++t) step_towards(world, world.gripper().position, 1.f);
    EXPECT_EQ(world.gripper().held, -1);
    EXPECT_NEAR(b.centre.z, 0.5f * b.size, 1e-5f);
    EXPECT_EQ(b.velocity, 0.f);
    EXPECT_EQ(world.support_of(0), -1);
    EXPECT_FALSE(world.blocks_interpenetrate());
  }
}

TEST(RobotWorld, ReleasedBlockStacksOnAnother) {
  RobotWorld world({32, 32});
  world.reset(2);
  ASSERT_EQ(pick(world, 0), 0);
  const RobotBlock target = world.blocks()[1];
  float top = target.centre.z + 0.5f * target.size;
  for (int t = 0; t < 80; ++t) step_towards(world, {target.centre.x, target.centre.y, top + 0.02f}, 0.f);
  for (int t = 0; t < 20; ++t) step_towards(world, world.gripper().position, 1.f);
  const RobotBlock& b = world.blocks()[0];
  EXPECT_NEAR(b.centre.z - 0.5f * b.size, top, 1e-5f);
  EXPECT_EQ(world.support_of(0), 1);
  EXPECT_FALSE(world.blocks_interpenetrate());
  // Picked off the stack again and put down beside it, it rests on the table.
  ASSERT_EQ(pick(world, 0), 0);
  for (int t = 0; t < 40; ++t) step_towards(world, {target.centre.x - 0.12f, target.centre.y, 0.15f}, 0.f);
  for (int t = 0; t < 30; ++t) step_towards(world, world.gripper().position, 1.f);
  EXPECT_EQ(world.support_of(0), -1);
  EXPECT_NEAR(b.centre.z, 0.5f * b.size, 1e-5f);
}

TEST(RobotWorld, GripperStaysInWorkspaceAndAboveTable) {
  RobotWorld world({32, 32});
  world.reset(7);
  for (int t = 0; t < 100; ++t) world.step(std::vector<float>{1.f, 1.f, -1.f, 0.f, 0.f, 0.f, 1.f});
  const RobotGripper& g = world.gripper();
  EXPECT_LE(g.position.x, RobotWorld::kWorkspaceMax.x);
  EXPECT_LE(g.position.y, RobotWorld::kWorkspaceMax.y);
  EXPECT_GE(g.position.z, 0.f);
  // Full tilt is limited; yaw turns freely.
  for (int t = 0; t < 100; ++t) world.step(std::vector<float>{0.f, 0.f, 1.f, 1.f, 1.f, 1.f, 1.f});
  EXPECT_NEAR(std::abs(world.gripper().roll), RobotWorld::kMaxTilt, 0.05f);
  EXPECT_NEAR(std::abs(world.gripper().pitch), RobotWorld::kMaxTilt, 0.05f);
  // Out-of-range and non-finite actions are clamped or ignored, never a crash.
  world.step(std::vector<float>{NAN, 5.f, -5.f, INFINITY, 0.f, 0.f, 2.f});
  EXPECT_FALSE(world.blocks_interpenetrate());
}

}  // namespace
}  // namespace wl
