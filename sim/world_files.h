// Where a world lives on disk: assets/worlds/<name>/ (shipped) or any directory the user names.
// A world directory holds config.json (model and world settings) and model.safetensors (weights).
// locate_world() finds and checks those files and throws wl::Error saying exactly what is missing.
// Callers: `worldloop play` and, later, every command that takes --world or --model.
#pragma once

#include <string>
#include <vector>

namespace wl {

struct WorldFiles {
  std::string dir;       // the world directory
  std::string config;    // dir/config.json
  std::string weights;   // dir/model.safetensors
};

// The folders searched for a world given by name: $WL_ASSETS/worlds, then the source tree's
// assets/worlds (compiled in), in that order.
std::vector<std::string> world_search_dirs();

// `name_or_dir`: a shipped world's name ("voxel") or a path to a world directory.
WorldFiles locate_world(const std::string& name_or_dir);

}  // namespace wl
