// `worldloop forward` (see forward.h).
#include "sim/forward.h"

#include <ATen/ATen.h>

#include "kernels/core/error.h"
#include "kernels/core/log.h"
#include "model/linear_dit.h"
#include "model/tensor_io.h"

namespace wl {

void run_forward(const ForwardOptions& o) {
  DiTCheckpoint ckpt = load_dit_checkpoint(o.model);
  WL_LOG_INFO("forward", ckpt.config.describe(), " (", ckpt.dialect, " names) from ", o.model);
  LinearDiT model(ckpt, DiTOptions{o.device, o.bf16});

  SafetensorsFile file = SafetensorsFile::open(o.inputs);
  auto input = [&](const char* name) { return load_tensor(file, name); };
  auto optional = [&](const char* name) { return file.find(name) ? load_tensor(file, name) : at::Tensor(); };
  at::Tensor latents = input("latents"), timestep = input("timestep");
  CaptionContext caption = model.encode_caption(input("caption"), input("caption_mask"));
  at::Tensor actions = optional("actions");
  at::Tensor first = optional("first_frame");
  auto device = at::Device(o.device);

  std::map<std::string, at::Tensor> state_in;
  for (const auto& entry : file.tensors())
    if (entry.name.rfind("state.", 0) == 0) state_in[entry.name] = load_tensor(file, entry).to(device);
  bool use_state = o.commit || !state_in.empty();

  std::vector<std::pair<std::string, at::Tensor>> out;
  std::map<std::string, std::string> metadata = {{"model", o.model}, {"dialect", ckpt.dialect}, {"device", o.device},
                                                 {"dtype", o.bf16 ? "bf16" : "fp32"}};
  if (!use_state) {
    int64_t first_frame = first.defined() ? first.item<int64_t>() : 0;
    out.emplace_back("velocity", model.forward({latents, timestep, actions, first_frame}, caption).to(at::kFloat).cpu());
  } else {
    std::string policy = o.state_policy;
    if (policy.empty()) {
      auto it = file.metadata().find("state_policy");
      policy = it != file.metadata().end() ? it->second : "global";
    }
    WorldState state = model.new_state(latents.size(0), latents.size(3), latents.size(4), StatePolicy::parse(policy));
    if (!state_in.empty()) state.load_tensors(state_in, o.inputs);
    int64_t first_frame = first.defined() ? first.item<int64_t>() : state.next_frame();
    out.emplace_back("velocity",
                     model.forward({latents, timestep, actions, first_frame}, caption, state, o.commit).to(at::kFloat).cpu());
    for (auto& [name, t] : state.to_tensors()) out.emplace_back(name, t.cpu());
    metadata["state_policy"] = state.policy().name();
  }
  save_tensors(o.out, out, metadata);
  WL_LOG_INFO("forward", "wrote ", o.out);
}

}  // namespace wl
