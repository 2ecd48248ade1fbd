"""Max absolute difference of every per-head statistic between two head_statistics.json files."""
import json, sys
a, b = (json.load(open(p))["head_statistics"] for p in sys.argv[1:3])
def flat(h):
    out = {k: v for k, v in h.items() if isinstance(v, (int, float))}
    out.update({"pp_" + k: v for k, v in h.get("position_preference", {}).items()})
    out.update({f"rel{i}": v for i, v in enumerate(h.get("relative_position_dist", []))})
    return out
worst = max(abs(flat(x)[k] - flat(y)[k]) for x, y in zip(a, b) for k in flat(x) if k in flat(y))
print(f"analyzer on CUDA vs Python original: {len(b)} heads, max abs statistic difference {worst:.2e} ({'OK' if worst < 1e-4 else 'ABOVE 1e-4'})")
