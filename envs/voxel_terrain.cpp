// Terrain generation and the DDA raycaster (see voxel_terrain.h). The raycaster is the renderer's
// inner loop (one call per pixel per frame), so it stays branch-light and allocation-free.
#include "envs/voxel_terrain.h"

#include <algorithm>
#include <cmath>
#include <cstddef>

#include "envs/rng.h"
#include "kernels/core/error.h"

namespace wl {

void VoxelGrid::set(int x, int y, int z, Block b) {
  if (!inside(x, y, z)) return;
  blocks[(static_cast<size_t>(x) * size_z + z) * size_y + y] = b;
  int16_t& column_top = top[static_cast<size_t>(x) * size_z + z];
  if (is_solid(b) && y + 1 > column_top) {
    column_top = static_cast<int16_t>(y + 1);
  } else if (!is_solid(b) && y + 1 == column_top) {
    int h = y;
    while (h > 0 && !is_solid(at(x, h - 1, z))) --h;
    column_top = static_cast<int16_t>(h);
  }
  max_top = std::max<int>(max_top, column_top);  // may stay high after a removal: only an upper bound
}

namespace {

// Smooth value noise in [0, 1): bilinear between hashed lattice values with a smoothstep weight.
float value_noise(uint64_t seed, float x, float z) {
  float fx = std::floor(x), fz = std::floor(z);
  int ix = static_cast<int>(fx), iz = static_cast<int>(fz);
  float tx = x - fx, tz = z - fz;
  tx = tx * tx * (3.f - 2.f * tx);
  tz = tz * tz * (3.f - 2.f * tz);
  float a = hash01(hash_coords(seed, ix, iz)), b = hash01(hash_coords(seed, ix + 1, iz));
  float c = hash01(hash_coords(seed, ix, iz + 1)), d = hash01(hash_coords(seed, ix + 1, iz + 1));
  return (a + (b - a) * tx) + ((c + (d - c) * tx) - (a + (b - a) * tx)) * tz;
}

int terrain_height(uint64_t seed, int x, int z) {
  // Three octaves: rolling hills, bumps, and block-scale roughness.
  float n = 0.55f * value_noise(seed ^ 1, x / 40.f, z / 40.f) + 0.30f * value_noise(seed ^ 2, x / 17.f, z / 17.f) +
            0.15f * value_noise(seed ^ 3, x / 7.f, z / 7.f);
  return 12 + static_cast<int>(n * 30.f);
}

void plant_tree(VoxelGrid& g, uint64_t seed, int x, int base, int z) {
  int trunk = 4 + static_cast<int>(hash_coords(seed, x, z, 7) % 2);
  for (int y = base; y < base + trunk; ++y) g.set(x, y, z, Block::Log);
  // A 5x5 canopy around the top of the trunk, a 3x3 cap, and a few corners left out at random.
  for (int dy = trunk - 2; dy <= trunk + 1; ++dy) {
    int r = dy < trunk ? 2 : 1;
    for (int dx = -r; dx <= r; ++dx)
      for (int dz = -r; dz <= r; ++dz) {
        bool corner = std::abs(dx) == r && std::abs(dz) == r;
        if (corner && (dy == trunk + 1 || hash01(hash_coords(seed, x + dx, base + dy, z + dz)) < 0.5f)) continue;
        if (g.at(x + dx, base + dy, z + dz) == Block::Air) g.set(x + dx, base + dy, z + dz, Block::Leaves);
      }
  }
}

}  // namespace

VoxelGrid generate_terrain(uint64_t seed, int size_xz, int size_y) {
  WL_CHECK(size_xz >= 16 && size_y >= 48, "voxel world of ", size_xz, " x ", size_y, " x ", size_xz,
           " blocks is too small; hint: at least 16 x 48 x 16");
  VoxelGrid g;
  g.size_x = g.size_z = size_xz;
  g.size_y = size_y;
  g.blocks.assign(static_cast<size_t>(size_xz) * size_xz * size_y, Block::Air);
  g.top.assign(static_cast<size_t>(size_xz) * size_xz, 0);
  std::vector<int> heights(static_cast<size_t>(size_xz) * size_xz);
  for (int x = 0; x < size_xz; ++x)
    for (int z = 0; z < size_xz; ++z) {
      int h = std::min(terrain_height(seed, x, z), size_y - 12);
      heights[static_cast<size_t>(x) * size_xz + z] = h;
      bool beach = h <= kSeaLevel + 1;
      for (int y = 0; y <= h; ++y) {
        Block b = y == 0 ? Block::Bedrock : y < h - 3 ? Block::Stone : beach ? Block::Sand : y < h ? Block::Dirt : Block::Grass;
        g.set(x, y, z, b);
      }
      for (int y = h + 1; y < kSeaLevel; ++y) g.set(x, y, z, Block::Water);
    }
  // Trees on grass, away from the edges; the hash makes about one column in 70 a tree.
  for (int x = 3; x < size_xz - 3; ++x)
    for (int z = 3; z < size_xz - 3; ++z) {
      int h = heights[static_cast<size_t>(x) * size_xz + z];
      if (g.at(x, h, z) == Block::Grass && hash01(hash_coords(seed ^ 0x7EE5, x, z)) < 0.014f)
        plant_tree(g, seed, x, h + 1, z);
    }
  return g;
}

RayHit raycast(const VoxelGrid& g, Vec3 o, Vec3 d, float max_t, bool water_stops) {
  RayHit hit;
  int x = static_cast<int>(std::floor(o.x)), y = static_cast<int>(std::floor(o.y)), z = static_cast<int>(std::floor(o.z));
  const int sx = d.x > 0 ? 1 : -1, sy = d.y > 0 ? 1 : -1, sz = d.z > 0 ? 1 : -1;
  constexpr float kHuge = 1e30f;
  const float dx = d.x != 0 ? std::abs(1.f / d.x) : kHuge, dy = d.y != 0 ? std::abs(1.f / d.y) : kHuge,
              dz = d.z != 0 ? std::abs(1.f / d.z) : kHuge;
  // Distance along the ray to the next cell boundary on each axis.
  float tx = (sx > 0 ? x + 1 - o.x : o.x - x) * dx, ty = (sy > 0 ? y + 1 - o.y : o.y - y) * dy,
        tz = (sz > 0 ? z + 1 - o.z : o.z - z) * dz;
  // The loop keeps the block index of (x, y, z) current as it steps (moving it by an axis stride)
  // and tests x and z against the grid with one unsigned compare each; same cells, same tests.
  const ptrdiff_t stride_x = static_cast<ptrdiff_t>(g.size_z) * g.size_y, stride_z = g.size_y;
  const ptrdiff_t move_x = sx * stride_x, move_z = sz * stride_z;
  const unsigned size_x = static_cast<unsigned>(g.size_x), size_z = static_cast<unsigned>(g.size_z);
  const int max_top = g.max_top;
  const Block* const blocks = g.blocks.data();
  const Block see_through = water_stops ? Block::Air : Block::Water;  // besides air
  ptrdiff_t cell = x * stride_x + z * stride_z + y;
  for (;;) {
    int axis;
    float t;
    // x when tx < ty && tx < tz, as one compare against the smaller of ty and tz (never NaN).
    const bool y_before_z = ty < tz;
    if (tx < (y_before_z ? ty : tz)) {
      x += sx, t = tx, tx += dx, axis = 0, cell += move_x;
    } else if (y_before_z) {
      y += sy, t = ty, ty += dy, axis = 1, cell += sy;
    } else {
      z += sz, t = tz, tz += dz, axis = 2, cell += move_z;
    }
    if (t > max_t) return hit;
    // Leaving the grid sideways or downwards, or rising above every column, can never hit again.
    if (static_cast<unsigned>(x) >= size_x || static_cast<unsigned>(z) >= size_z || y < 0) return hit;
    if (y >= max_top) {
      if (sy > 0) return hit;
      continue;
    }
    const Block b = blocks[cell];
    if (b == Block::Air || b == see_through) continue;
    hit.hit = true;
    hit.x = x, hit.y = y, hit.z = z, hit.t = t, hit.block = b;
    int step = axis == 0 ? sx : axis == 1 ? sy : sz;
    hit.face = axis * 2 + (step > 0 ? 1 : 0);  // entering while moving +axis means the -axis face
    return hit;
  }
}

}  // namespace wl
