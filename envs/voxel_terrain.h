// The voxel world's blocks: a bounded grid [X, Z, Y] of block ids (y fastest, so a column is
// contiguous), generated from a seed (value-noise heightmap, stone/dirt/grass/sand layers, water up
// to a sea level, trees), editable (the world remembers broken and placed blocks), and a DDA
// raycaster over it. Callers: envs/voxel_world.cpp (rendering, physics, attack/use targeting).
#pragma once

#include <cstdint>
#include <vector>

#include "envs/vec3.h"

namespace wl {

enum class Block : uint8_t {
  Air, Grass, Dirt, Stone, Sand, Water, Log, Leaves, Planks, Cobblestone, Brick, Gold, Bedrock, Count
};
// Solid blocks stop the player and the rays; air and water do not.
inline bool is_solid(Block b) { return b != Block::Air && b != Block::Water; }

struct VoxelGrid {
  int size_x = 0, size_y = 0, size_z = 0;
  std::vector<Block> blocks;   // [X, Z, Y]
  std::vector<int16_t> top;    // [X, Z]: one above the highest solid block of the column (0: none)
  int max_top = 0;             // the largest `top`: rays above it going up see only sky

  bool inside(int x, int y, int z) const {
    return x >= 0 && y >= 0 && z >= 0 && x < size_x && y < size_y && z < size_z;
  }
  // Air outside the grid.
  Block at(int x, int y, int z) const {
    return inside(x, y, z) ? blocks[(static_cast<size_t>(x) * size_z + z) * size_y + y] : Block::Air;
  }
  // Ignores positions outside the grid; keeps `top` and `max_top` current.
  void set(int x, int y, int z, Block b);
};

inline constexpr int kSeaLevel = 24;  // water fills terrain below this height

// A fresh world of X x Y x Z blocks (X, Z >= 16, Y >= 48) from `seed`.
VoxelGrid generate_terrain(uint64_t seed, int size_xz, int size_y);

struct RayHit {
  bool hit = false;
  int x = 0, y = 0, z = 0;   // the block hit
  int face = 0;              // its face the ray entered: 0 +x, 1 -x, 2 +y, 3 -y, 4 +z, 5 -z
  float t = 0.f;             // distance along the (unit) direction
  Block block = Block::Air;
};

// Walks the cells along origin + t * dir (dir of unit length) up to max_t and returns the first
// solid block, or the first water block when `water_stops` (rays from the air see the water
// surface; rays under water and attack/use targeting pass through it).
RayHit raycast(const VoxelGrid& grid, Vec3 origin, Vec3 dir, float max_t, bool water_stops);

}  // namespace wl
