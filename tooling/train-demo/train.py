"""One training run: AdamW, warmup then cosine decay, bf16 autocast, random windows of the token
stream; keeps the weights with the lowest validation loss."""
import copy
import math
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class Recipe:
    steps: int
    dropout: float
    lr: float = 2e-3
    batch: int = 64
    context: int = 512
    warmup: int = 100
    weight_decay: float = 0.1
    eval_every: int = 100


def add_dropout(model, p):
    """transformers' Llama has no residual dropout, and a model this size overfits a few MB of text
    without it: drop out the embeddings and every attention and MLP output, in training mode only.
    Hooks leave the architecture, and so the exported checkpoint, unchanged."""

    def hook(module, _args, output):
        if isinstance(output, tuple):  # attention returns (output, weights)
            return (F.dropout(output[0], p, module.training), *output[1:])
        return F.dropout(output, p, module.training)

    modules = [model.model.embed_tokens] + [m for layer in model.model.layers for m in (layer.self_attn, layer.mlp)]
    return [m.register_forward_hook(hook) for m in modules]


def learning_rate(recipe, step):
    if step < recipe.warmup:
        return recipe.lr * (step + 1) / recipe.warmup
    progress = (step - recipe.warmup) / max(1, recipe.steps - recipe.warmup)
    return recipe.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def windows(stream, context):
    """Non-overlapping windows of context + 1 tokens covering `stream` (the last one shorter)."""
    return [stream[i : i + context + 1] for i in range(0, len(stream) - 1, context)]


def loss_terms(logits, targets, ignore_id):
    """Summed next-token cross-entropy and its count; a target `ignore_id` (BOS, which always
    follows EOS) is left out, so that the loss measures only the text."""
    flat = targets.reshape(-1)
    keep = flat != ignore_id
    nll = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), flat, reduction="none")
    return (nll * keep).sum(), keep.sum()


@torch.no_grad()
def evaluate(model, stream, context, ignore_id, autocast=True):
    """Mean next-token loss (nats) over `stream`, a 1-D LongTensor on the model's device."""
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    for w in windows(stream, context):
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=autocast):
            logits = model(input_ids=w[None, :-1], use_cache=False).logits
        s, n = loss_terms(logits, w[None, 1:], ignore_id)
        total, count = total + float(s), count + int(n)
    model.train(was_training)
    return total / count


def train(model, train_stream, val_stream, recipe, seed, ignore_id, teacher=None, log=print):
    """Trains `model` in place and loads the weights of its best validation loss. With a `teacher`,
    the targets are the teacher's next-token distributions (distillation, for the draft model):
    its argmax is what a draft must guess. Returns (best validation loss, curve)."""
    generator = torch.Generator().manual_seed(seed)
    hooks = add_dropout(model, recipe.dropout) if recipe.dropout > 0 else []
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": recipe.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=recipe.lr, betas=(0.9, 0.95), fused=True,
    )
    offsets = torch.arange(recipe.context + 1, device=train_stream.device)
    best, best_state, curve = float("inf"), None, []
    start = time.time()
    model.train()
    for step in range(recipe.steps + 1):
        if step % recipe.eval_every == 0 or step == recipe.steps:
            val = evaluate(model, val_stream, recipe.context, ignore_id)
            curve.append({"step": step, "val_loss": val})
            mark = ""
            if val < best:
                best, best_state, mark = val, copy.deepcopy(model.state_dict()), " (best)"
            log(f"  step {step:5d}  val loss {val:.4f}  ppl {math.exp(val):7.2f}{mark}  {time.time() - start:6.1f} s")
        if step == recipe.steps:
            break
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(recipe, step)
        starts = torch.randint(0, len(train_stream) - recipe.context - 1, (recipe.batch,), generator=generator)
        batch = train_stream[starts.to(train_stream.device)[:, None] + offsets]
        inputs, targets = batch[:, :-1], batch[:, 1:]
        with torch.autocast("cuda", dtype=torch.bfloat16):
            logits = model(input_ids=inputs, use_cache=False).logits
            if teacher is None:
                s, n = loss_terms(logits, targets, ignore_id)
                loss = s / n
            else:
                with torch.no_grad():
                    soft = F.softmax(teacher(input_ids=inputs, use_cache=False).logits.float(), dim=-1)
                loss = -(soft * F.log_softmax(logits.float(), dim=-1)).sum(-1).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        if step % 50 == 0:
            curve.append({"step": step, "train_loss": float(loss.detach())})
            log(f"  step {step:5d}  train loss {float(loss.detach()):.4f}  lr {learning_rate(recipe, step):.2e}  {time.time() - start:6.1f} s")
    for h in hooks:
        h.remove()
    model.load_state_dict(best_state)
    return best, curve
