// `worldloop info FILE.safetensors`: what a checkpoint holds, without loading it into torch.
// Prints tensor count, parameter count, dtypes, total bytes, metadata and a table of names with
// shapes (optionally only names under a prefix). Throws wl::Error on a malformed file.
#pragma once

#include <iosfwd>
#include <string>

namespace wl {

struct InfoOptions {
  std::string path;     // the safetensors file
  std::string prefix;   // only list tensors whose name starts with this ("" = all)
};

void print_info(const InfoOptions& options, std::ostream& out);

}  // namespace wl
