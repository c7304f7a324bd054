// World directory lookup (see world_files.h).
#include "sim/world_files.h"

#include <cstdlib>
#include <filesystem>

#include "kernels/core/error.h"

namespace wl {

namespace fs = std::filesystem;

std::vector<std::string> world_search_dirs() {
  std::vector<std::string> dirs;
  if (const char* env = std::getenv("WL_ASSETS"); env && *env) dirs.push_back((fs::path(env) / "worlds").string());
  dirs.push_back((fs::path(WL_SOURCE_ASSETS_DIR) / "worlds").string());
  return dirs;
}

WorldFiles locate_world(const std::string& name_or_dir) {
  WL_CHECK(!name_or_dir.empty(), "no world given: pass --world NAME or --model DIR");
  std::vector<fs::path> candidates;
  bool is_path = name_or_dir.find('/') != std::string::npos || fs::is_directory(name_or_dir);
  if (is_path) {
    candidates.push_back(name_or_dir);
  } else {
    for (const auto& d : world_search_dirs()) candidates.push_back(fs::path(d) / name_or_dir);
  }
  for (const auto& dir : candidates) {
    if (!fs::is_directory(dir)) continue;
    WorldFiles files{dir.string(), (dir / "config.json").string(), (dir / "model.safetensors").string()};
    WL_CHECK(fs::is_regular_file(files.config), "world '", name_or_dir, "': ", files.config,
             " is missing (a world directory needs config.json and model.safetensors)");
    WL_CHECK(fs::is_regular_file(files.weights), "world '", name_or_dir, "': ", files.weights,
             " is missing (a world directory needs config.json and model.safetensors)");
    return files;
  }
  std::string searched;
  for (const auto& c : candidates) searched += (searched.empty() ? "" : ", ") + c.string();
  throw Error(str("world '", name_or_dir, "' not found (looked in ", searched, "). ",
                  is_path ? "Check the path." :
                            "No trained world ships in assets/worlds/ yet; pass --model DIR for a world directory of your own."));
}

}  // namespace wl
