// Which units a process runs: `--shard K/N` (0 <= K < N) takes the units whose index is K
// modulo N. `--shard auto` reads the shard from the scheduler: Slurm array jobs
// (SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN of SLURM_ARRAY_TASK_COUNT), or, as `auto/N`,
// Kubernetes indexed Jobs (JOB_COMPLETION_INDEX of N; Kubernetes does not export N).
#pragma once
#include <cstdint>
#include <functional>
#include <string>

namespace headscope {

struct Shard {
  int64_t index = 0, count = 1;
  std::string source;  // "--shard", "SLURM_ARRAY_TASK_ID", "JOB_COMPLETION_INDEX", "all"
};

using EnvFn = std::function<const char*(const char*)>;

// Throws Error (one line) on malformed input or an index out of range.
Shard parse_shard(const std::string& s, const EnvFn& env = {});

}  // namespace headscope
