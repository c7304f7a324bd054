// A minimal float 3-vector for the simulators' cameras and physics (the worlds need a dot, a cross
// and a normalise, not a math library). Header-only; used by envs/*_world.cpp and voxel_terrain.
#pragma once

#include <cmath>

namespace wl {

struct Vec3 {
  float x = 0.f, y = 0.f, z = 0.f;
  Vec3 operator+(Vec3 o) const { return {x + o.x, y + o.y, z + o.z}; }
  Vec3 operator-(Vec3 o) const { return {x - o.x, y - o.y, z - o.z}; }
  Vec3 operator*(float s) const { return {x * s, y * s, z * s}; }
  Vec3& operator+=(Vec3 o) { return *this = *this + o; }
};
inline float dot(Vec3 a, Vec3 b) { return a.x * b.x + a.y * b.y + a.z * b.z; }
inline Vec3 cross(Vec3 a, Vec3 b) { return {a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x}; }
inline Vec3 normalize(Vec3 v) { return v * (1.f / std::sqrt(dot(v, v))); }
inline Vec3 lerp(Vec3 a, Vec3 b, float t) { return a + (b - a) * t; }

}  // namespace wl
