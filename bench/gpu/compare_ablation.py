"""Max relative PPL difference between two headscope ablation.json files (same configurations)."""
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
ra = {r["name"]: r for r in a["results"]}; worst = 0.0
for r in b["results"]:
    if r["name"] in ra:
        d = abs(r["perplexity"] / ra[r["name"]]["perplexity"] - 1); worst = max(worst, d)
print(f"{sys.argv[2]}: {len(b['results'])} configurations, max relative PPL difference vs CPU fp32 = {worst:.2e} ({'OK' if worst < 0.01 else 'ABOVE 1%'})")
if "dense" in a and "dense" in b and a["dense"] and b["dense"]:
    print(f"  dense PPL CPU {a['dense']['perplexity']:.4f} GPU {b['dense']['perplexity']:.4f}")
