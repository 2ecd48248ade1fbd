# Token ids for the Llama-family fixture tests, made with the Hugging Face `tokenizers` library
# (PyPI; its own venv, not part of the default test command):
#   python3 -m venv /tmp/tokvenv && /tmp/tokvenv/bin/pip install tokenizers
#   /tmp/tokvenv/bin/python tests/data/make_llama_ids.py ../shared tests/data/llama_ids.json
# The shared fixtures store only their first 128 ids; their PPL references cover the first 512
# (TinyStories; 1024 for its head statistics) / 256 (random models) tokens of the texts, tokenized with special tokens added
# (BOS), text read as UTF-8 unchanged. The test checks these ids against the fixtures' first_ids
# and forward_first128 input_ids.
import json, sys
from tokenizers import Tokenizer

shared, out = sys.argv[1], sys.argv[2]
cases = {
    "llama-tinystories-656k": ("data/tinystories/sample.txt", 1024),
    "tiny-random-llama3": ("data/children/velveteen_aesop.txt", 256),
}
res = {}
for model, (text, n) in cases.items():
    tok = Tokenizer.from_file(f"{shared}/models/{model}/tokenizer.json")
    with open(f"{shared}/{text}", encoding="utf-8", newline="") as f:
        ids = tok.encode(f.read(), add_special_tokens=True).ids
    ref = json.load(open(f"{shared}/fixtures/{model}/reference_values_f64.json"))
    assert ids[:16] == ref["first_ids"], (model, ids[:16])
    assert len(ids) == ref["total_tokens"], (model, len(ids), ref["total_tokens"])
    res[text] = {"ids": ids[:n], "total_tokens": len(ids), "tokenizer": f"models/{model}/tokenizer.json"}
json.dump(res, open(out, "w"), indent=None)
print({k: (len(v["ids"]), v["total_tokens"]) for k, v in res.items()})
