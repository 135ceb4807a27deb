"""transformers' outputs on an exported model, the reference Ignis must reproduce: greedy
continuations computed in float32 on the CPU from the bf16 weights, tokenizer encodings and the
chat template's rendering, in reference.json (the format of fixtures/models/*/reference.json)."""
import json
import os

import torch
import transformers
from transformers import AutoModelForCausalLM, AutoTokenizer

PROMPTS = [
    "In the beginning",
    "And the LORD said unto Moses,",
    "Blessed are the poor in spirit:",
    "The quick brown fox",
    # Longer than a KV block (16 tokens), so that paged attention spans blocks.
    "And it came to pass, when the king heard the words of the prophet, that he rent his clothes, and said,",
]
GREEDY_TOKENS = 32
CHAT = [
    {"role": "system", "content": "Answer in the words of the King James Bible."},
    {"role": "user", "content": "Who made the heaven and the earth?"},
]
ENCODE = PROMPTS + ["Thou shalt not kill.\nThou shalt not steal.", "naïve café 🙂 日本"]


def greedy(model, ids, steps):
    """Greedy continuation with a full forward pass per token (no cache) and no stop at EOS: the
    plainest reference. Also returns the smallest gap between the two best logits: a near-tie
    would let rounding differences pick another token."""
    ids = list(ids)
    out, margins = [], []
    with torch.no_grad():
        for _ in range(steps):
            top = torch.topk(model(torch.tensor([ids])).logits[0, -1], 2)
            margins.append(float(top.values[0] - top.values[1]))
            ids.append(int(top.indices[0]))
            out.append(ids[-1])
    return out, min(margins)


def generate_agrees(model, ids, expected, eos_id):
    """Whether transformers' own generate(do_sample=False) gives the same tokens (up to EOS, where
    it stops): the plain loop above checked against transformers' cached decoding."""
    prompt = torch.tensor([ids])
    try:
        got = model.generate(prompt, attention_mask=torch.ones_like(prompt), do_sample=False, max_new_tokens=len(expected), pad_token_id=eos_id)
    except Exception as error:  # a secondary check: record why it could not run rather than lose the reference
        return f"generate failed: {error!r}"
    got = got[0, len(ids):].tolist()
    return got == expected[: len(got)]


def write_reference(path, seed):
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32, attn_implementation="eager").eval()
    tok = AutoTokenizer.from_pretrained(path)
    records = []
    for text in PROMPTS:
        ids = tok(text)["input_ids"]
        continuation, margin = greedy(model, ids, GREEDY_TOKENS)
        records.append({
            "text": text,
            "ids": ids,
            "greedy": continuation,
            "greedy_text": tok.decode(continuation, skip_special_tokens=True),
            "min_top2_margin": margin,
            "generate_agrees": generate_agrees(model, ids, continuation, tok.eos_token_id),
        })
    reference = {
        "made_by": "tooling/train-demo/make_models.py",
        "computed": "transformers, float32 on the CPU, from the bf16 checkpoint; greedy ignores EOS",
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "seed": seed,
        "prompts": records,
        "chat": {"messages": CHAT, "rendered": tok.apply_chat_template(CHAT, tokenize=False, add_generation_prompt=True)},
        "encode": {text: tok(text)["input_ids"] for text in ENCODE},
    }
    with open(os.path.join(path, "reference.json"), "w") as f:
        json.dump(reference, f, indent=1, ensure_ascii=False)
    return reference
