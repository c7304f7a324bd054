// Loading weights. The generic part (read every .safetensors file of a checkpoint, check names and
// shapes against what a model needs, report every problem by name in one error) serves the DiT
// and both video decoders. The DiT part: LinearDiT weights from any of the naming dialects a user may bring, into official Sana
// key names (the names our modules use):
//   official  NVlabs/Sana .pth converted to safetensors: "blocks.0.attn.qkv.weight", ...
//   diffusers SanaVideoTransformer3DModel: "transformer_blocks.0.attn1.to_q.weight", ... (q/k/v and
//             k/v are concatenated back into qkv and kv_linear)
//   LongSANA  "generator.model.<key>" or "model.<key>" prefixes (stripped)
// The one mapping table lives in checkpoint.cpp. Every tensor is checked against the shapes the
// config implies; missing, unexpected and wrong-shape tensors are each reported by name, and a
// checkpoint with any of them is refused. Callers: LinearDiT::load, `worldloop forward`, tests.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "model/dit_config.h"

namespace at {
class Tensor;
}

namespace wl {

using TensorMap = std::map<std::string, at::Tensor>;

// [SECTION] generic

// Every tensor of a .safetensors file, or of all .safetensors files in a directory (entering the
// diffusers pipeline component `subdir`, e.g. "vae", when the directory has one), by name;
// zero-copy, file dtype, CPU. A name in two files is an error.
TensorMap read_weight_files(const std::string& path, const std::string& subdir);

// Throws one wl::Error naming every missing, unexpected and wrong-shape tensor of `tensors`
// against `expected` (names -> shapes); `ignorable` names are neither used nor reported.
// `what` describes the model ("Wan2.1 VAE decoder (...)"), `hint` ends the message.
void check_tensor_names(const TensorMap& tensors, const ShapeMap& expected,
                        const std::function<bool(const std::string&)>& ignorable, const std::string& source,
                        const std::string& what, const std::string& hint);

// [SECTION] the DiT

struct DiTCheckpoint {
  DiTConfig config;
  TensorMap tensors;            // official names, file dtype, CPU (zero-copy from the map)
  std::string dialect;          // "official", "diffusers" or "longsana"
  std::vector<std::string> ignored;   // buffers the official loader drops (pos_embed, y_embedding)
  std::string source;           // the file or directory it came from
};

// `path`: a world/model directory (config.json + *.safetensors, or a diffusers layout with
// transformer/), or one .safetensors file. The config comes from, in order: config.json beside the
// weights, the file's "worldloop_config" metadata, then the shapes (see infer_dit_config).
DiTCheckpoint load_dit_checkpoint(const std::string& path);

// Renames a dialect's tensors to official names (exposed for tests). Sets `dialect`.
TensorMap to_official_names(TensorMap tensors, std::string& dialect);

// The tensors a config needs, official names -> shapes.
ShapeMap expected_dit_shapes(const DiTConfig& config);

// Throws one wl::Error listing, by name, every missing, unexpected and wrong-shape tensor
// ("missing: blocks.3.attn.proj.bias; wrong shape: x_embedder.proj.weight expected [..] found [..]").
void check_dit_tensors(const TensorMap& tensors, const DiTConfig& config, const std::string& source);

// Saves tensors under official names with the config in the file's metadata (world assets,
// tests, `worldloop forward --save-random`).
void save_dit_checkpoint(const std::string& path, const TensorMap& tensors, const DiTConfig& config);

}  // namespace wl
