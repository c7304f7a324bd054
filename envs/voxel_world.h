// VoxelWorld: a Minecraft-like first-person world driven by the VPT action space [A = 22].
// Per step (1/20 s, Minecraft's tick): turn the camera by the binned degrees, walk / sprint / sneak /
// jump / swim with gravity and block collisions, break the targeted block after holding attack for
// its hardness in ticks, place the selected hotbar block with use. Renders [H, W, 3] by DDA
// raycasting with face shading, sky occlusion, textures, water and fog, plus a crosshair and the
// hotbar. drop and inventory are accepted and do nothing (no items, no GUI). Made by make_world().
#pragma once

#include <array>
#include <vector>

#include "envs/voxel_terrain.h"
#include "envs/world.h"

namespace wl {

struct VoxelPlayer {
  Vec3 position;              // feet, centre of the 0.6 x 1.8 x 0.6 box
  Vec3 velocity;              // blocks per second
  float yaw_deg = 0.f;        // 0 looks along +z, + turns right
  float pitch_deg = 0.f;      // + looks down, within [-90, 90]
  bool on_ground = false;
  bool sneaking = false;
  int hotbar_slot = 0;        // 0..8, the block `use` places
};

class VoxelWorld : public World {
 public:
  static constexpr int kWorldSize = 128;   // blocks along x and z
  static constexpr int kWorldHeight = 64;  // blocks along y
  static constexpr std::array<Block, 9> kHotbar = {Block::Dirt,  Block::Stone, Block::Cobblestone,
                                                   Block::Planks, Block::Log,  Block::Leaves,
                                                   Block::Sand,  Block::Brick, Block::Gold};

  explicit VoxelWorld(const WorldConfig& config);
  const ActionSpec& action_spec() const override { return spec_; }
  const Frame& reset(uint64_t seed) override;
  const Frame& step(std::span<const float> action) override;
  const Frame& frame() const override { return frame_; }
  std::unique_ptr<World> clone() const override { return std::make_unique<VoxelWorld>(*this); }
  // A block face per pixel: ((y * kWorldSize + z) * kWorldSize + x) * 6 + face of the block the
  // pixel's ray hit first (water: its surface), -1 for the sky and the hotbar.
  std::span<const int32_t> surface_ids() const override { return surface_ids_; }

  // For tests and tools: the state behind the pixels.
  const VoxelPlayer& player() const { return player_; }
  const VoxelGrid& grid() const { return grid_; }
  // True when the player's box overlaps a solid block or leaves the world.
  bool player_collides() const;

 private:
  void update_camera_and_hotbar(const std::array<bool, 20>& buttons, double pitch_deg, double yaw_deg);
  void move_player(const std::array<bool, 20>& buttons);
  bool move_axis(int axis, float delta);
  void interact(const std::array<bool, 20>& buttons);
  bool box_hits_solid(Vec3 feet) const;
  void render();
  void draw_hud();

  WorldConfig config_;
  ActionSpec spec_;
  VoxelGrid grid_;
  VoxelPlayer player_;
  int attack_ticks_ = 0;                 // consecutive ticks attacking the same block
  std::array<int, 3> attack_target_{};   // that block
  int use_cooldown_ = 0;                 // ticks until holding use places again
  Frame frame_;
  std::vector<Vec3> column_rays_;        // render() scratch: the column part of each pixel's ray [W]
  std::vector<int32_t> surface_ids_;     // per pixel of frame_, see surface_ids() [H * W]
};

}  // namespace wl
