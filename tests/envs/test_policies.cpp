// The scripted policies: deterministic by seed, valid actions, clear errors, and each does what it
// is for (the lane keeper stays on the road, pick_place builds a stack, explore walks and edits).
#include <gtest/gtest.h>

#include <cmath>

#include "envs/driving_world.h"
#include "envs/policies.h"
#include "envs/robot_world.h"
#include "envs/voxel_world.h"
#include "kernels/core/error.h"

namespace wl {
namespace {

// `frames` actions of `policy` playing `world` from `seed`, validated against the world's spec.
ActionTensor play(const std::string& world_name, const std::string& policy_name, uint64_t seed, int frames) {
  std::unique_ptr<World> world = make_world(world_name, {32, 32});
  std::unique_ptr<Policy> policy = make_policy(policy_name, world_name);
  world->reset(seed);
  policy->reset(seed);
  ActionTensor actions{frames, world->action_spec().width(), {}};
  for (int t = 0; t < frames; ++t) {
    std::vector<float> a = policy->next(*world);
    world->step(a);
    actions.values.insert(actions.values.end(), a.begin(), a.end());
  }
  world->action_spec().validate(actions);
  return actions;
}

TEST(Policies, DeterministicBySeed) {
  for (const std::string& world : world_names())
    for (const std::string& policy : policy_names(world)) {
      ActionTensor a = play(world, policy, 3, 300), b = play(world, policy, 3, 300), c = play(world, policy, 4, 300);
      EXPECT_EQ(a.values, b.values) << world << " " << policy;
      EXPECT_NE(a.values, c.values) << world << " " << policy;
    }
}

// World::clone: the copy and the original step on independently from one state, and each matches a
// world that played the same actions from the start.
TEST(Worlds, CloneStepsOnIndependently) {
  for (const std::string& name : world_names()) {
    std::unique_ptr<World> world = make_world(name, {32, 32}), replay = make_world(name, {32, 32});
    const ActionSpec& spec = world->action_spec();
    ActionTensor first = sticky_random_actions(spec, 30, 5), a = sticky_random_actions(spec, 20, 6),
                 b = sticky_random_actions(spec, 20, 7);
    world->reset(1);
    for (int t = 0; t < first.frames; ++t) world->step({first.row(t), static_cast<size_t>(spec.width())});
    std::unique_ptr<World> twin = world->clone();
    for (int t = 0; t < 20; ++t) {
      world->step({a.row(t), static_cast<size_t>(spec.width())});
      twin->step({b.row(t), static_cast<size_t>(spec.width())});
    }
    replay->reset(1);
    for (int t = 0; t < first.frames; ++t) replay->step({first.row(t), static_cast<size_t>(spec.width())});
    for (int t = 0; t < 20; ++t) replay->step({b.row(t), static_cast<size_t>(spec.width())});
    EXPECT_EQ(twin->frame().rgb, replay->frame().rgb) << name;
    EXPECT_NE(twin->frame().rgb, world->frame().rgb) << name;   // the other actions went elsewhere
  }
}

TEST(Policies, StickyRandomIsTheBenchmarkStream) {
  ActionTensor played = play("driving", "sticky_random", 9, 50);
  EXPECT_EQ(played.values, sticky_random_actions(driving_action_spec(), 50, 9).values);
}

TEST(Policies, UnknownNamesAndWrongWorldsAreClearErrors) {
  try {
    make_policy("autopilot", "driving");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("lane_keep and sticky_random"), std::string::npos) << e.what();
  }
  EXPECT_THROW(make_policy("lane_keep", "robot"), Error);
  EXPECT_THROW(make_policy("sticky_random", "minecraft"), Error);
  std::unique_ptr<World> robot = make_world("robot", {32, 32});
  robot->reset(1);
  EXPECT_THROW(make_policy("explore", "voxel")->next(*robot), Error);
  EXPECT_THROW(make_policy("sticky_random", "voxel")->next(*robot), Error);
}

TEST(Policies, LaneKeeperStaysOnTheRoad) {
  for (uint64_t seed : {1u, 2u, 3u}) {
    DrivingWorld world({32, 32});
    std::unique_ptr<Policy> policy = make_policy("lane_keep", "driving");
    world.reset(seed);
    policy->reset(seed);
    float min_d = 1e9f, max_d = -1e9f;
    for (int t = 0; t < 2000; ++t) {
      world.step(policy->next(world));
      float d = world.ego().d;
      ASSERT_LT(std::abs(d), 1.5f * DrivingWorld::kLaneWidth) << "seed " << seed << " left the road at " << t;
      min_d = std::min(min_d, d), max_d = std::max(max_d, d);
    }
    EXPECT_GT(world.ego().s, 1000.f) << "seed " << seed;      // it drives on (2000 frames are 100 s)
    EXPECT_GT(max_d - min_d, 2.f) << "seed " << seed;         // and changes lanes
  }
}

TEST(Policies, PickPlaceStacksABlock) {
  for (uint64_t seed : {1u, 2u, 3u, 4u}) {
    RobotWorld world({32, 32});
    std::unique_ptr<Policy> policy = make_policy("pick_place", "robot");
    world.reset(seed);
    policy->reset(seed);
    int stacked_at = -1;
    for (int t = 0; t < 600 && stacked_at < 0; ++t) {
      world.step(policy->next(world));
      ASSERT_FALSE(world.blocks_interpenetrate()) << "seed " << seed << " step " << t;
      for (int i = 0; i < static_cast<int>(world.blocks().size()); ++i)
        if (world.support_of(i) >= 0) stacked_at = t;
    }
    EXPECT_GE(stacked_at, 0) << "seed " << seed << ": no block on another after 600 frames";
  }
}

TEST(Policies, ExploreWalksAndEdits) {
  VoxelWorld world({32, 32});
  std::unique_ptr<Policy> policy = make_policy("explore", "voxel");
  world.reset(5);
  policy->reset(5);
  const std::vector<Block> before = world.grid().blocks;
  Vec3 start = world.player().position;
  float farthest = 0.f;
  for (int t = 0; t < 1200; ++t) {
    world.step(policy->next(world));
    ASSERT_FALSE(world.player_collides()) << "step " << t;
    Vec3 d = world.player().position - start;
    farthest = std::max(farthest, std::sqrt(d.x * d.x + d.z * d.z));
  }
  EXPECT_GT(farthest, 15.f);
  size_t edits = 0;
  for (size_t i = 0; i < before.size(); ++i) edits += before[i] != world.grid().blocks[i];
  EXPECT_GE(edits, 1u);
}

}  // namespace
}  // namespace wl
