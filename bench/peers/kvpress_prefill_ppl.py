#!/usr/bin/env python3
"""kvpress side of the prefill-protocol parity (issue 18): PPL of a continuation scored token by
token over a KV cache that a kvpress press compressed once after the prefill of the context.

Protocol (the same as `headscope eval --protocol prefill`): the first N tokens are prefilled in one
forward with the press active (kvpress compresses each layer's cache in its attention forward
hook); token N is predicted by the prefill's last logits; tokens N+1 .. M-1 are predicted one at a
time, each fed at its true position (position_ids = t, as kvpress's pipeline does for the
question), over the compressed cache. PPL = exp(mean NLL over the M - N predictions).

Llama-family models run through kvpress unchanged. GPT-NeoX is not among kvpress's supported
models; three shims make it run, changing no press logic:
  - the forward hook is attached to gpt_neox.layers[i].attention and given kwargs under the names
    kvpress expects (hidden_states, past_key_values, cache_position, position_embeddings);
  - module.head_dim / config.num_key_value_heads are set (NeoX calls them head_size / nothing);
  - SnapKVPress.compute_window_attention is kvpress's code with its RoPE line replaced by NeoX's
    partial rotary (rotary_pct 0.25), and the queries taken from the fused query_key_value.
Needs the venv of bench/peers/setup_venv.sh. Writes one JSON fixture.

usage: kvpress_prefill_ppl.py --model DIR --text FILE --out JSON [--context 384 --tokens 512
       --ratios 0.25,0.5 --threads 2]
"""
import argparse
import json
import math
import platform
import time

import torch
import transformers
from tokenizers import Tokenizer
from torch import nn
from transformers import AutoModelForCausalLM, DynamicCache

import kvpress
from kvpress import AdaKVPress, KnormPress, SnapKVPress, StreamingLLMPress, TOVAPress
from kvpress.presses.base_press import BasePress


def neox_window_attention(module, hidden_states, keys, window_size, position_embeddings):
    # kvpress 0.5.5 SnapKVPress.compute_window_attention, with NeoX's fused qkv projection and
    # partial rotary embedding instead of q_proj + full-width rotate_half.
    from transformers.models.gpt_neox.modeling_gpt_neox import apply_rotary_pos_emb

    bsz, _, k_len, _ = keys.shape
    num_heads = module.config.num_attention_heads
    head_dim = module.head_size
    h = hidden_states[:, -window_size:]
    qkv = module.query_key_value(h).view(bsz, window_size, num_heads, 3 * head_dim).transpose(1, 2)
    query_states = qkv[..., :head_dim]
    cos, sin = position_embeddings
    cos, sin = cos[:, -window_size:], sin[:, -window_size:]
    query_states, _ = apply_rotary_pos_emb(query_states, query_states, cos, sin)
    key_states = keys  # NeoX: no GQA
    attn_weights = torch.matmul(query_states, key_states.transpose(2, 3)) / math.sqrt(head_dim)
    attention_mask = torch.ones_like(attn_weights) * float("-inf")
    attention_mask = torch.triu(attention_mask, diagonal=k_len - window_size + 1)
    attn_weights += attention_mask
    attn_weights = nn.functional.softmax(attn_weights, dim=-1, dtype=torch.float32).to(query_states.dtype)
    return attn_weights[..., :-window_size]


class NeoXHooks:
    """Attaches a kvpress press to a GPTNeoXForCausalLM (see the module docstring)."""

    def __init__(self, model, press):
        self.model, self.press, self.handles = model, press, []

    def __enter__(self):
        m = self.model
        m.config.num_key_value_heads = m.config.num_attention_heads
        rot = m.gpt_neox.rotary_emb
        for layer in m.gpt_neox.layers:
            att = layer.attention
            att.head_dim = att.head_size
            att.rotary_emb = rot

            def hook(module, args, kwargs, output):
                kw = dict(kwargs)
                kw["hidden_states"] = args[0] if args else kwargs["hidden_states"]
                kw["past_key_values"] = kwargs.get("layer_past", kwargs.get("past_key_values"))
                return self.press.forward_hook(module, args, kw, output)

            self.handles.append(att.register_forward_hook(hook, with_kwargs=True))
        self.saved = SnapKVPress.compute_window_attention
        SnapKVPress.compute_window_attention = staticmethod(neox_window_attention)
        return self

    def __exit__(self, *exc):
        for h in self.handles:
            h.remove()
        SnapKVPress.compute_window_attention = self.saved


def press_context(model, press):
    if model.config.model_type == "gpt_neox":
        return NeoXHooks(model, press)
    return press(model)


def make_press(name, ratio):
    if name == "streaming_llm":
        return StreamingLLMPress(compression_ratio=ratio, n_sink=4)
    if name == "knorm":
        return KnormPress(compression_ratio=ratio)
    if name == "snapkv":
        return SnapKVPress(compression_ratio=ratio, window_size=64, kernel_size=5)
    if name == "tova":
        return TOVAPress(compression_ratio=ratio)
    if name == "adakv":
        return AdaKVPress(press=SnapKVPress(compression_ratio=ratio, window_size=64, kernel_size=5),
                          alpha_safeguard=0.2)
    if name == "dense":
        return None
    raise ValueError(name)


@torch.inference_mode()
def run(model, ids, n_ctx, press):
    cache = DynamicCache()
    ctx = torch.tensor([ids[:n_ctx]])
    t0 = time.perf_counter()
    if press is None:
        out = model(input_ids=ctx, past_key_values=cache, use_cache=True)
    else:
        with press_context(model, press):
            out = model(input_ids=ctx, past_key_values=cache, use_cache=True)
    prefill_s = time.perf_counter() - t0
    kept = [int(layer.keys.shape[2]) * int(layer.keys.shape[1]) for layer in cache.layers]
    nll = [float(-torch.log_softmax(out.logits[0, -1].double(), -1)[ids[n_ctx]])]
    t1 = time.perf_counter()
    for t in range(n_ctx, len(ids) - 1):
        o = model(input_ids=torch.tensor([[ids[t]]]), past_key_values=cache,
                  position_ids=torch.tensor([[t]]), use_cache=True)
        nll.append(float(-torch.log_softmax(o.logits[0, -1].double(), -1)[ids[t + 1]]))
    scoring_s = time.perf_counter() - t1
    mean = sum(nll) / len(nll)
    return {"mean_nll": mean, "ppl": math.exp(mean), "nll": [round(x, 8) for x in nll],
            "cache_entries_after_prefill": kept, "prefill_s": prefill_s, "scoring_s": scoring_s}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--text", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--context", type=int, default=384)
    ap.add_argument("--tokens", type=int, default=512)
    ap.add_argument("--ratios", default="0.25,0.5")
    ap.add_argument("--presses", default="dense,streaming_llm,knorm,snapkv,tova,adakv")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--attn", default="sdpa")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    text = open(a.text, encoding="utf-8").read().replace("\r\n", "\n").replace("\r", "\n")
    ids = Tokenizer.from_file(a.model + "/tokenizer.json").encode(text[:20000]).ids
    assert len(ids) >= a.tokens, len(ids)
    ids = ids[: a.tokens]
    model = AutoModelForCausalLM.from_pretrained(a.model, dtype=torch.float32, attn_implementation=a.attn)
    model.eval()
    results = []
    for name in a.presses.split(","):
        for ratio in ([0.0] if name == "dense" else [float(r) for r in a.ratios.split(",")]):
            r = run(model, ids, a.context, make_press(name, ratio))
            r.update({"press": name, "compression_ratio": ratio})
            print(f"{name:14s} ratio {ratio:.2f}  ppl {r['ppl']:.6f}  kept/layer {r['cache_entries_after_prefill'][0]}",
                  flush=True)
            results.append(r)
    out = {
        "generator": "bench/peers/kvpress_prefill_ppl.py",
        "versions": {"kvpress": getattr(kvpress, "__version__", "0.5.5"), "torch": torch.__version__,
                     "transformers": transformers.__version__, "python": platform.python_version()},
        "model": a.model.rstrip("/").split("/")[-1], "text": a.text.split("/")[-1],
        "attn_implementation": a.attn, "threads": a.threads, "dtype": "float32",
        "context_tokens": a.context, "total_tokens": a.tokens, "predictions": a.tokens - a.context,
        "press_options": {"streaming_llm": {"n_sink": 4}, "snapkv": {"window_size": 64, "kernel_size": 5},
                          "adakv": {"press": "snapkv", "alpha_safeguard": 0.2, "window_size": 64,
                                    "kernel_size": 5}},
        "ids": ids, "results": results,
    }
    with open(a.out, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
