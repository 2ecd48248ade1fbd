#!/usr/bin/env python3
"""KnormPress ties (issue 18): the L2-norm gap at the keep/evict cut of every (layer, KV head)
after the prefill of the TinyStories kvpress fixture, in transformers (fp32, sdpa). A zero gap is
an exact tie that torch.topk and headscope may break differently. Needs the venv of
bench/peers/setup_venv.sh. Run from the repository root."""
import json, torch
from transformers import AutoModelForCausalLM, DynamicCache
fx = json.load(open("tests/fixtures/kvpress/llama-tinystories-656k.json"))
ids = torch.tensor([fx["ids"][:fx["context_tokens"]]])
m = AutoModelForCausalLM.from_pretrained("models/llama-tinystories-656k", torch_dtype=torch.float32, attn_implementation="sdpa")
with torch.no_grad():
    out = m(ids, use_cache=True)
cache = out.past_key_values
n = ids.shape[1]
for ratio in (0.25, 0.5):
    keep = int(n * (1 - ratio))
    for l in range(len(cache.layers)):
        k = cache.layers[l].keys[0]  # [kv_heads, n, d]
        norms = k.norm(dim=-1)
        for h in range(k.shape[0]):
            s, _ = torch.sort(norms[h])   # knorm keeps the lowest norms (scores = -norm)
            gap = (s[keep] - s[keep-1]).item()
            print(f"ratio {ratio} layer {l} kvhead {h}: keep {keep}/{n}, norm at cut {s[keep-1].item():.6f}, gap to next {gap:.3e} (rel {gap/s[keep-1].item():.1e})")
