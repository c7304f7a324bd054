// at::Tensor <-> safetensors. Loading is zero-copy: the tensor points into the file's private
// memory map and keeps it alive; when a tensor's bytes are not aligned to its element size (only in
// files written by other tools) it is copied instead. Saving takes CPU tensors of any layout.
// Callers: model loaders, `worldloop forward`, tests. <torch/torch.h> stays out of this header.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "model/safetensors.h"

namespace at {
class Tensor;
}

namespace wl {

at::Tensor load_tensor(const SafetensorsFile& file, const TensorEntry& entry);
at::Tensor load_tensor(const SafetensorsFile& file, std::string_view name);

// Every tensor of a file by name (zero-copy where aligned).
std::map<std::string, at::Tensor> load_tensors(const SafetensorsFile& file);

// Writes CPU tensors (made contiguous first) atomically; see write_safetensors.
void save_tensors(const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                  const std::map<std::string, std::string>& metadata = {});

}  // namespace wl
