#!/usr/bin/env python3
"""TransformerLens as the peer for attention capture (issue 18): time to record every layer's
attention pattern ([heads, T, T] per layer, `blocks.*.attn.hook_pattern`) for T tokens with
HookedTransformer.run_with_cache, on the same GPT-NeoX directory that headscope's analyzer reads.

The HookedTransformer is built from the directory's config.json with TransformerLens's own
GPT-NeoX config mapping and weight conversion (convert_neox_weights), without weight processing
(fold_ln etc. off: the patterns do not change), since from_pretrained would reach the Hub.
Token ids are the text's first T tokens; one warm-up run, then --reps timed runs (median).
Prints one JSON line. Needs the venv of bench/peers/setup_venv.sh.

usage: tl_attention_capture.py --model DIR --text FILE [--tokens 2048 --threads 2 --reps 3]
"""
import argparse
import json
import statistics
import time

import torch
from tokenizers import Tokenizer
from transformer_lens import HookedTransformer, HookedTransformerConfig
from transformer_lens.pretrained.weight_conversions.neox import convert_neox_weights
from transformers import AutoModelForCausalLM


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--text", required=True)
    ap.add_argument("--tokens", type=int, default=2048)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=3)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    hf = AutoModelForCausalLM.from_pretrained(a.model, dtype=torch.float32).eval()
    c = hf.config
    rotary_pct = c.rope_parameters.get("partial_rotary_factor", getattr(c, "rotary_pct", 1.0)) \
        if hasattr(c, "rope_parameters") and c.rope_parameters else getattr(c, "rotary_pct", 1.0)
    d_head = c.hidden_size // c.num_attention_heads
    cfg = HookedTransformerConfig(
        d_model=c.hidden_size, d_head=d_head, n_heads=c.num_attention_heads, d_mlp=c.intermediate_size,
        n_layers=c.num_hidden_layers, n_ctx=c.max_position_embeddings, eps=c.layer_norm_eps,
        d_vocab=c.vocab_size, act_fn=c.hidden_act, use_attn_scale=True, parallel_attn_mlp=True,
        positional_embedding_type="rotary", rotary_adjacent_pairs=False, normalization_type="LN",
        rotary_dim=round(rotary_pct * d_head), rotary_base=int(c.rope_parameters.get("rope_theta", 10000))
        if getattr(c, "rope_parameters", None) else 10000,
        original_architecture="GPTNeoXForCausalLM", default_prepend_bos=False, device="cpu", dtype=torch.float32)
    model = HookedTransformer(cfg)
    model.load_and_process_state_dict(convert_neox_weights(hf, cfg), fold_ln=False, center_writing_weights=False,
                                      center_unembed=False, fold_value_biases=False, refactor_factored_attn_matrices=False)
    model.eval()
    text = open(a.text, encoding="utf-8").read().replace("\r\n", "\n").replace("\r", "\n")
    ids = Tokenizer.from_file(a.model + "/tokenizer.json").encode(text[: 12 * a.tokens]).ids[: a.tokens]
    assert len(ids) == a.tokens
    toks = torch.tensor([ids])
    # sanity: TransformerLens's logits equal transformers' (same model)
    with torch.inference_mode():
        ref = hf(toks[:, :128]).logits
        tl = model(toks[:, :128])
    max_diff = float((ref - tl).abs().max())
    names = lambda n: n.endswith("hook_pattern")
    times = []
    with torch.inference_mode():
        for i in range(a.reps + 1):
            t0 = time.perf_counter()
            _, cache = model.run_with_cache(toks, names_filter=names)
            dt = time.perf_counter() - t0
            n = len(cache)
            shape = list(cache["blocks.0.attn.hook_pattern"].shape)
            del cache
            if i > 0:
                times.append(dt)
    print(json.dumps({"tool": "transformer_lens", "tokens": a.tokens, "threads": a.threads,
                      "layers_captured": n, "pattern_shape": shape, "times_s": times,
                      "median_s": statistics.median(times), "max_logit_diff_vs_transformers": max_diff}))


if __name__ == "__main__":
    main()
