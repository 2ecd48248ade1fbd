#include "common/cpu_runtime.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <thread>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace headscope {

int configure_cpu_runtime(int threads) {
#if defined(__GLIBC__)
  // Serve every block from the heap (no per-block mmap) and only give memory back to the kernel
  // when more than 1 GiB lies free at the top of the heap.
  const char* opt_out = std::getenv("HEADSCOPE_SYSTEM_MALLOC");
  if (!(opt_out && std::string(opt_out) == "1")) {
    mallopt(M_MMAP_MAX, 0);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
  }
#endif
  const int n = threads > 0 ? threads : static_cast<int>(std::thread::hardware_concurrency());
  at::set_num_threads(std::max(1, n));
  return at::get_num_threads();
}

}  // namespace headscope
