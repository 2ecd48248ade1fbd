// `headscope sweep slurm DIR --array N [--partition P --time T]`: an sbatch submission script
// for a planned sweep: an array job of N tasks, each `headscope sweep run DIR --shard auto`
// (the shard from SLURM_ARRAY_TASK_ID / SLURM_ARRAY_TASK_COUNT), and a merge job that starts
// when the whole array has ended (afterany, so an array with failed units still gets a merge
// that reports exactly what is missing). Paths are absolute; logs go to DIR/slurm/.
#pragma once
#include <cstdint>
#include <string>

namespace headscope {

struct SlurmScriptOptions {
  std::string dir;         // the sweep directory (absolute)
  std::string headscope;   // the headscope binary (absolute)
  int64_t array = 1;       // tasks
  std::string partition;   // optional
  std::string time;        // optional, Slurm time format (e.g. 01:00:00)
  int64_t cpus_per_task = 0;  // optional
};

std::string slurm_script(const SlurmScriptOptions& o);

}  // namespace headscope
