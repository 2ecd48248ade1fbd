"""Writes a random-weight GPT-NeoX model directory of a Pythia shape (for speed work on the GPU
machine only; no checkpoint is downloaded). Usage: make_random_model.py SHAPE OUT_DIR [dtype]"""
import sys, shutil, torch
from transformers import GPTNeoXConfig, GPTNeoXForCausalLM

SHAPES = {  # Pythia shapes (layers, hidden, heads, intermediate)
    "pythia-70m": (6, 512, 8, 2048),
    "pythia-410m": (24, 1024, 16, 4096),
    "pythia-1.4b": (24, 2048, 16, 8192),
    "pythia-2.8b": (32, 2560, 32, 10240),
}
shape, out = sys.argv[1], sys.argv[2]
dtype = {"bf16": torch.bfloat16, "f16": torch.float16, "f32": torch.float32}[sys.argv[3] if len(sys.argv) > 3 else "bf16"]
L, d, H, I = SHAPES[shape]
cfg = GPTNeoXConfig(vocab_size=50304, hidden_size=d, num_hidden_layers=L, num_attention_heads=H,
                    intermediate_size=I, rotary_pct=0.25, rotary_emb_base=10000,
                    max_position_embeddings=2048, use_parallel_residual=True,
                    tie_word_embeddings=False, hidden_act="gelu")
torch.manual_seed(0)
with torch.device("cuda"):
    model = GPTNeoXForCausalLM(cfg).to(dtype)
model.save_pretrained(out, safe_serialization=True)
# Same GPT-NeoX-20B tokenizer as every Pythia model: take the bundled model's.
shutil.copy(__file__.rsplit("/bench/", 1)[0] + "/models/neox-gutenberg-14m/tokenizer.json", out)
print(f"wrote {out}: {sum(p.numel() for p in model.parameters())/1e9:.2f}B params")
