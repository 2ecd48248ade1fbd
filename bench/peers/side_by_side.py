#!/usr/bin/env python3
"""Speed and memory of the prefill protocol, kvpress vs headscope, in one run (issue 18).

The same model, text, press, compression ratio, context and thread count through
  - kvpress 0.5.5 on transformers (CPU, fp32, sdpa): bench/peers/kvpress_prefill_ppl.py
  - headscope: build/headscope eval --protocol prefill
each as its own child process, alternating, `--repeats` times. Reported per tool: prefill time
(forward over the context + compression), scoring tokens/s (token-by-token over the compressed
cache), peak RSS of the child process (ru_maxrss: the whole process, Python/torch import
included), PPL; medians over the repeats, and the ratios kvpress / headscope.
Writes a Markdown table (--out) and the raw numbers as JSON beside it.

usage: side_by_side.py --headscope build/headscope --model DIR --text FILE --out results/x.md
       [--press snapkv --ratio 0.5 --context 1024 --tokens 1280 --threads 2 --repeats 3]
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def child(cmd, env=None):
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    _, _, ru = os.wait4(p.pid, 0)
    out, err = p.stdout.read().decode(), p.stderr.read().decode()
    p.returncode = 0
    return out, err, ru.ru_maxrss * 1024  # bytes


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--headscope", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--text", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--press", default="snapkv")
    ap.add_argument("--ratio", type=float, default=0.5)
    ap.add_argument("--context", type=int, default=1024)
    ap.add_argument("--tokens", type=int, default=1280)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads))
    runs = {"kvpress": [], "headscope": []}
    tmp = tempfile.mkdtemp(prefix="side_by_side_")
    for i in range(a.repeats):
        kj = os.path.join(tmp, f"kv{i}.json")
        out, err, rss = child([sys.executable, os.path.join(HERE, "kvpress_prefill_ppl.py"), "--model", a.model,
                               "--text", a.text, "--out", kj, "--context", str(a.context), "--tokens",
                               str(a.tokens), "--presses", a.press, "--ratios", str(a.ratio), "--threads",
                               str(a.threads)], env)
        if not os.path.exists(kj):
            sys.exit("kvpress run failed:\n" + err[-2000:])
        r = json.load(open(kj))["results"][0]
        n = a.tokens - a.context - 1
        runs["kvpress"].append({"prefill_s": r["prefill_s"], "scoring_tok_s": n / r["scoring_s"],
                                "rss_peak_bytes": rss, "ppl": r["ppl"]})
        hj = os.path.join(tmp, f"hs{i}.json")
        out, err, rss = child([a.headscope, "eval", "--model", a.model, "--text", a.text, "--max-tokens",
                               str(a.tokens), "--protocol", "prefill", "--context-tokens", str(a.context),
                               "--method", a.press, "--compression-ratio", str(a.ratio), "--threads",
                               str(a.threads), "--json", hj], env)
        if not os.path.exists(hj):
            sys.exit("headscope run failed:\n" + err[-2000:])
        h = json.load(open(hj))
        runs["headscope"].append({"prefill_s": h["prefill_s"], "scoring_tok_s": h["scoring_tok_s"],
                                  "rss_peak_bytes": rss, "ppl": h["perplexity"]})
        print(f"repeat {i}: kvpress {runs['kvpress'][-1]}\n          headscope {runs['headscope'][-1]}",
              flush=True)
    med = {t: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for t, rs in runs.items()}
    k, h = med["kvpress"], med["headscope"]
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=HERE).stdout.strip()
    lines = [
        f"| model | press | ratio | context | scored | tool | prefill s | scoring tok/s | peak RSS MiB | PPL |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for t in ("kvpress", "headscope"):
        m = med[t]
        lines.append(f"| {os.path.basename(a.model.rstrip('/'))} | {a.press} | {a.ratio} | {a.context} | "
                     f"{a.tokens - a.context} | {t} | {m['prefill_s']:.3f} | {m['scoring_tok_s']:.1f} | "
                     f"{m['rss_peak_bytes'] / 2**20:.0f} | {m['ppl']:.4f} |")
    lines.append(f"| | | | | | **kvpress / headscope** | **{k['prefill_s'] / h['prefill_s']:.2f}x** | "
                 f"**{h['scoring_tok_s'] / k['scoring_tok_s']:.2f}x** (headscope faster) | "
                 f"**{k['rss_peak_bytes'] / h['rss_peak_bytes']:.2f}x** | |")
    meta = (f"Machine: {platform.machine()}, {os.cpu_count()} cores ({platform.node()}), shared and noisy; "
            f"{a.threads} threads each (torch.set_num_threads / --threads, OMP_NUM_THREADS). "
            f"Medians of {a.repeats} alternating runs. Commit {commit}.\n"
            f"Command: `python3 bench/peers/side_by_side.py --headscope {a.headscope} --model {a.model} "
            f"--text {a.text} --press {a.press} --ratio {a.ratio} --context {a.context} --tokens {a.tokens} "
            f"--threads {a.threads} --repeats {a.repeats} --out {a.out}`\n")
    with open(a.out, "w") as f:
        f.write(meta + "\n" + "\n".join(lines) + "\n")
    with open(os.path.splitext(a.out)[0] + ".json", "w") as f:
        json.dump({"args": vars(a), "commit": commit, "runs": runs, "median": med}, f, indent=1)
    print(meta + "\n".join(lines))


if __name__ == "__main__":
    main()
