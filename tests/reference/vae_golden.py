"""Golden files for the two video decoders (model/wan_vae.h, model/taehv.h).

Usage: vae_golden.py OUT_DIR [--seed S]   (run inside the venv made by setup_venv.sh)

Wan2.1 VAE: a small diffusers AutoencoderKLWan (base_dim 16, so decoder widths 64/64/64/32/16
instead of 384/384/384/192/96; z_dim 16, the real block structure) with random weights, decoded by
diffusers' own per-latent cached loop. TAEHV: no package ships it, so TAEHVDecoder below is our own
PyTorch description of taehv.py's decoder (same Sequential indices, so the same state-dict keys,
same widths 256/128/64/64 as taew2_1) applied the reference's parallel way (each MemBlock sees its
input shifted by one frame, zero at t = 0), trimmed by 3 frames. fp32, CPU, torch.no_grad. Writes:
  inputs.safetensors         latents [2, 16, 3, 2, 3]: normalised, as the DiT produces them
  wan_weights.safetensors    AutoencoderKLWan.state_dict(), diffusers names (encoder included)
  wan_config.json            the diffusers config
  wan_outputs.safetensors    "output" [2, 3, 9, 16, 24] in [-1, 1] and named intermediates
  taehv_weights.safetensors  TAEHVDecoder.state_dict(): decoder.{1,3-5,7,8,9-11,13,14,15-17,19,20,22}.*
  taehv_outputs.safetensors  "output" [2, 9, 3, 16, 24] (NTCHW, as taehv) in [0, 1] and intermediates
README.md lists every tensor. Deterministic for a given seed.
"""

import argparse
import json
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
import diffusers
from diffusers import AutoencoderKLWan
from safetensors.torch import save_file

WAN_CONFIG = dict(base_dim=16, z_dim=16, dim_mult=[1, 2, 4, 4], num_res_blocks=2, attn_scales=[],
                  temperal_downsample=[False, True, True], dropout=0.0)
BATCH, LATENT_FRAMES, LATENT_H, LATENT_W = 2, 3, 2, 3   # -> 1 + 4 * 2 = 9 frames of 16 x 24 pixels


# [SECTION] TAEHV decoder, from our description of madebyollin/taehv taehv.py (taew2_1 settings:
# 16 latent channels, patch size 1, decoder_time_upscale (False, True, True), space upscale on).

class MemBlock(nn.Module):
    """relu(conv(cat(x, past)) + skip(x)); conv = 3x3, relu, 3x3, relu, 3x3; skip = identity here."""
    def __init__(self, n):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(2 * n, n, 3, padding=1), nn.ReLU(),
                                  nn.Conv2d(n, n, 3, padding=1), nn.ReLU(),
                                  nn.Conv2d(n, n, 3, padding=1))
        self.skip = nn.Identity()

    def forward(self, x, past):
        return F.relu(self.conv(torch.cat([x, past], 1)) + self.skip(x))


class TGrow(nn.Module):
    """One frame -> `stride` frames: a 1x1 conv to stride * C channels; channel chunk 0 is earliest."""
    def __init__(self, n, stride):
        super().__init__()
        self.stride = stride
        self.conv = nn.Conv2d(n, n * stride, 1, bias=False)

    def forward(self, x):
        nt, c, h, w = x.shape
        return self.conv(x).reshape(nt * self.stride, c, h, w)


class Clamp(nn.Module):
    def forward(self, x):
        return torch.tanh(x / 3) * 3


class TAEHVDecoder(nn.Module):
    def __init__(self, latent_channels=16, widths=(256, 128, 64, 64), time_upscale=(False, True, True)):
        super().__init__()
        n = widths
        layers = [Clamp(), nn.Conv2d(latent_channels, n[0], 3, padding=1), nn.ReLU()]
        for stage in range(3):
            layers += [MemBlock(n[stage]), MemBlock(n[stage]), MemBlock(n[stage]),
                       nn.Upsample(scale_factor=2), TGrow(n[stage], 2 if time_upscale[stage] else 1),
                       nn.Conv2d(n[stage], n[stage + 1], 3, padding=1, bias=False)]
        layers += [nn.ReLU(), nn.Conv2d(n[3], 3, 3, padding=1)]
        self.decoder = nn.Sequential(*layers)
        self.frames_to_trim = 2 ** sum(time_upscale) - 1

    def forward(self, latents, captured):
        """latents NTCHW -> frames NTCHW in [0, 1], the first frames_to_trim raw frames dropped."""
        n = latents.shape[0]
        x = latents.reshape(-1, *latents.shape[2:])
        for i, layer in enumerate(self.decoder):
            if isinstance(layer, MemBlock):
                seq = x.reshape(n, -1, *x.shape[1:])
                past = F.pad(seq, (0, 0, 0, 0, 0, 0, 1, 0))[:, :-1].reshape(x.shape)
                x = layer(x, past)
            else:
                x = layer(x)
            captured[f"decoder.{i}"] = x.reshape(n, -1, *x.shape[1:]).contiguous().clone()
        x = x.reshape(n, -1, *x.shape[1:])
        return x.clamp(0, 1)[:, self.frames_to_trim:]


# [SECTION] initialisation and capture

def reinitialise(model, gen, relu_gain):
    """Weights N(0, gain/fan_in) (gain 2 before ReLUs keeps activations O(1)), biases N(0, 0.1^2),
    RMS-norm gammas 1 + N(0, 0.1^2). Every parameter of the decoders is touched."""
    for name, p in model.named_parameters():
        if name.endswith(".gamma"):
            values = 1.0 + torch.randn(p.shape, generator=gen) * 0.1
        elif name.endswith(".bias"):
            values = torch.randn(p.shape, generator=gen) * 0.1
        elif name.endswith(".weight") and p.dim() >= 2:
            values = torch.randn(p.shape, generator=gen) * math.sqrt(relu_gain / p[0].numel())
        else:
            raise SystemExit(f"vae_golden.py: no initialisation rule for parameter {name} {tuple(p.shape)}")
        with torch.no_grad():
            p.copy_(values)


def wan_hooks(vae, captured):
    """The decoder runs once per latent; each hook appends its output and main() concatenates the
    per-latent pieces along time."""
    pieces = {}

    def keep(name):
        return lambda module, args, out: pieces.setdefault(name, []).append(out.detach().clone())

    vae.post_quant_conv.register_forward_hook(keep("post_quant_conv"))
    dec = vae.decoder
    dec.conv_in.register_forward_hook(keep("decoder.conv_in"))
    dec.mid_block.register_forward_hook(keep("decoder.mid_block"))
    for i, block in enumerate(dec.up_blocks):
        block.register_forward_hook(keep(f"decoder.up_blocks.{i}"))
    dec.conv_out.register_forward_hook(keep("decoder.conv_out"))

    def collect():
        for name, parts in pieces.items():
            captured[name] = torch.cat(parts, 2).contiguous()
    return collect


def check_finite(captured, what):
    for name, t in captured.items():
        if not torch.isfinite(t).all():
            raise SystemExit(f"vae_golden.py: non-finite values in {what} {name}")


def report(captured, what):
    width = max(len(k) for k in captured)
    for name, t in captured.items():
        print(f"  {what} {name:<{width}}  {str(list(t.shape)):<22} rms {t.pow(2).mean().sqrt().item():.4f}",
              file=sys.stderr)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    os.makedirs(args.out_dir, exist_ok=True)
    provenance = {"generator": "tests/reference/vae_golden.py", "seed": str(args.seed),
                  "diffusers": diffusers.__version__, "torch": torch.__version__}

    latents = torch.randn(BATCH, WAN_CONFIG["z_dim"], LATENT_FRAMES, LATENT_H, LATENT_W, generator=gen)
    save_file({"latents": latents.contiguous()}, os.path.join(args.out_dir, "inputs.safetensors"))

    # Wan2.1: the pipelines' de-normalisation (latents / (1 / std) + mean), then vae.decode.
    vae = AutoencoderKLWan(**WAN_CONFIG).eval()
    reinitialise(vae, gen, relu_gain=1.0)
    with torch.no_grad():
        vae.decoder.conv_out.weight.mul_(0.5)   # keep most of the output inside the [-1, 1] clamp
    captured = {}
    collect = wan_hooks(vae, captured)
    mean = torch.tensor(vae.config.latents_mean).view(1, -1, 1, 1, 1)
    inv_std = 1.0 / torch.tensor(vae.config.latents_std).view(1, -1, 1, 1, 1)
    with torch.no_grad():
        z = latents / inv_std + mean
        output = vae.decode(z, return_dict=False)[0]
    collect()
    captured["denormalised"] = z.contiguous()
    captured["output"] = output.contiguous()
    check_finite(captured, "wan")
    state = {k: v.detach().to(torch.float32).contiguous() for k, v in vae.state_dict().items()}
    save_file(state, os.path.join(args.out_dir, "wan_weights.safetensors"), metadata={"format": "diffusers"})
    save_file(captured, os.path.join(args.out_dir, "wan_outputs.safetensors"), metadata=provenance)
    with open(os.path.join(args.out_dir, "wan_config.json"), "w") as f:
        json.dump(json.loads(vae.to_json_string()), f, indent=2, sort_keys=True)
        f.write("\n")
    report(captured, "wan")

    # TAEHV: the normalised latents directly (TAEHV uses no latent scale or shift), NTCHW.
    tae = TAEHVDecoder().eval()
    reinitialise(tae, gen, relu_gain=1.0)
    with torch.no_grad():
        tae.decoder[22].weight.mul_(0.5)        # keep most of the output inside the [0, 1] clamp
        tae.decoder[22].bias.add_(0.5)
    captured = {}
    with torch.no_grad():
        output = tae(latents.permute(0, 2, 1, 3, 4), captured)
    captured = {k: v for k, v in captured.items() if k in ("decoder.2", "decoder.5", "decoder.11", "decoder.17",
                                                         "decoder.19", "decoder.22")}
    captured["output"] = output.contiguous()
    check_finite(captured, "taehv")
    state = {k: v.detach().to(torch.float32).contiguous() for k, v in tae.state_dict().items()}
    save_file(state, os.path.join(args.out_dir, "taehv_weights.safetensors"), metadata={"format": "taehv"})
    save_file(captured, os.path.join(args.out_dir, "taehv_outputs.safetensors"), metadata=provenance)
    report(captured, "taehv")


if __name__ == "__main__":
    main()
