// The voxel world's physics, interaction and renderer (see voxel_world.h). Units are blocks and
// seconds; speeds and gravity are Minecraft's (walk 4.317 b/s, sprint 5.612, sneak 1.295, gravity
// about 32 b/s^2), so trajectories look like the game that VPT-style data comes from.
#include "envs/voxel_world.h"

#include <algorithm>
#include <cmath>

#include "envs/rng.h"
#include "envs/vpt_actions.h"
#include "kernels/core/error.h"

namespace wl {
namespace {

constexpr float kDt = 0.05f;            // one tick
constexpr int kSubsteps = 4;            // physics substeps per tick, so a fall never skips a block
constexpr float kHalfWidth = 0.3f;      // player box half extent along x and z
constexpr float kHeight = 1.8f;
constexpr float kEyeHeight = 1.62f, kSneakEyeHeight = 1.32f;
constexpr float kWalkSpeed = 4.317f, kSprintSpeed = 5.612f, kSneakSpeed = 1.295f;
// With gravity applied once per tick before moving, a 9.6 b/s jump peaks at 1.2 blocks: one block up.
constexpr float kGravity = 32.f, kJumpSpeed = 9.6f, kTerminalSpeed = 30.f;
constexpr float kReach = 4.5f;          // attack / use distance
constexpr int kUseRepeatTicks = 4;      // holding use places a block every 4 ticks, as Minecraft does
constexpr float kFovDeg = 70.f;         // vertical field of view
constexpr float kViewDistance = 48.f;   // fog is total here
constexpr float kEps = 1e-4f;

struct BlockLook {
  Vec3 top, side, bottom;  // 0..255 colours
  float texture;           // how much the per-texel noise darkens (0 flat .. 1 strong)
  int hardness;            // attack ticks to break; 0 = unbreakable
};
// Indexed by Block.
constexpr BlockLook kLooks[] = {
    {{0, 0, 0}, {0, 0, 0}, {0, 0, 0}, 0.f, 0},                            // Air
    {{96, 160, 56}, {134, 96, 67}, {134, 96, 67}, 0.18f, 2},              // Grass (sides get a green rim)
    {{134, 96, 67}, {134, 96, 67}, {134, 96, 67}, 0.2f, 2},               // Dirt
    {{125, 125, 125}, {125, 125, 125}, {125, 125, 125}, 0.22f, 5},        // Stone
    {{219, 207, 163}, {219, 207, 163}, {219, 207, 163}, 0.12f, 2},        // Sand
    {{48, 84, 200}, {48, 84, 200}, {48, 84, 200}, 0.06f, 0},              // Water
    {{168, 136, 84}, {102, 81, 51}, {168, 136, 84}, 0.25f, 3},            // Log
    {{58, 122, 38}, {58, 122, 38}, {58, 122, 38}, 0.45f, 1},              // Leaves
    {{170, 136, 82}, {170, 136, 82}, {170, 136, 82}, 0.15f, 3},           // Planks
    {{112, 112, 112}, {112, 112, 112}, {112, 112, 112}, 0.45f, 5},        // Cobblestone
    {{152, 72, 60}, {152, 72, 60}, {152, 72, 60}, 0.25f, 4},              // Brick
    {{246, 208, 62}, {246, 208, 62}, {246, 208, 62}, 0.15f, 4},           // Gold
    {{52, 52, 52}, {52, 52, 52}, {52, 52, 52}, 0.4f, 0},                  // Bedrock
};
static_assert(std::size(kLooks) == static_cast<size_t>(Block::Count));

// Light per face (+x, -x, +y, -y, +z, -z): the sun is high and towards +x +z.
constexpr float kFaceLight[6] = {0.86f, 0.68f, 1.0f, 0.5f, 0.78f, 0.62f};
constexpr float kShadowLight = 0.6f;    // a face whose air cell has a solid block somewhere above it
const Vec3 kSkyHorizon{186, 212, 240}, kSkyZenith{112, 158, 228}, kSun{255, 250, 214}, kWaterTint{36, 70, 170};
const Vec3 kSunDir = normalize({0.45f, 0.8f, 0.4f});

Vec3 sky(Vec3 d) {
  if (dot(d, kSunDir) > 0.9985f) return kSun;
  return lerp(kSkyHorizon, kSkyZenith, std::clamp(d.y * 1.6f, 0.f, 1.f));
}

// The lit, textured colour of the face a ray hit.
Vec3 surface(const VoxelGrid& g, const RayHit& h, Vec3 eye, Vec3 d) {
  const BlockLook& look = kLooks[static_cast<int>(h.block)];
  Vec3 p = eye + d * h.t;
  int axis = h.face / 2;
  float u = axis == 0 ? p.z : p.x, v = axis == 1 ? p.z : p.y;
  int tu = std::clamp(static_cast<int>((u - std::floor(u)) * 8.f), 0, 7);
  int tv = std::clamp(static_cast<int>((v - std::floor(v)) * 8.f), 0, 7);
  Vec3 base = h.face == 2 ? look.top : h.face == 3 ? look.bottom : look.side;
  if (h.block == Block::Grass && axis != 1 && tv >= 6) base = look.top;  // the grass rim on a side
  float noise = hash01(hash_coords(static_cast<uint64_t>(h.face), h.x * 16 + tu, h.y * 16 + tv, h.z * 16 + tu * tv));
  float shade = 1.f - look.texture * noise;
  if (h.block != Block::Leaves && (tu == 0 || tv == 0)) shade *= 0.9f;  // block outlines show the grid
  // Sky occlusion: the air cell in front of the face is shadowed when a solid block is above it.
  static constexpr int kNormal[6][3] = {{1, 0, 0}, {-1, 0, 0}, {0, 1, 0}, {0, -1, 0}, {0, 0, 1}, {0, 0, -1}};
  int ax = h.x + kNormal[h.face][0], ay = h.y + kNormal[h.face][1], az = h.z + kNormal[h.face][2];
  float light = kFaceLight[h.face];
  if (ax >= 0 && az >= 0 && ax < g.size_x && az < g.size_z && ay < g.top[static_cast<size_t>(ax) * g.size_z + az])
    light *= kShadowLight;
  return base * (shade * light);
}

uint8_t to_byte(float c) { return static_cast<uint8_t>(std::clamp(c + 0.5f, 0.f, 255.f)); }

}  // namespace

VoxelWorld::VoxelWorld(const WorldConfig& config) : config_(config), spec_(vpt_action_spec()) {
  frame_.width = config.width;
  frame_.height = config.height;
  frame_.rgb.assign(static_cast<size_t>(config.width) * config.height * 3, 0);
}

const Frame& VoxelWorld::reset(uint64_t seed) {
  grid_ = generate_terrain(seed, kWorldSize, kWorldHeight);
  player_ = VoxelPlayer{};
  // Spawn on dry land: the first column out from the centre, in a seed-dependent direction,
  // whose top block is neither water nor leaves.
  Rng rng(seed ^ 0x5EED);
  float angle = rng.uniform(0.f, 6.2831853f);
  int c = kWorldSize / 2;
  for (int r = 0; r < c - 4; ++r) {
    int x = c + static_cast<int>(std::lround(r * std::cos(angle))), z = c + static_cast<int>(std::lround(r * std::sin(angle)));
    int top = grid_.top[static_cast<size_t>(x) * grid_.size_z + z];
    Block surface = grid_.at(x, top - 1, z);
    if (surface != Block::Leaves && grid_.at(x, top, z) == Block::Air) {
      player_.position = {x + 0.5f, static_cast<float>(top), z + 0.5f};
      break;
    }
    if (r == c - 5) player_.position = {c + 0.5f, static_cast<float>(grid_.size_y - 4), c + 0.5f};
  }
  player_.yaw_deg = rng.uniform(-180.f, 180.f);
  player_.on_ground = true;
  attack_ticks_ = use_cooldown_ = 0;
  render();
  return frame_;
}

const Frame& VoxelWorld::step(std::span<const float> action) {
  VptAction a = vpt_from_vector(action);  // checks the width; bins out of range become the null bin
  cancel_opposites(a);
  update_camera_and_hotbar(a.buttons, a.camera_pitch_deg, a.camera_yaw_deg);
  move_player(a.buttons);
  interact(a.buttons);
  render();
  return frame_;
}

void VoxelWorld::update_camera_and_hotbar(const std::array<bool, 20>& buttons, double pitch_deg, double yaw_deg) {
  player_.pitch_deg = std::clamp(player_.pitch_deg + static_cast<float>(pitch_deg), -90.f, 90.f);
  player_.yaw_deg = std::remainder(player_.yaw_deg + static_cast<float>(yaw_deg), 360.f);
  for (int slot = 0; slot < 9; ++slot)  // the last pressed slot wins, as in VPT's hotbar group
    if (buttons[kHotbar1 + slot]) player_.hotbar_slot = slot;
}

bool VoxelWorld::box_hits_solid(Vec3 feet) const {
  int x0 = static_cast<int>(std::floor(feet.x - kHalfWidth + kEps)), x1 = static_cast<int>(std::floor(feet.x + kHalfWidth - kEps));
  int y0 = static_cast<int>(std::floor(feet.y + kEps)), y1 = static_cast<int>(std::floor(feet.y + kHeight - kEps));
  int z0 = static_cast<int>(std::floor(feet.z - kHalfWidth + kEps)), z1 = static_cast<int>(std::floor(feet.z + kHalfWidth - kEps));
  for (int x = x0; x <= x1; ++x)
    for (int z = z0; z <= z1; ++z)
      for (int y = y0; y <= y1; ++y) {
        // The world's sides and floor are walls; above the top is open.
        if (x < 0 || z < 0 || x >= grid_.size_x || z >= grid_.size_z || y < 0) return true;
        if (is_solid(grid_.at(x, y, z))) return true;
      }
  return false;
}

bool VoxelWorld::player_collides() const { return box_hits_solid(player_.position); }

bool VoxelWorld::move_axis(int axis, float delta) {
  Vec3 p = player_.position;
  float* c = axis == 0 ? &p.x : axis == 1 ? &p.y : &p.z;
  *c += delta;
  if (!box_hits_solid(p)) {
    player_.position = p;
    return false;
  }
  // Blocked: slide up to the boundary of the block in the way (the substep is under one block, so
  // the nearest boundary in the direction of travel is the right one).
  float lo = axis == 1 ? 0.f : kHalfWidth, hi = axis == 1 ? kHeight : kHalfWidth;
  float old = *c - delta;
  *c = delta > 0 ? std::floor(old + hi + delta) - hi - kEps : std::floor(old - lo + delta) + 1.f + lo + kEps;
  if ((delta > 0 ? *c < old : *c > old) || box_hits_solid(p)) *c = old;  // never move backwards into a wall
  player_.position = p;
  return true;
}

void VoxelWorld::move_player(const std::array<bool, 20>& buttons) {
  VoxelPlayer& pl = player_;
  int ex = static_cast<int>(std::floor(pl.position.x)), ez = static_cast<int>(std::floor(pl.position.z));
  bool in_water = grid_.at(ex, static_cast<int>(std::floor(pl.position.y + 0.4f)), ez) == Block::Water;
  pl.sneaking = buttons[kSneak];
  float forward = (buttons[kForward] ? 1.f : 0.f) - (buttons[kBack] ? 1.f : 0.f);
  float strafe = (buttons[kRight] ? 1.f : 0.f) - (buttons[kLeft] ? 1.f : 0.f);
  float speed = pl.sneaking ? kSneakSpeed : (buttons[kSprint] && forward > 0) ? kSprintSpeed : kWalkSpeed;
  if (in_water) speed *= 0.5f;
  float yaw = pl.yaw_deg * 0.017453292f;
  Vec3 f{std::sin(yaw), 0.f, std::cos(yaw)}, r{std::cos(yaw), 0.f, -std::sin(yaw)};
  Vec3 wish = f * forward + r * strafe;
  float len = std::sqrt(dot(wish, wish));
  if (len > 0.f) wish = wish * (speed / len);
  // Full control on the ground, a little in the air (so jumps keep their momentum).
  float grip = pl.on_ground || in_water ? 1.f : 0.15f;
  pl.velocity.x += (wish.x - pl.velocity.x) * grip;
  pl.velocity.z += (wish.z - pl.velocity.z) * grip;
  if (in_water) {
    pl.velocity.y = buttons[kJump] ? 2.5f : std::max(pl.velocity.y - 6.f * kDt, -2.f);
  } else {
    if (buttons[kJump] && pl.on_ground) pl.velocity.y = kJumpSpeed;
    pl.velocity.y = std::max(pl.velocity.y - kGravity * kDt, -kTerminalSpeed);
  }
  pl.on_ground = false;
  float h = kDt / kSubsteps;
  for (int s = 0; s < kSubsteps; ++s) {
    if (move_axis(1, pl.velocity.y * h)) {
      if (pl.velocity.y < 0) pl.on_ground = true;
      pl.velocity.y = 0.f;
    }
    Vec3 before = pl.position;
    if (move_axis(0, pl.velocity.x * h)) pl.velocity.x = 0.f;
    if (move_axis(2, pl.velocity.z * h)) pl.velocity.z = 0.f;
    // Sneaking on the ground never walks off an edge, as in Minecraft.
    if (pl.sneaking && pl.on_ground && !box_hits_solid(pl.position + Vec3{0.f, -0.1f, 0.f})) {
      pl.position = before;
      pl.velocity.x = pl.velocity.z = 0.f;
    }
  }
}

void VoxelWorld::interact(const std::array<bool, 20>& buttons) {
  float yaw = player_.yaw_deg * 0.017453292f, pitch = player_.pitch_deg * 0.017453292f;
  Vec3 eye = player_.position + Vec3{0.f, player_.sneaking ? kSneakEyeHeight : kEyeHeight, 0.f};
  Vec3 d{std::sin(yaw) * std::cos(pitch), -std::sin(pitch), std::cos(yaw) * std::cos(pitch)};
  RayHit target = raycast(grid_, eye, d, kReach, false);
  if (buttons[kAttack] && target.hit && kLooks[static_cast<int>(target.block)].hardness > 0) {
    std::array<int, 3> cell{target.x, target.y, target.z};
    attack_ticks_ = cell == attack_target_ ? attack_ticks_ + 1 : 1;
    attack_target_ = cell;
    if (attack_ticks_ >= kLooks[static_cast<int>(target.block)].hardness) {
      grid_.set(target.x, target.y, target.z, Block::Air);
      attack_ticks_ = 0;
    }
  } else {
    attack_ticks_ = 0;
  }
  if (!buttons[kUse]) {
    use_cooldown_ = 0;
    return;
  }
  if (use_cooldown_ > 0) {
    --use_cooldown_;
    return;
  }
  if (!target.hit) return;
  static constexpr int kNormal[6][3] = {{1, 0, 0}, {-1, 0, 0}, {0, 1, 0}, {0, -1, 0}, {0, 0, 1}, {0, 0, -1}};
  int x = target.x + kNormal[target.face][0], y = target.y + kNormal[target.face][1], z = target.z + kNormal[target.face][2];
  Block there = grid_.at(x, y, z);
  if (!grid_.inside(x, y, z) || (there != Block::Air && there != Block::Water)) return;
  grid_.set(x, y, z, kHotbar[player_.hotbar_slot]);
  if (box_hits_solid(player_.position)) grid_.set(x, y, z, there);  // never place a block inside the player
  else use_cooldown_ = kUseRepeatTicks - 1;
}

void VoxelWorld::render() {
  const int W = frame_.width, H = frame_.height;
  const float yaw = player_.yaw_deg * 0.017453292f, pitch = player_.pitch_deg * 0.017453292f;
  const Vec3 eye = player_.position + Vec3{0.f, player_.sneaking ? kSneakEyeHeight : kEyeHeight, 0.f};
  const Vec3 fwd{std::sin(yaw) * std::cos(pitch), -std::sin(pitch), std::cos(yaw) * std::cos(pitch)};
  const Vec3 right{std::cos(yaw), 0.f, -std::sin(yaw)};
  const Vec3 up = cross(fwd, right);
  const float tan_h = std::tan(kFovDeg * 0.5f * 0.017453292f), aspect = static_cast<float>(W) / H;
  const bool under_water = grid_.at(static_cast<int>(std::floor(eye.x)), static_cast<int>(std::floor(eye.y)),
                                    static_cast<int>(std::floor(eye.z))) == Block::Water;
  const float view = under_water ? 20.f : kViewDistance;
  // The ray through pixel (px, py) is normalize((fwd + right * u[px]) + up * v[py]); the first sum
  // depends on the column only, so it is made once per column (same operations, same bits).
  column_rays_.resize(W);
  for (int px = 0; px < W; ++px) {
    const float u = (2.f * (px + 0.5f) / W - 1.f) * tan_h * aspect;
    column_rays_[px] = fwd + right * u;
  }
  uint8_t* out = frame_.rgb.data();
  surface_ids_.resize(static_cast<size_t>(W) * H);
  int32_t* id = surface_ids_.data();
  for (int py = 0; py < H; ++py) {
    const float v = (1.f - 2.f * (py + 0.5f) / H) * tan_h;
    const Vec3 up_v = up * v;
    for (int px = 0; px < W; ++px, out += 3, ++id) {
      const Vec3 d = normalize(column_rays_[px] + up_v);
      RayHit h = raycast(grid_, eye, d, view, !under_water);
      *id = h.hit ? ((h.y * kWorldSize + h.z) * kWorldSize + h.x) * 6 + h.face : -1;
      Vec3 c;
      if (!h.hit) {
        c = sky(d);
      } else {
        c = surface(grid_, h, eye, d);
        if (h.block == Block::Water) {
          // See through the surface to the bottom; deeper water is bluer.
          RayHit bottom = raycast(grid_, eye + d * (h.t + kEps), d, 12.f, false);
          float depth = bottom.hit ? bottom.t : 12.f;
          Vec3 floor_colour = bottom.hit ? surface(grid_, bottom, eye + d * (h.t + kEps), d) : kWaterTint;
          c = lerp(floor_colour, c, std::clamp(0.45f + depth * 0.06f, 0.f, 0.9f));
        }
        float fog = std::clamp((h.t - view * 0.4f) / (view * 0.6f), 0.f, 1.f);
        c = lerp(c, under_water ? kWaterTint : kSkyHorizon, fog * fog);
      }
      if (under_water) c = lerp(c, kWaterTint, 0.4f);
      out[0] = to_byte(c.x), out[1] = to_byte(c.y), out[2] = to_byte(c.z);
    }
  }
  draw_hud();
}

void VoxelWorld::draw_hud() {
  const int W = frame_.width, H = frame_.height;
  auto pixel = [&](int x, int y) { return frame_.rgb.data() + (static_cast<size_t>(y) * W + x) * 3; };
  // Crosshair: an inverted plus, visible on any background.
  auto invert = [&](int x, int y) {
    uint8_t* p = pixel(x, y);
    for (int k = 0; k < 3; ++k) p[k] = static_cast<uint8_t>(255 - p[k]);
  };
  int cx = W / 2, cy = H / 2;
  for (int i = -2; i <= 2; ++i) invert(cx + i, cy);
  for (int i = -2; i <= 2; ++i)
    if (i != 0) invert(cx, cy + i);
  // Hotbar: nine slots along the bottom showing each block, the selected one framed in white.
  int slot = std::max(4, W / 16), total = 9 * slot + 1;
  int x0 = (W - total) / 2, y0 = H - slot - 2;
  if (x0 < 0 || y0 < 0) return;
  for (int s = 0; s < 9; ++s) {
    Vec3 fill = kLooks[static_cast<int>(kHotbar[s])].side;
    bool selected = s == player_.hotbar_slot;
    for (int y = y0; y <= y0 + slot; ++y)
      for (int x = x0 + s * slot; x <= x0 + (s + 1) * slot; ++x) {
        bool border = y == y0 || y == y0 + slot || x == x0 + s * slot || x == x0 + (s + 1) * slot;
        uint8_t* p = pixel(x, y);
        surface_ids_[static_cast<size_t>(y) * W + x] = -1;
        Vec3 c = border ? (selected ? Vec3{255, 255, 255} : Vec3{40, 40, 40}) : fill;
        p[0] = to_byte(c.x), p[1] = to_byte(c.y), p[2] = to_byte(c.z);
      }
  }
}

}  // namespace wl
