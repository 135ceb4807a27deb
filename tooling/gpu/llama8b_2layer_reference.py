#!/usr/bin/env python3
"""A 2-layer model with Llama-3.1-8B widths (bf16, random weights) and transformers' logits on it.

Writes OUT/ (config.json, model.safetensors, ...) and OUT/reference-logits.safetensors holding
`ids` (64 prompt tokens, as f32), `logits_f32` (transformers in float32 on the bf16 weights, TF32
off: the reference) and `logits_bf16` (transformers' own bf16 run: a peer's bf16 error for scale).
Usage: python3 tooling/gpu/llama8b_2layer_reference.py OUT
"""
import sys

import torch
from safetensors.torch import save_file
from transformers import LlamaConfig, LlamaForCausalLM

out = sys.argv[1]
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
config = LlamaConfig(
    hidden_size=4096, intermediate_size=14336, num_hidden_layers=2, num_attention_heads=32, num_key_value_heads=8,
    vocab_size=128256, max_position_embeddings=131072, rms_norm_eps=1e-5, tie_word_embeddings=False,
    rope_parameters=dict(rope_type="llama3", rope_theta=500000.0, factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
                         original_max_position_embeddings=8192),
    bos_token_id=128000, eos_token_id=128001,
)
torch.manual_seed(0)
with torch.device("cuda"):
    model = LlamaForCausalLM(config).to(torch.bfloat16)
model.save_pretrained(out)
ids = torch.randint(0, config.vocab_size, (1, 64), generator=torch.Generator().manual_seed(1)).cuda()
with torch.no_grad():
    bf16 = model(ids).logits[0].float().cpu()
    f32 = model.float()(ids).logits[0].float().cpu()
err = ((bf16 - f32).norm() / f32.norm()).item()
save_file({"ids": ids[0].float().cpu(), "logits_f32": f32.contiguous(), "logits_bf16": bf16.contiguous()}, f"{out}/reference-logits.safetensors")
print(f"wrote {out}: transformers bf16 vs f32 logits relative error {err:.3e}")
