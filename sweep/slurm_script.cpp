#include "sweep/slurm_script.h"

#include "common/error.h"

namespace headscope {

namespace {

// Single-quoted for sh.
std::string q(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace

std::string slurm_script(const SlurmScriptOptions& o) {
  require(o.array >= 1, "--array must be >= 1");
  for (const std::string* p : {&o.dir, &o.headscope})
    require(p->find_first_of("'\"$`\\") == std::string::npos,
            "sweep slurm: the path " + *p + " contains a quote, $, ` or backslash; use a plainer path");
  for (char c : o.time)
    require(std::isdigit(static_cast<unsigned char>(c)) || c == ':' || c == '-',
            "--time " + o.time + ": expected a Slurm time such as 30, 01:00:00 or 1-00:00:00");
  std::string extra;
  if (!o.partition.empty()) extra += " --partition=" + q(o.partition);
  if (!o.time.empty()) extra += " --time=" + o.time;
  if (o.cpus_per_task > 0) extra += " --cpus-per-task=" + std::to_string(o.cpus_per_task);
  std::string s;
  s += "#!/bin/sh\n";
  s += "# headscope sweep on Slurm: " + std::to_string(o.array) + " array task(s), then the merge.\n";
  s += "# Run this script on a submit host (it calls sbatch twice and prints both job ids).\n";
  s += "set -eu\n";
  s += "DIR=" + q(o.dir) + "\n";
  s += "HEADSCOPE=" + q(o.headscope) + "\n";
  s += "mkdir -p \"$DIR/slurm\"\n";
  s += "array=$(sbatch --parsable --job-name=headscope-sweep --array=0-" + std::to_string(o.array - 1) +
       extra + " --output=\"$DIR/slurm/run-%A_%a.out\" --wrap=\"'$HEADSCOPE' sweep run '$DIR' --shard auto\")\n";
  s += "array=${array%%;*}\n";
  s += "merge=$(sbatch --parsable --job-name=headscope-merge --dependency=afterany:$array" + extra +
       " --output=\"$DIR/slurm/merge-%j.out\" --wrap=\"'$HEADSCOPE' sweep merge '$DIR'\")\n";
  s += "echo \"array job $array, merge job ${merge%%;*}\"\n";
  return s;
}

}  // namespace headscope
