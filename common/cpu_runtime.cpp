#include "common/cpu_runtime.h"

#include <ATen/Parallel.h>
#include <sched.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <thread>

#include "common/error.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace headscope {

int available_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

int default_thread_count() {
  if (const char* e = std::getenv("OMP_NUM_THREADS"); e && *e) {
    std::string v(e);
    v = v.substr(0, v.find(','));  // "4,2": nested levels; the first is ours
    char* end = nullptr;
    long n = std::strtol(v.c_str(), &end, 10);
    if (end == v.c_str() || *end != '\0' || n <= 0 || n > 1 << 20)
      throw Error(std::string("OMP_NUM_THREADS must be a positive integer, got '") + e + "'");
    return static_cast<int>(n);
  }
  return available_cpus();
}

int checked_thread_count(int requested) {
  if (requested < 0) throw Error("--threads must be >= 0 (0 = default), got " + std::to_string(requested));
  const int cpus = available_cpus();
  if (requested == 0) {
    int d = default_thread_count();
    if (d > cpus)
      throw Error("OMP_NUM_THREADS=" + std::to_string(d) + " exceeds the " + std::to_string(cpus) +
                  " CPU(s) this process may run on (affinity mask); set at most " + std::to_string(cpus));
    return d;
  }
  if (requested > cpus)
    throw Error("--threads " + std::to_string(requested) + " exceeds the " + std::to_string(cpus) +
                " CPU(s) this process may run on (affinity mask); use at most " + std::to_string(cpus));
  return requested;
}

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
  const int n = threads > 0 ? threads : default_thread_count();
  at::set_num_threads(std::max(1, n));
  return at::get_num_threads();
}

}  // namespace headscope
