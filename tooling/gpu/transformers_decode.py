#!/usr/bin/env python3
"""Single-sequence decode of the Llama-3.1-8B shape in Hugging Face transformers, as a peer.

Random bf16 weights on the GPU, a 128-token prompt, 256 greedy tokens (EOS ignored), the same
workload as `ignis-bench latency --model synthetic:llama-3.1-8b --input-len 128 --output-len 256`.
Modes: `eager` (generate with the default dynamic cache) and `compiled` (a static cache, with
which generate() compiles the forward with torch.compile: the fastest transformers gets). Prints decode tokens/s (after the first token).
Usage: python3 tooling/gpu/transformers_decode.py [eager|compiled ...]
"""
import sys
import time

import torch
from transformers import LlamaConfig, LlamaForCausalLM

config = LlamaConfig(
    hidden_size=4096, intermediate_size=14336, num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=8,
    vocab_size=128256, max_position_embeddings=131072, rms_norm_eps=1e-5,
    rope_parameters=dict(rope_type="llama3", rope_theta=500000.0, factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
                         original_max_position_embeddings=8192),
)
torch.manual_seed(0)
with torch.device("cuda"):
    model = LlamaForCausalLM(config).to(torch.bfloat16).eval()
prompt = torch.randint(0, config.vocab_size, (1, 128), device="cuda")


def decode_rate(**kwargs):
    """Decode tokens/s of one 256-token generation: (256 - 1) tokens over the time after the first."""
    torch.cuda.synchronize()
    start = time.perf_counter()
    model.generate(prompt, max_new_tokens=1, min_new_tokens=1, do_sample=False, **kwargs)
    torch.cuda.synchronize()
    first = time.perf_counter() - start
    start = time.perf_counter()
    out = model.generate(prompt, max_new_tokens=256, min_new_tokens=256, do_sample=False, **kwargs)
    torch.cuda.synchronize()
    total = time.perf_counter() - start
    assert out.shape[1] == 128 + 256
    return 255 / (total - first)


for mode in sys.argv[1:] or ["eager"]:
    kwargs = {}
    if mode == "compiled":
        # A static cache makes generate() compile the forward itself (transformers' own path).
        kwargs = {"cache_implementation": "static"}
    decode_rate(**kwargs)  # warm-up (and compilation)
    rates = [decode_rate(**kwargs) for _ in range(3)]
    print(f"transformers {mode}: decode {sorted(rates)[1]:.1f} tokens/s (runs: {', '.join(f'{r:.1f}' for r in rates)})", flush=True)
