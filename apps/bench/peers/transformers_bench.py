#!/usr/bin/env python3
"""Hugging Face transformers as a throughput peer of `ignis-bench compare`.

Runs the exact workload ignis-bench ran: a model of the same shape (its config.json, random
weights on the GPU, bf16) and the same requests (a JSONL dataset of input_ids and output_tokens,
as `ignis-bench dataset` writes it), greedy, every request generating its full output length.
Modes (several in one process share the model):
  static      generate() over batches of --batch-size prompts (left-padded if lengths differ)
  continuous  transformers' own continuous batching (generate_batch, paged attention)
Prints one JSON object per mode on stdout (an "error" field when the mode failed); progress on stderr.
Usage: python3 transformers_bench.py --config config.json --dataset requests.jsonl \
         --mode static:1000 --mode continuous:256 [--batch-size 256]
MODE:N runs the first N requests of the dataset (all of them without :N).
"""
import argparse
import json
import sys
import time


def log(message):
    print(message, file=sys.stderr, flush=True)


def load_requests(path):
    with open(path) as f:
        lines = [json.loads(line) for line in f if line.strip()]
    if any("input_ids" not in r for r in lines):
        raise ValueError("the dataset must hold input_ids (make it with --tokens ids)")
    return [(r["input_ids"], r["output_tokens"]) for r in lines]


def build_model(config_path):
    import torch
    import transformers

    with open(config_path) as f:
        raw = json.load(f)
    model_class = getattr(transformers, raw["architectures"][0])
    config = model_class.config_class.from_dict({k: v for k, v in raw.items() if k not in ("dtype", "torch_dtype")})
    torch.manual_seed(0)
    torch.set_default_dtype(torch.bfloat16)  # random init straight in bf16: half the memory and time
    with torch.device("cuda"):
        model = model_class(config).eval()
    torch.set_default_dtype(torch.float32)
    return model


def static(model, requests, batch_size):
    """generate() over batches; returns output tokens."""
    import torch

    produced = 0
    for start in range(0, len(requests), batch_size):
        batch = requests[start:start + batch_size]
        width = max(len(ids) for ids, _ in batch)
        ids = torch.tensor([[0] * (width - len(p)) + p for p, _ in batch], device="cuda")
        mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p, _ in batch], device="cuda")
        new = max(n for _, n in batch)
        out = model.generate(ids, attention_mask=mask, max_new_tokens=new, min_new_tokens=new, do_sample=False, pad_token_id=0)
        produced += sum(min(n, out.shape[1] - width) for _, n in batch)
        log(f"static: {start + len(batch)}/{len(requests)} requests")
    return produced


def continuous(model, requests, batch_size):
    """transformers' continuous batching; returns output tokens."""
    from transformers import GenerationConfig

    new = max(n for _, n in requests)
    generation = GenerationConfig(max_new_tokens=new, min_new_tokens=new, do_sample=False, eos_token_id=-1,
                                  num_blocks=4096, block_size=128, max_batch_tokens=8192)
    outputs = model.generate_batch(inputs=[ids for ids, _ in requests], generation_config=generation)
    return sum(len(o.generated_tokens) for o in outputs.values())


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--mode", action="append", required=True)
    parser.add_argument("--batch-size", type=int, default=256)
    args = parser.parse_args()
    requests = load_requests(args.dataset)
    import torch
    import transformers

    if not torch.cuda.is_available():
        raise RuntimeError("no CUDA device for PyTorch")
    about = {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "transformers": transformers.__version__}
    model = build_model(args.config)
    for spec in args.mode:
        mode, _, count = spec.partition(":")
        chosen = requests[:int(count)] if count else requests
        result = {"engine": f"transformers-{mode}", "numRequests": len(chosen), "batchSize": args.batch_size if mode == "static" else None, **about}
        try:
            run = {"static": static, "continuous": continuous}[mode]
            run(model, [(ids, 4) for ids, _ in chosen[:8]], args.batch_size)  # warm-up
            torch.cuda.synchronize()
            start = time.perf_counter()
            output_tokens = run(model, chosen, args.batch_size)
            torch.cuda.synchronize()
            elapsed = time.perf_counter() - start
            input_tokens = sum(len(ids) for ids, _ in chosen)
            result.update(elapsedSeconds=elapsed, inputTokens=input_tokens, outputTokens=output_tokens,
                          requestsPerSecond=len(chosen) / elapsed, outputTokensPerSecond=output_tokens / elapsed,
                          totalTokensPerSecond=(input_tokens + output_tokens) / elapsed, error=None)
        except Exception as error:  # one mode's failure (an API that moved between versions) must not hide the others
            result["error"] = f"{type(error).__name__}: {error}"
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    try:
        main()
    except Exception as error:
        print(json.dumps({"error": f"{type(error).__name__}: {error}"}), flush=True)
        sys.exit(1)
