#!/usr/bin/env python3
"""Trains Ignis's demo models and exports them as Hugging Face checkpoints:

  1. a byte-level BPE tokenizer learned from the training chapters of the King James Version;
  2. the main model (~10M parameters): a small sweep of recipes, the best by validation loss;
  3. the draft model (~1.6M parameters, same tokenizer), distilled from the main model;
  4. each exported in bf16 with its tokenizer files and reference.json (transformers' greedy
     outputs), then measured on the held-out books: perplexity, and the draft's agreement with
     the main model (teacher-forced argmax).

Runs on one GPU in a few minutes (see README.md). Deterministic for a seed on the same GPU and
software, up to kernels PyTorch reports as nondeterministic (it prints a warning for each).

Usage: python3 make_models.py --out DIR [--pack DIR]
"""
import argparse
import copy
import io
import json
import math
import os
import tarfile
import time

os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # deterministic cuBLAS; before CUDA starts

import torch  # noqa: E402
import transformers  # noqa: E402
from transformers import AutoModelForCausalLM, GenerationConfig, LlamaForCausalLM  # noqa: E402

import corpus  # noqa: E402
from models import llama_config  # noqa: E402
from reference import write_reference  # noqa: E402
from tokenizer import BOS, EOS, save_tokenizer, train_tokenizer  # noqa: E402
from train import Recipe, evaluate, train, windows  # noqa: E402

VOCAB_SIZE = 4096
CONTEXT = 512
MAIN_NAME, DRAFT_NAME = "ignis-demo-10m", "ignis-demo-draft"
# Tried in order; the one with the lowest validation loss is kept (on 2026-11-21: the first, see
# docs/benchmarks/2026-11-21-demo-model.md).
MAIN_RECIPES = [Recipe(steps=800, dropout=0.3), Recipe(steps=1200, dropout=0.4), Recipe(steps=600, dropout=0.2), Recipe(steps=1600, dropout=0.5)]
DRAFT_RECIPE = Recipe(steps=1500, dropout=0.0, lr=3e-3)


def log(*parts):
    print(*parts, flush=True)


def token_stream(tok, chapters, eos_id, device):
    """Every chapter as BOS, its tokens, EOS, one after another."""
    ids = []
    for encoding in tok.encode_batch([c.text for c in chapters]):
        ids += encoding.ids + [eos_id]
    return torch.tensor(ids, dtype=torch.long, device=device)


def new_model(shape, tok, seed, device):
    torch.manual_seed(seed)
    config = llama_config(shape, tok.get_vocab_size(), CONTEXT, tok.token_to_id(BOS), tok.token_to_id(EOS))
    model = LlamaForCausalLM(config).to(device)
    if model.lm_head.weight is not model.model.embed_tokens.weight:  # tied: one matrix, one file entry
        model.lm_head.weight = model.model.embed_tokens.weight
    return model


def export(model, tok, path):
    """bf16 safetensors, config.json, generation_config.json and the tokenizer files."""
    os.makedirs(path, exist_ok=True)
    out = copy.deepcopy(model).to(torch.bfloat16)
    out.generation_config = GenerationConfig(bos_token_id=model.config.bos_token_id, eos_token_id=model.config.eos_token_id)
    out.save_pretrained(path)
    save_tokenizer(tok, path, CONTEXT)


def pack(path, dest, part_bytes=15 * 2**20):
    """The model directory as NAME.tgz.0, .1, ... in `dest` (the GPU machine returns files of at
    most 16 MiB). Unpack with: cat NAME.tgz.* | tar xz"""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(path, arcname=os.path.basename(path))
    data = buffer.getvalue()
    name = os.path.basename(path)
    for i in range(0, len(data), part_bytes):
        with open(os.path.join(dest, f"{name}.tgz.{i // part_bytes}"), "wb") as f:
            f.write(data[i : i + part_bytes])


def reload_f32(path, device):
    """The exported bf16 checkpoint as transformers loads it, computing in float32."""
    return AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).to(device).eval()


@torch.no_grad()
def agreement(main, draft, stream, ignore_id):
    """Teacher-forced: the fraction of positions where the draft's most likely next token is the
    main model's, over `stream`: a proxy for how many drafted tokens greedy speculative decoding accepts."""
    same = count = 0
    for w in windows(stream, CONTEXT):
        a = main(input_ids=w[None, :-1]).logits.argmax(-1)
        b = draft(input_ids=w[None, :-1]).logits.argmax(-1)
        keep = w[None, 1:] != ignore_id
        same, count = same + int(((a == b) & keep).sum()), count + int(keep.sum())
    return same / count


def describe(path, reference):
    for p in reference["prompts"]:
        log(f"  {p['text']!r} -> {p['greedy_text']!r} (min top-2 margin {p['min_top2_margin']:.3g}, generate agrees: {p['generate_agrees']})")
    log(f"  files: {sorted(os.listdir(path))}, model.safetensors {os.path.getsize(os.path.join(path, 'model.safetensors'))} bytes")


def make_main(args, tok, streams, metrics, device):
    """Each recipe from the same initial weights and seed; the best validation loss wins."""
    train_s, val_s, test_s = streams
    bos_id = tok.token_to_id(BOS)
    best = None
    metrics["main_sweep"] = []
    for recipe in MAIN_RECIPES:
        elapsed = time.time() - args.start
        if best is not None and elapsed + best["seconds_per_step"] * recipe.steps > args.sweep_budget_s:
            log(f"main {recipe}: skipped, it would end past the sweep budget ({args.sweep_budget_s:.0f} s)")
            continue
        model = new_model("main", tok, args.seed, device)
        params = sum(p.numel() for p in model.parameters())
        log(f"main ({params} parameters), {recipe}")
        t = time.time()
        val_loss, curve = train(model, train_s, val_s, recipe, args.seed, bos_id, log=log)
        seconds = time.time() - t
        run = {"recipe": recipe.__dict__, "val_loss": val_loss, "seconds": seconds, "seconds_per_step": seconds / recipe.steps, "curve": curve}
        metrics["main_sweep"].append(run)
        log(f"  best val loss {val_loss:.4f} (ppl {math.exp(val_loss):.2f}) in {seconds:.0f} s")
        if best is None or val_loss < best["val_loss"]:
            best = dict(run, model=model, params=params)
    model = best.pop("model")
    path = os.path.join(args.out, MAIN_NAME)
    export(model, tok, path)
    exported = reload_f32(path, device)
    test_loss = evaluate(exported, test_s, CONTEXT, bos_id, autocast=False)
    metrics["main"] = {"name": MAIN_NAME, "params": best["params"], "recipe": best["recipe"], "train_seconds": best["seconds"],
                       "val_loss": best["val_loss"], "test_loss": test_loss, "test_perplexity": math.exp(test_loss)}
    log(f"main: held-out perplexity {math.exp(test_loss):.2f} (float32 from the bf16 export)  [{time.time() - args.start:.0f} s]")
    finish(path, args)
    return model.eval(), exported


def make_draft(args, tok, streams, metrics, device, teacher, main_exported):
    """Distilled from the main model, so that its guesses are the main model's choices."""
    train_s, val_s, test_s = streams
    bos_id = tok.token_to_id(BOS)
    draft = new_model("draft", tok, args.seed, device)
    params = sum(p.numel() for p in draft.parameters())
    log(f"draft ({params} parameters), {DRAFT_RECIPE}, distilled from the main model")
    t = time.time()
    _, curve = train(draft, train_s, val_s, DRAFT_RECIPE, args.seed, bos_id, teacher=teacher, log=log)
    seconds = time.time() - t
    path = os.path.join(args.out, DRAFT_NAME)
    export(draft, tok, path)
    exported = reload_f32(path, device)
    test_loss = evaluate(exported, test_s, CONTEXT, bos_id, autocast=False)
    agree = agreement(main_exported, exported, test_s, bos_id)
    metrics["draft"] = {"name": DRAFT_NAME, "params": params, "recipe": DRAFT_RECIPE.__dict__, "train_seconds": seconds, "curve": curve,
                        "test_loss": test_loss, "test_perplexity": math.exp(test_loss), "greedy_agreement_with_main": agree}
    log(f"draft: held-out perplexity {math.exp(test_loss):.2f}; agrees with the main model's argmax on {100 * agree:.1f}% of held-out positions")
    finish(path, args)


def finish(path, args):
    """reference.json, then the packed directory (packed even if the reference fails, so that a
    second run can make the reference from the returned weights)."""
    try:
        describe(path, write_reference(path, args.seed))
    finally:
        if args.pack:
            pack(path, args.pack)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="where the model directories are written")
    parser.add_argument("--pack", help="also write packed model directories and metrics.json here")
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--sweep-budget-s", type=float, default=300, help="start no further main recipe after this long")
    args = parser.parse_args()
    args.start = time.time()
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cuda.matmul.allow_tf32 = False  # float32 evaluation stays float32
    torch.backends.cudnn.allow_tf32 = False
    device = "cuda"
    metrics = {"gpu": torch.cuda.get_device_name(), "torch": torch.__version__, "transformers": transformers.__version__, "seed": args.seed}

    train_ch, val_ch, test_ch = corpus.split(corpus.read_chapters())
    tok = train_tokenizer([c.text for c in train_ch], VOCAB_SIZE)
    eos_id = tok.token_to_id(EOS)
    streams = [token_stream(tok, ch, eos_id, device) for ch in (train_ch, val_ch, test_ch)]
    metrics["data"] = {
        name: {"chapters": len(ch), "bytes": sum(len(c.text.encode()) for c in ch), "tokens": len(s)}
        for name, ch, s in zip(("train", "val", "test"), (train_ch, val_ch, test_ch), streams)
    }
    metrics["data"]["test"]["books"] = list(dict.fromkeys(c.book for c in test_ch))
    log(f"tokenizer: {tok.get_vocab_size()} tokens; data: {json.dumps(metrics['data'])}  [{time.time() - args.start:.0f} s]")
    try:
        teacher, main_exported = make_main(args, tok, streams, metrics, device)
        make_draft(args, tok, streams, metrics, device, teacher, main_exported)
    finally:
        metrics["total_seconds"] = time.time() - args.start
        if args.pack:
            with open(os.path.join(args.pack, "metrics.json"), "w") as f:
                json.dump(metrics, f, indent=1)
        log(f"done in {metrics['total_seconds']:.0f} s")


if __name__ == "__main__":
    main()
