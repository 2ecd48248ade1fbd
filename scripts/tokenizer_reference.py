#!/usr/bin/env python3
"""Writes tests/fixtures/tokenizer_reference.jsonl: Hugging Face `tokenizers`' decode of the ids of
every case in ../shared/tokenizers/*/cases.jsonl (with and without skipping special tokens), and
for the TinyStories model's tokenizer (which has no cases of its own) its ids of the Llama-2 cases.
Run in the fuzzing venv: build/fuzz-venv/bin/python scripts/tokenizer_reference.py
"""
import json
import os

import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tokenizer_fuzz import load_reference  # noqa: E402

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
shared = os.path.join(root, "..", "shared")
families = ["llama2-spm", "phi3-mini", "mistral-v0.1", "qwen2.5", "llama3"]
jobs = [(f, os.path.join(shared, "tokenizers", f), f) for f in families]
jobs.append(("llama-tinystories-656k", os.path.join(shared, "models", "llama-tinystories-656k"), "llama2-spm"))

out = os.path.join(root, "tests", "fixtures", "tokenizer_reference.jsonl")
os.makedirs(os.path.dirname(out), exist_ok=True)
with open(out + ".tmp", "w", encoding="utf-8") as f:
    for name, path, source in jobs:
        tok = load_reference(os.path.join(path, "tokenizer.json"))
        with open(os.path.join(shared, "tokenizers", source, "cases.jsonl"), encoding="utf-8") as c:
            cases = [json.loads(l) for l in c if l.strip()]
        for i, case in enumerate(cases):
            ids = tok.encode(case["text"], add_special_tokens=True).ids
            if name in families:
                assert ids == case["ids"], (name, i)
            f.write(json.dumps({"tokenizer": name, "source": source, "case": i, "ids": ids,
                                "decoded": tok.decode(ids, skip_special_tokens=False),
                                "decoded_skip_special": tok.decode(ids, skip_special_tokens=True)},
                               ensure_ascii=False) + "\n")
os.replace(out + ".tmp", out)
print("wrote", out)
