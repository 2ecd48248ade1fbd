#!/usr/bin/env python3
"""Differential fuzzing of headscope's tokenizer against the Hugging Face `tokenizers` library.

Generates random strings (mixed scripts, whitespace runs, digits, the tokenizer's own special
tokens and fragments of them, combining marks, emoji sequences, unusual but valid UTF-8), encodes
them with `tokenizers` (the oracle) and with `headscope tokenize --batch` (one process for all
strings), and compares ids with and without special tokens and the decoded text.

Usage: tokenizer_fuzz.py --headscope BIN --count N [--seed S] [--out RESULT.json] DIR_OR_JSON...
Exit status 1 when any string differs.
"""
import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time

import tokenizers
from tokenizers import Tokenizer

WORDS = ["the", "The", "hello", "world", "don't", "it's", "I'M", "we'll", "they've", "x", "of",
         "naïve", "café", "Straße", "İstanbul", "ſ", "K", "Ωμέγα", "привет", "мир", "日本語", "中文",
         "한국어", "العربية", "עברית", "हिन्दी", "ภาษาไทย", "ελληνικά", "Ελλάδα", "😀", "👍🏽", "👨‍👩‍👧",
         "🇫🇷", "❤️", "∑", "→", "©", "®", "™", "½", "²", "٣", "१२३", "Ⅻ", "function", "def", "return",
         "{", "}", "(", ")", "[", "]", "<", ">", "</", "/>", "#", "//", "/*", "*/", "==", "!=", "->",
         "...", "…", "—", "–", "\"", "'", "`", "''", "'s", "'S", "'ll", "'LL", "'re", "'d", "'m", "'t",
         "http://example.com", "a.b", "e\u0301", "o\u0308", "\u0301", "\u200d", "\u200b", "\ufeff",
         "\ufffd", "\uffff", "\U0010ffff", "\ue000", "\x00", "\x01", "\x7f", "\u0085", "ǅ", "ﬁ",
         "Ａ", "１２", "▁", "▁▁", "Ġ", "Ċ", "<0x0A>", "<unk>"]
SPACES = [" ", "  ", "   ", "\t", "\n", "\n\n", "\r\n", "\r", " \n", "\n ", "\u00a0", "\u3000",
          "\u2009", "\u202f", "\u2028", "\u000b", "\u000c", " " * 7, "\t\t", "\n\n\n"]


def load_reference(tokenizer_json):
    """The oracle: tokenizers' Tokenizer for the file. tokenizers 0.23 refuses "a b" merges whose
    tokens hold spaces (the Llama-2 file has three: "   ", "     ", "▁  "); those are rewritten
    in the ["a", "b"] form, choosing the one split whose parts and concatenation are tokens, as
    headscope does. Such merges can never fire (the normalizer turns every space into ▁)."""
    with open(tokenizer_json, encoding="utf-8") as f:
        j = json.load(f)
    merges = j.get("model", {}).get("merges", [])
    if any(isinstance(m, str) and len(m.split(" ")) != 2 for m in merges):
        vocab = j["model"]["vocab"]
        pairs = []
        for m in merges:
            if not isinstance(m, str):
                pairs.append(m)
                continue
            parts = m.split(" ")
            if len(parts) == 2:
                pairs.append(parts)
                continue
            cands = [(m[:k], m[k + 1:]) for k in range(len(m)) if m[k] == " "]
            cands = [(a, b) for a, b in cands if a and b and a in vocab and b in vocab and a + b in vocab]
            assert len(cands) == 1, m
            pairs.append(list(cands[0]))
        j["model"]["merges"] = pairs
        return Tokenizer.from_str(json.dumps(j))
    return Tokenizer.from_file(tokenizer_json)


def random_codepoint(rng):
    r = rng.random()
    if r < 0.4:
        return chr(rng.randint(0x20, 0x7E))
    if r < 0.6:
        return chr(rng.randint(0xA0, 0x2FFF))
    if r < 0.75:
        return chr(rng.randint(0x3000, 0x9FFF))
    if r < 0.85:
        return chr(rng.randint(0xAC00, 0xD7A3))
    if r < 0.95:
        return chr(rng.randint(0x1F300, 0x1FAFF))
    while True:  # anything valid: no surrogates
        c = rng.randint(0, 0x10FFFF)
        if not 0xD800 <= c <= 0xDFFF:
            return chr(c)


def random_string(rng, specials):
    parts = []
    for _ in range(rng.randint(1, 12)):
        r = rng.random()
        if r < 0.3:
            parts.append(rng.choice(WORDS))
        elif r < 0.5:
            parts.append(rng.choice(SPACES))
        elif r < 0.6:
            parts.append("".join(rng.choice("0123456789") for _ in range(rng.randint(1, 9))))
        elif r < 0.7 and specials:
            s = rng.choice(specials)
            if rng.random() < 0.3:  # a fragment of a special token
                s = s[: rng.randint(1, max(1, len(s) - 1))]
            parts.append(s)
        elif r < 0.85:
            parts.append("".join(random_codepoint(rng) for _ in range(rng.randint(1, 6))))
        else:
            parts.append("".join(chr(rng.randint(0x61, 0x7A)) for _ in range(rng.randint(1, 10))))
    s = "".join(parts)
    if rng.random() < 0.1:
        s = " " + s
    return s


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--headscope", required=True, help="the headscope binary")
    ap.add_argument("--count", type=int, default=1000, help="random strings per tokenizer")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", help="write a JSON summary here")
    ap.add_argument("--show", type=int, default=5, help="mismatches to print per tokenizer")
    ap.add_argument("tokenizers", nargs="+", help="tokenizer directories (or tokenizer.json files)")
    a = ap.parse_args()

    summary = {"tokenizers_version": tokenizers.__version__, "count": a.count, "seed": a.seed, "results": []}
    failed = False
    for path in a.tokenizers:
        tj = os.path.join(path, "tokenizer.json") if os.path.isdir(path) else path
        ref = load_reference(tj)
        specials = [t.content for t in ref.get_added_tokens_decoder().values()]
        rng = random.Random(f"{a.seed}:{os.path.abspath(tj)}")
        texts = [random_string(rng, specials) for _ in range(a.count)]
        t0 = time.time()
        enc = ref.encode_batch(texts, add_special_tokens=True)
        enc_plain = ref.encode_batch(texts, add_special_tokens=False)
        ref_ids = [e.ids for e in enc]
        ref_plain = [e.ids for e in enc_plain]
        ref_dec = ref.decode_batch(ref_ids, skip_special_tokens=False)
        ref_dec_skip = ref.decode_batch(ref_ids, skip_special_tokens=True)
        t_ref = time.time() - t0
        with tempfile.TemporaryDirectory() as td:
            inp, outp = os.path.join(td, "in.jsonl"), os.path.join(td, "out.jsonl")
            with open(inp, "w", encoding="utf-8") as f:
                for t in texts:
                    f.write(json.dumps({"text": t}, ensure_ascii=True) + "\n")
            t0 = time.time()
            p = subprocess.run([a.headscope, "tokenize", "--model", path, "--batch", inp, "--json", outp],
                               capture_output=True, text=True)
            t_hs = time.time() - t0
            if p.returncode != 0:
                print(f"{path}: headscope failed: {p.stderr.strip()}", file=sys.stderr)
                sys.exit(2)
            with open(outp, encoding="utf-8") as f:
                got = [json.loads(l) for l in f if l.strip()]
        assert len(got) == len(texts)
        bad = {"ids": 0, "ids_no_special": 0, "decoded": 0, "decoded_skip_special": 0}
        examples = []
        for i, (t, g) in enumerate(zip(texts, got)):
            diffs = []
            if g["ids"] != ref_ids[i]:
                diffs.append("ids")
            if g["ids_no_special"] != ref_plain[i]:
                diffs.append("ids_no_special")
            if g["decoded"] != ref_dec[i]:
                diffs.append("decoded")
            if g["decoded_skip_special"] != ref_dec_skip[i]:
                diffs.append("decoded_skip_special")
            for d in diffs:
                bad[d] += 1
            if diffs and len(examples) < a.show:
                examples.append({"text": t, "what": diffs, "expected": ref_ids[i], "got": g["ids"],
                                 "expected_decoded": ref_dec[i], "got_decoded": g["decoded"]})
        n_bad = sum(1 for i in range(len(texts)) if got[i]["ids"] != ref_ids[i] or
                    got[i]["ids_no_special"] != ref_plain[i] or got[i]["decoded"] != ref_dec[i] or
                    got[i]["decoded_skip_special"] != ref_dec_skip[i])
        failed |= n_bad > 0
        chars = sum(len(t) for t in texts)
        res = {"tokenizer": path, "strings": len(texts), "chars": chars, "mismatched_strings": n_bad,
               "mismatches": bad, "seconds_reference": round(t_ref, 2), "seconds_headscope": round(t_hs, 2),
               "examples": examples}
        summary["results"].append(res)
        print(f"{path}: {len(texts)} strings ({chars} chars): {n_bad} mismatched "
              f"{bad} [tokenizers {t_ref:.1f} s, headscope {t_hs:.1f} s]")
        for ex in examples:
            print("  " + json.dumps(ex, ensure_ascii=True)[:600])
    if a.out:
        with open(a.out + ".tmp", "w") as f:
            json.dump(summary, f, indent=1, ensure_ascii=True)
        os.replace(a.out + ".tmp", a.out)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
