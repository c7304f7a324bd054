"""Golden files for the SANA-Video DiT from the public reference implementation.

Usage: sana_dit_golden.py OUT_DIR [--seed S]   (run inside the venv made by setup_venv.sh)

Builds a small SanaVideoTransformer3DModel (diffusers) in fp32 on the CPU with non-trivial random
weights, runs one forward under torch.no_grad and writes, into OUT_DIR:
  weights.safetensors  model.state_dict() with diffusers names (metadata {"format": "diffusers"})
  config.json          the diffusers config plus "worldloop_numerics" (eps values read from diffusers)
  inputs.safetensors   hidden_states, encoder_hidden_states, timestep, encoder_attention_mask
  outputs.safetensors  "output" and named intermediates captured with forward hooks
README.md lists every tensor with its shape. Deterministic for a given seed.
"""

import argparse
import inspect
import json
import math
import os
import re
import sys

import torch
import diffusers
from diffusers.models.transformers import transformer_sana_video as sv
from safetensors.torch import save_file

# The 2B model's architecture at toy size: D = 2 x 24 = 48, RoPE split t/h/w = 8/8/8 (as 40/36/36
# for head_dim 112), FFN hidden 144, 16 outputs per token (patch 1x2x2 x 4 channels).
CONFIG = dict(
    in_channels=4,
    out_channels=4,
    num_attention_heads=2,
    attention_head_dim=24,
    num_layers=2,
    num_cross_attention_heads=2,
    cross_attention_head_dim=24,
    cross_attention_dim=48,
    caption_channels=32,
    mlp_ratio=3.0,
    dropout=0.0,
    attention_bias=False,
    sample_size=8,
    patch_size=(1, 2, 2),
    norm_elementwise_affine=False,
    norm_eps=1e-6,
    qk_norm="rms_norm_across_heads",
    rope_max_seq_len=1024,
)
BATCH, FRAMES, HEIGHT, WIDTH, CAPTION_LEN = 2, 3, 8, 8, 7
TIMESTEPS = [999.0, 250.0]  # integers: Sana truncates timesteps, diffusers does not
MASKED_TAIL = 3  # the second sample's last 3 caption tokens are padding


def reinitialise(model, gen):
    """Every parameter gets random values that keep activations O(1): weights N(0, 1/fan_in),
    biases N(0, 0.1^2), norm weights 1 + N(0, 0.1^2), modulation tables N(0, 0.3^2). Among them
    ff.conv_temp, which diffusers (and Sana) initialise to zero, so the temporal shortcut is live."""
    for name, p in model.named_parameters():
        if name.endswith("scale_shift_table"):
            values = torch.randn(p.shape, generator=gen) * 0.3
        elif name.endswith(".bias"):
            values = torch.randn(p.shape, generator=gen) * 0.1
        elif name.endswith(".weight") and p.dim() == 1:  # RMSNorm gains (q/k norms, caption_norm)
            values = 1.0 + torch.randn(p.shape, generator=gen) * 0.1
        elif name.endswith(".weight") and p.dim() >= 2:  # Linear / Conv: fan_in = in/groups x kernel
            values = torch.randn(p.shape, generator=gen) / math.sqrt(p[0].numel())
        else:
            raise SystemExit(f"sana_dit_golden.py: no initialisation rule for parameter {name} {tuple(p.shape)}")
        with torch.no_grad():
            p.copy_(values)


def make_inputs(gen):
    hidden_states = torch.randn(BATCH, CONFIG["in_channels"], FRAMES, HEIGHT, WIDTH, generator=gen)
    encoder_hidden_states = torch.randn(BATCH, CAPTION_LEN, CONFIG["caption_channels"], generator=gen)
    timestep = torch.tensor(TIMESTEPS, dtype=torch.float32)
    mask = torch.ones(BATCH, CAPTION_LEN, dtype=torch.float32)
    mask[1, CAPTION_LEN - MASKED_TAIL:] = 0.0
    return dict(hidden_states=hidden_states, encoder_hidden_states=encoder_hidden_states,
                timestep=timestep, encoder_attention_mask=mask)


def literal_in_source(obj, pattern, what):
    """A constant that diffusers hard-codes (not a module attribute), read from its source so that
    a diffusers upgrade that changes it is noticed rather than silently mismatched."""
    match = re.search(pattern, inspect.getsource(obj))
    if not match:
        raise SystemExit(f"sana_dit_golden.py: cannot find {what} in diffusers' {obj.__qualname__}")
    return float(match.group(1))


def the_same(values, what):
    values = set(values)
    if len(values) != 1:
        raise SystemExit(f"sana_dit_golden.py: {what} differs across modules: {sorted(values)}")
    return values.pop()


def numerics(model):
    """The constants our loader must use to match diffusers exactly (Sana's differ; see README)."""
    blocks = model.transformer_blocks
    return {
        "self_attn_norm_eps": the_same([m.eps for b in blocks for m in (b.attn1.norm_q, b.attn1.norm_k)],
                                       "self-attention q/k RMSNorm eps"),
        "cross_attn_norm_eps": the_same([m.eps for b in blocks for m in (b.attn2.norm_q, b.attn2.norm_k)],
                                        "cross-attention q/k RMSNorm eps"),
        "linear_attn_eps": literal_in_source(sv.SanaLinearAttnProcessor3_0.__call__,
                                             r"@ query \+ ([0-9.eE+-]+)\)", "the linear-attention eps"),
        "caption_norm_eps": model.caption_norm.eps,
        "block_layer_norm_eps": the_same([m.eps for b in blocks for m in (b.norm1, b.norm2)],
                                         "block LayerNorm eps"),
        "final_layer_norm_eps": model.norm_out.norm.eps,
        "cross_attn_mask_bias": literal_in_source(sv.SanaVideoTransformer3DModel.forward,
                                                  r"encoder_attention_mask\.to\(hidden_states\.dtype\)\) \* (-[0-9.]+)",
                                                  "the cross-attention mask bias"),
        "rope_split": [model.rope.t_dim, model.rope.h_dim, model.rope.w_dim],
        "rope_angles_dtype": "float64" if not torch.backends.mps.is_available() else "float32",
        "timestep_truncation": False,
    }


def attach_hooks(model, captured):
    """Forward hooks that store named intermediates (detached clones, fp32, contiguous)."""
    def keep(name, tensor):
        captured[name] = tensor.detach().to(torch.float32).contiguous().clone()

    def hook(fn):
        return lambda module, args, out: fn(out)

    model.patch_embedding.register_forward_hook(
        hook(lambda out: keep("patch_embedding", out.flatten(2).transpose(1, 2))))

    def time_embed(out):
        timestep, embedded_timestep = out
        keep("time_embed.timestep", timestep)
        keep("time_embed.embedded_timestep", embedded_timestep)
    model.time_embed.register_forward_hook(hook(time_embed))

    model.caption_projection.register_forward_hook(hook(lambda out: keep("caption_projection", out)))
    model.caption_norm.register_forward_hook(hook(lambda out: keep("caption_norm", out)))

    def rope(out):
        freqs_cos, freqs_sin = out
        keep("rope.freqs_cos", freqs_cos)
        keep("rope.freqs_sin", freqs_sin)
    model.rope.register_forward_hook(hook(rope))

    for i, block in enumerate(model.transformer_blocks):
        prefix = f"transformer_blocks.{i}"
        block.register_forward_hook(hook(lambda out, p=prefix: keep(p, out)))
        block.attn1.register_forward_hook(hook(lambda out, p=prefix: keep(p + ".attn1", out)))
        block.attn2.register_forward_hook(hook(lambda out, p=prefix: keep(p + ".attn2", out)))
        block.ff.register_forward_hook(hook(lambda out, p=prefix: keep(p + ".ff", out.flatten(1, 3))))

    model.norm_out.register_forward_hook(hook(lambda out: keep("norm_out", out)))
    model.proj_out.register_forward_hook(hook(lambda out: keep("proj_out", out)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)

    model = sv.SanaVideoTransformer3DModel(**CONFIG).eval()  # fp32: torch's default dtype
    assert all(p.dtype == torch.float32 for p in model.parameters())
    reinitialise(model, gen)
    inputs = make_inputs(gen)

    captured = {}
    attach_hooks(model, captured)
    with torch.no_grad():
        output = model(**inputs, return_dict=False)[0]
    captured["output"] = output.contiguous().clone()

    for name, t in captured.items():
        if not torch.isfinite(t).all():
            raise SystemExit(f"sana_dit_golden.py: non-finite values in {name}")

    os.makedirs(args.out_dir, exist_ok=True)
    state = {k: v.detach().to(torch.float32).contiguous() for k, v in model.state_dict().items()}
    save_file(state, os.path.join(args.out_dir, "weights.safetensors"), metadata={"format": "diffusers"})
    save_file({k: v.contiguous() for k, v in inputs.items()}, os.path.join(args.out_dir, "inputs.safetensors"))
    provenance = {"generator": "tests/reference/sana_dit_golden.py", "seed": str(args.seed),
                  "diffusers": diffusers.__version__, "torch": torch.__version__}
    save_file(captured, os.path.join(args.out_dir, "outputs.safetensors"), metadata=provenance)

    config = json.loads(model.to_json_string())
    config["worldloop_numerics"] = numerics(model)
    with open(os.path.join(args.out_dir, "config.json"), "w") as f:
        json.dump(config, f, indent=2, sort_keys=True)
        f.write("\n")

    width = max(len(k) for k in captured)
    for name, t in captured.items():
        print(f"  {name:<{width}}  {str(list(t.shape)):<18} rms {t.pow(2).mean().sqrt().item():.4f}",
              file=sys.stderr)


if __name__ == "__main__":
    main()
