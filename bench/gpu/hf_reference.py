"""transformers reference on the same GPU and model: one parallel forward over N tokens, and
token-by-token decoding speed with a dense cache (bf16, eager attention as the Python original)."""
import sys, time, torch
from transformers import AutoModelForCausalLM
path, n = sys.argv[1], int(sys.argv[2])
m = AutoModelForCausalLM.from_pretrained(path, dtype=torch.bfloat16, attn_implementation="eager").cuda().eval()
ids = torch.randint(0, 50000, (1, n), device="cuda")
with torch.no_grad():
    for _ in range(2): m(ids)
    torch.cuda.synchronize(); t = time.perf_counter()
    for _ in range(5): m(ids)
    torch.cuda.synchronize(); tf = (time.perf_counter() - t) / 5
    print(f"transformers parallel forward, {n} tokens: {tf*1e3:.1f} ms ({n/tf:.0f} tok/s)")
    steps = 128; past = None; tok = ids[:, :1]
    torch.cuda.synchronize(); t = time.perf_counter()
    for i in range(steps):
        out = m(tok, past_key_values=past, use_cache=True); past = out.past_key_values
        tok = ids[:, i+1:i+2]
    torch.cuda.synchronize(); td = (time.perf_counter() - t) / steps
    print(f"transformers token-by-token (dense cache), {steps} steps: TPOT {td*1e3:.2f} ms ({1/td:.1f} tok/s)")
