#!/usr/bin/env python3
"""Offline throughput of the Llama-3.1-8B shape in Hugging Face transformers, as a peer.

The workload of `ignis-bench throughput --model synthetic:llama-3.1-8b --num-requests N
--input-len 128 --output-len 128`: random bf16 weights on the GPU, N random 128-token prompts,
128 greedy tokens each (EOS ignored), wall time from the first request to the last token.
Modes:
  static      generate() over batches of 256 prompts (all the same length: no padding)
  continuous  transformers' own continuous batching (generate_batch, paged attention)
Usage: python3 tooling/gpu/transformers_throughput.py MODE[:REQUESTS] ...   (default static:1000)
"""
import sys
import time

import torch
from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

INPUT_LEN, OUTPUT_LEN, BATCH = 128, 128, 256

config = LlamaConfig(
    hidden_size=4096, intermediate_size=14336, num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=8,
    vocab_size=128256, max_position_embeddings=131072, rms_norm_eps=1e-5,
    rope_parameters=dict(rope_type="llama3", rope_theta=500000.0, factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
                         original_max_position_embeddings=8192),
)
torch.manual_seed(0)
with torch.device("cuda"):
    model = LlamaForCausalLM(config).to(torch.bfloat16).eval()


def prompts(n):
    return torch.randint(0, config.vocab_size, (n, INPUT_LEN), device="cuda")


def static(n):
    """generate() over batches of BATCH; returns output tokens."""
    ids = prompts(n)
    produced = 0
    for start in range(0, n, BATCH):
        batch = ids[start:start + BATCH]
        out = model.generate(batch, attention_mask=torch.ones_like(batch), max_new_tokens=OUTPUT_LEN,
                             min_new_tokens=OUTPUT_LEN, do_sample=False)
        produced += (out.shape[1] - INPUT_LEN) * out.shape[0]
    return produced


def continuous(n):
    """transformers' continuous batching; returns output tokens."""
    ids = prompts(n).tolist()
    generation = GenerationConfig(max_new_tokens=OUTPUT_LEN, min_new_tokens=OUTPUT_LEN, do_sample=False, eos_token_id=-1,
                                  num_blocks=4096, block_size=128, max_batch_tokens=8192)
    outputs = model.generate_batch(inputs=ids, generation_config=generation)
    return sum(len(o.generated_tokens) for o in outputs.values())


for arg in sys.argv[1:] or ["static:1000"]:
    mode, _, count = arg.partition(":")
    n = int(count or 1000)
    run = {"static": static, "continuous": continuous}[mode]
    try:
        run(8)  # warm-up
        torch.cuda.synchronize()
        start = time.perf_counter()
        tokens = run(n)
        torch.cuda.synchronize()
        elapsed = time.perf_counter() - start
        print(f"transformers {mode}: {n} requests {INPUT_LEN} in / {OUTPUT_LEN} out: {tokens} output tokens in {elapsed:.1f} s "
              f"= {tokens / elapsed:.1f} output tokens/s, {(tokens + n * INPUT_LEN) / elapsed:.1f} total tokens/s", flush=True)
    except Exception as error:  # a peer's API may differ between versions: report, go on
        print(f"transformers {mode}: failed: {type(error).__name__}: {error}", flush=True)
