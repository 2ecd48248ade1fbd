#include "sweep/shard.h"

#include <cstdlib>

#include "common/error.h"

namespace headscope {

namespace {

bool parse_int(const char* s, int64_t& v) {
  if (!s || !*s) return false;
  char* end = nullptr;
  long long x = std::strtoll(s, &end, 10);
  if (*end != '\0' || x < 0) return false;
  v = x;
  return true;
}

void check(const Shard& s, const std::string& what) {
  require(s.count >= 1, what + ": the number of shards must be >= 1");
  require(s.index >= 0 && s.index < s.count,
          what + ": shard index " + std::to_string(s.index) + " is out of range for " +
              std::to_string(s.count) + " shard(s) (0.." + std::to_string(s.count - 1) + ")");
}

}  // namespace

Shard parse_shard(const std::string& s, const EnvFn& env_in) {
  const EnvFn env = env_in ? env_in : EnvFn([](const char* k) { return std::getenv(k); });
  Shard sh;
  if (s.empty() || s == "all") {
    sh.source = "all";
    return sh;
  }
  if (s == "auto" || s.rfind("auto/", 0) == 0) {
    int64_t id = 0, n = 0, lo = 0;
    if (parse_int(env("SLURM_ARRAY_TASK_ID"), id)) {
      if (s != "auto") {
        require(parse_int(s.substr(5).c_str(), n), "--shard " + s + ": expected auto/N");
      } else {
        require(parse_int(env("SLURM_ARRAY_TASK_COUNT"), n),
                "--shard auto: SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not");
      }
      if (parse_int(env("SLURM_ARRAY_TASK_MIN"), lo)) id -= lo;
      sh = {id, n, "SLURM_ARRAY_TASK_ID"};
      check(sh, "--shard auto (Slurm array task " + std::to_string(id + lo) + ")");
      return sh;
    }
    if (parse_int(env("JOB_COMPLETION_INDEX"), id)) {
      require(s != "auto", "--shard auto: JOB_COMPLETION_INDEX is set; give the number of shards as --shard auto/N");
      require(parse_int(s.substr(5).c_str(), n), "--shard " + s + ": expected auto/N");
      sh = {id, n, "JOB_COMPLETION_INDEX"};
      check(sh, "--shard auto (JOB_COMPLETION_INDEX)");
      return sh;
    }
    throw Error("--shard " + s + ": neither SLURM_ARRAY_TASK_ID nor JOB_COMPLETION_INDEX is set");
  }
  const size_t slash = s.find('/');
  int64_t k = 0, n = 0;
  require(slash != std::string::npos && parse_int(s.substr(0, slash).c_str(), k) &&
              parse_int(s.substr(slash + 1).c_str(), n),
          "--shard " + s + ": expected K/N (0 <= K < N), auto, or auto/N");
  sh = {k, n, "--shard"};
  check(sh, "--shard " + s);
  return sh;
}

}  // namespace headscope
