// headscope sweep plan | run | merge | slurm: a grid of (model x document x configuration)
// evaluation units, run by any number of independent processes (shards; Slurm array tasks;
// Kubernetes indexed Jobs), each unit's result in its own atomically written file, merged
// into pooled results with intervals. See sweep/manifest.h for SPEC.toml.
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "cli/commands.h"
#include "common/atomic_file.h"
#include "common/error.h"
#include "common/provenance.h"
#include "common/text.h"
#include "sweep/manifest.h"
#include "sweep/shard.h"
#include "sweep/slurm_script.h"
#include "sweep/sweep_merge.h"
#include "sweep/sweep_run.h"

namespace headscope::cli {

namespace fs = std::filesystem;

namespace {

struct SweepArgs {
  std::string spec, out, dir, shard = "all", device = "cpu", partition, time;
  int64_t threads = -1, array = 0, cpus = 0;
};

std::string self_exe() {
  std::error_code ec;
  fs::path p = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string("headscope") : p.string();
}

}  // namespace

void register_sweep(CLI::App& app) {
  auto a = std::make_shared<SweepArgs>();
  CLI::App* sw = app.add_subcommand("sweep", "grids of evaluation units, sharded over processes or a Slurm array");
  sw->require_subcommand(1);

  CLI::App* plan = sw->add_subcommand("plan", "expand SPEC.toml into DIR/manifest.json (units with stable ids)");
  plan->add_option("spec", a->spec, "sweep specification (TOML)")->required();
  plan->add_option("--out", a->out, "sweep directory")->required();
  plan->callback([a]() {
    SweepSpec spec = load_sweep_spec(a->spec);
    SweepManifest m = plan_sweep(spec);
    const std::string mp = manifest_path(a->out);
    require(!fs::exists(a->out) || fs::is_directory(a->out), "--out " + a->out + " exists and is not a directory");
    const std::string text = m.to_json().dump(1) + "\n";
    if (fs::exists(mp)) {
      require(read_file(mp) == text, mp + " already holds another sweep; choose another --out");
      std::printf("manifest   %s unchanged\n", mp.c_str());
    } else {
      write_file_atomic(mp, text);
      std::printf("manifest   %s\n", mp.c_str());
    }
    std::printf("units      %zu = %zu model(s) x %zu document(s) x %zu (dense + configurations)\n",
                m.units.size(), spec.models.size(), m.documents.size(),
                m.units.size() / (spec.models.size() * m.documents.size()));
  });

  CLI::App* run = sw->add_subcommand("run", "run this shard's unfinished units");
  run->add_option("dir", a->dir, "sweep directory")->required();
  run->add_option("--shard", a->shard,
                  "K/N (units with index = K mod N), auto (Slurm array task), auto/N "
                  "(JOB_COMPLETION_INDEX of N), or all")->capture_default_str();
  run->add_option("--device", a->device, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}))->capture_default_str();
  run->add_option("--threads", a->threads, "intra-op threads (default: the spec's)");
  run->callback([a]() {
    Shard sh = parse_shard(a->shard);
    SweepManifest m = SweepManifest::load(a->dir);
    SweepRunOptions o;
    o.shard = sh;
    o.device = a->device;
    o.threads = a->threads;
    o.log = stdout;
    SweepRunStats st = run_sweep(a->dir, m, o);
    std::printf("done       %lld evaluated, %lld failed, %lld already done, %.1f s\n",
                (long long)st.evaluated, (long long)st.failed, (long long)st.already_done, st.wall_s);
    if (st.failed > 0)
      throw Error(std::to_string(st.failed) + " unit(s) failed (recorded in " + a->dir +
                  "/units); first: " + st.first_error);
  });

  CLI::App* merge = sw->add_subcommand("merge", "check completeness and write DIR/merged.json");
  merge->add_option("dir", a->dir, "sweep directory")->required();
  merge->callback([a]() {
    SweepManifest m = SweepManifest::load(a->dir);
    std::vector<nlohmann::json> units = collect_unit_results(a->dir, m);
    nlohmann::json models = merge_unit_results(m, units);
    double wall = 0;
    std::map<std::string, double> by_host;
    for (const auto& u : units) {
      wall += u.value("wall_s", 0.0);
      by_host[u.value("host", std::string("?")) + " shard " + u.value("shard", std::string("?"))] += u.value("wall_s", 0.0);
    }
    nlohmann::json j = {{"schema", kSweepMergedSchema},
                        {"manifest_sha256", sha256_hex(read_file(manifest_path(a->dir)))},
                        {"units", m.units.size()},
                        {"results_sha256", sha256_hex(models.dump())},
                        {"models", models},
                        {"timing", {{"unit_wall_s_sum", wall}, {"unit_wall_s_by_shard", by_host}}}};
    {
      Provenance p;  // each unit file carries its own (model identity, runtime, token ids)
      p.command = "sweep merge";
      j["provenance"] = p.to_json();
    }
    const std::string out = (fs::path(a->dir) / "merged.json").string();
    write_file_atomic(out, j.dump(1) + "\n");
    std::printf("%s", format_merged(models).c_str());
    std::printf("merged     %zu units -> %s (results sha256 %s)\n", m.units.size(), out.c_str(),
                j["results_sha256"].get<std::string>().substr(0, 16).c_str());
  });

  CLI::App* slurm = sw->add_subcommand("slurm", "print an sbatch script: array job + dependent merge job");
  slurm->add_option("dir", a->dir, "sweep directory")->required();
  slurm->add_option("--array", a->array, "number of array tasks (shards)")->required()->check(CLI::PositiveNumber);
  slurm->add_option("--partition", a->partition, "Slurm partition");
  slurm->add_option("--time", a->time, "time limit per task (Slurm format)");
  slurm->add_option("--cpus-per-task", a->cpus, "CPUs per task")->check(CLI::NonNegativeNumber);
  slurm->callback([a]() {
    SweepManifest m = SweepManifest::load(a->dir);
    require(a->array <= static_cast<int64_t>(m.units.size()),
            "--array " + std::to_string(a->array) + " is more than the " + std::to_string(m.units.size()) + " units");
    SlurmScriptOptions o;
    o.dir = fs::absolute(a->dir).lexically_normal().string();
    o.headscope = self_exe();
    o.array = a->array;
    o.partition = a->partition;
    o.time = a->time;
    o.cpus_per_task = a->cpus;
    std::printf("%s", slurm_script(o).c_str());
  });
}

}  // namespace headscope::cli
