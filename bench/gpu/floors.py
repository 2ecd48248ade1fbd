"""Physical floors on this GPU: bf16 matmul rate and device-to-device copy bandwidth."""
import torch, time
def timeit(f, n):
    f(); torch.cuda.synchronize(); t = time.perf_counter()
    for _ in range(n): f()
    torch.cuda.synchronize(); return (time.perf_counter() - t) / n
a = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16); b = torch.randn_like(a)
t = timeit(lambda: a @ b, 20)
print(f"bf16 matmul 8192^3: {2*8192**3/t/1e12:.1f} TFLOP/s")
x = torch.empty(1 << 30, dtype=torch.uint8, device="cuda"); y = torch.empty_like(x)
t = timeit(lambda: y.copy_(x), 20)
print(f"device-to-device copy: {2*x.numel()/t/1e12:.2f} TB/s (read+write bytes)")
