// Process-wide CPU settings that every entry point (CLI, benchmarks, test runner) applies once,
// before any tensor work:
//  - the intra-op thread count: Debian's libtorch starts with one thread;
//  - glibc malloc keeps freed large blocks instead of returning them to the kernel. libtorch's
//    CPU allocator gets every block of 128 KiB or more from malloc, and glibc serves blocks over
//    its mmap threshold (at most 32 MiB) with a fresh mmap that is unmapped again on free, so each
//    such tensor pays a page fault per 4 KiB page and the kernel's zeroing, on every use. The
//    logits of 512 positions (512 x 50304 floats, 103 MB) are such a block: measured on the
//    project's 2-core machine, allocating them costs as much as the matmul that fills them
//    (unembedding of 2048 positions in 512-row chunks: 1.21 s fresh, 0.53 s reused). With the
//    policy below the heap keeps those pages and the next block of that size reuses them.
//    The price: the process's resident memory stays at its high-water mark until it exits, and
//    that mark can be higher (a 32k-token run of the 70m model: peak RSS 1.56 -> 2.04 GiB). Set
//    HEADSCOPE_SYSTEM_MALLOC=1 in the environment to keep glibc's default policy.
#pragma once

namespace headscope {

// CPUs this process may run on: the size of its affinity mask (sched_getaffinity), so
// `taskset -c 0` or a container's cpuset counts, not the machine's cores.
int available_cpus();

// The thread count to use when none is asked for: $OMP_NUM_THREADS when set (its first entry),
// else available_cpus(). Throws Error when OMP_NUM_THREADS is not a positive integer.
int default_thread_count();

// The thread count for a requested `--threads` value: 0 = default_thread_count(); a value above
// available_cpus() (or a default above it) is an Error: over-subscribing the CPUs only slows
// the run down (10000 threads took minutes for 64 tokens) or exhausts memory.
int checked_thread_count(int requested);

// Sets the intra-op thread count (threads <= 0: default_thread_count()) and, on glibc and unless
// HEADSCOPE_SYSTEM_MALLOC=1, the malloc policy described above. Returns the thread count in use.
// Idempotent. Does not check `threads` against the CPUs: callers that take it from a user pass
// it through checked_thread_count first.
int configure_cpu_runtime(int threads);

}  // namespace headscope
