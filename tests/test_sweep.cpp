// Sweeps: manifest with stable ids, shards (explicit, Slurm, Kubernetes), atomic per-unit
// results, resume, failure recording, completeness-checked merge; two shards merge to exactly
// the one-process result; per-unit values checked against the independent single-text
// commands (eval for dense, the ablation runner for a configuration).
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <map>

#include <nlohmann/json.hpp>

#include "common/atomic_file.h"
#include "common/provenance.h"
#include "common/error.h"
#include "sweep/manifest.h"
#include "sweep/shard.h"
#include "sweep/slurm_script.h"
#include "tests/cli_runner.h"
#include "tests/support.h"

using namespace headscope;
namespace fs = std::filesystem;

namespace {

std::string tmp(const std::string& n) { return test::temp_path("sweep", n); }

EnvFn env_of(std::map<std::string, std::string> m) {
  auto p = std::make_shared<std::map<std::string, std::string>>(std::move(m));
  return [p](const char* k) -> const char* {
    auto it = p->find(k);
    return it == p->end() ? nullptr : it->second.c_str();
  };
}

const char* kAblation = R"(
reference_group = "B"
[[group]]
id = "B"
builder = "uniform"
sink = 4
configs = [ { name = "B_w16", window = 16 }, { name = "B_w32", window = 32 } ]
[[group]]
id = "A"
builder = "uniform"
sink = 0
configs = [ { name = "A_w24", window = 24 } ]
)";

// Two documents cut from the bundled text, a spec over them; returns the spec path.
std::string make_spec(const std::string& name, const std::string& extra_doc = "") {
  const std::string dir = tmp(name + "_docs");
  test::remove_tree(dir);
  fs::create_directories(dir);
  const std::string src = read_file(test::repo("data/pg19-10146.txt"));
  test::write_file(dir + "/d1.txt", src.substr(1000, 1200));
  test::write_file(dir + "/d2.txt", src.substr(30000, 1500));
  if (!extra_doc.empty()) test::write_file(dir + "/d3.txt", extra_doc);
  test::write_file(tmp("ablation.toml"), kAblation);
  const std::string spec = tmp(name + ".toml");
  test::write_file(spec, "[[model]]\npath = \"" + test::bundled_model() + "\"\n[[dataset]]\npath = \"" + dir +
                             "\"\n[evaluation]\nmax_tokens = 96\nthreads = 1\n[ablation]\nconfig = \"" +
                             tmp("ablation.toml") + "\"\n[statistics]\nbootstrap = 200\nseed = 3\n");
  return spec;
}

nlohmann::json merged(const std::string& dir) { return nlohmann::json::parse(read_file(dir + "/merged.json")); }

}  // namespace

TEST_SUITE("sweep") {
  TEST_CASE("shards: K/N, Slurm array, Kubernetes indexed Job, out of range") {
    Shard s = parse_shard("1/3", env_of({}));
    CHECK(s.index == 1);
    CHECK(s.count == 3);
    CHECK_THROWS_WITH_AS(parse_shard("3/3", env_of({})), doctest::Contains("out of range"), Error);
    CHECK_THROWS_AS(parse_shard("1/0", env_of({})), Error);
    CHECK_THROWS_AS(parse_shard("x", env_of({})), Error);
    s = parse_shard("auto", env_of({{"SLURM_ARRAY_TASK_ID", "5"}, {"SLURM_ARRAY_TASK_MIN", "4"},
                                    {"SLURM_ARRAY_TASK_COUNT", "2"}}));
    CHECK(s.index == 1);
    CHECK(s.count == 2);
    CHECK(s.source == "SLURM_ARRAY_TASK_ID");
    CHECK_THROWS_WITH_AS(parse_shard("auto", env_of({{"SLURM_ARRAY_TASK_ID", "2"}, {"SLURM_ARRAY_TASK_COUNT", "2"}})),
                         doctest::Contains("out of range"), Error);
    s = parse_shard("auto/4", env_of({{"JOB_COMPLETION_INDEX", "3"}}));
    CHECK(s.index == 3);
    CHECK(s.count == 4);
    CHECK_THROWS_WITH_AS(parse_shard("auto", env_of({{"JOB_COMPLETION_INDEX", "3"}})),
                         doctest::Contains("auto/N"), Error);
    CHECK_THROWS_WITH_AS(parse_shard("auto", env_of({})), doctest::Contains("neither"), Error);
  }

  TEST_CASE("plan: stable ids; bad specs are one-line errors") {
    const std::string spec = make_spec("plan");
    SweepManifest a = plan_sweep(load_sweep_spec(spec)), b = plan_sweep(load_sweep_spec(spec));
    REQUIRE(a.units.size() == 2 * 4);
    for (size_t i = 0; i < a.units.size(); ++i) CHECK(a.units[i].id == b.units[i].id);
    CHECK(a.units[0].config == "dense");
    CHECK(a.units[1].config == "B_w16");
    CHECK_THROWS_WITH_AS(parse_sweep_spec("[[dataset]]\npath='x'\n", "s.toml"), doctest::Contains("no [[model]]"), Error);
    CHECK_THROWS_WITH_AS(parse_sweep_spec("[[model]]\npath='m'\n[[dataset]]\npath='x'\n[evaluation]\nmax_tokn=3\n", "s.toml"),
                         doctest::Contains("unknown key 'max_tokn'"), Error);
    // a manifest edited by hand no longer matches its ids
    nlohmann::json j = a.to_json();
    j["units"][2]["config"] = "B_w16";  // unit 2 is B_w32: another name, the old id
    CHECK_THROWS_WITH_AS(SweepManifest::from_json(j, "m.json"), doctest::Contains("inconsistent manifest"), Error);
    j = a.to_json();
    j["units"][3]["index"] = 7;
    CHECK_THROWS_WITH_AS(SweepManifest::from_json(j, "m.json"), doctest::Contains("inconsistent manifest"), Error);
  }

  TEST_CASE("one process and two shards merge to the same results; values match single-text runs") {
    const std::string spec = make_spec("grid");
    const std::string one = tmp("one"), two = tmp("two");
    test::remove_tree(one);
    test::remove_tree(two);
    test::Run r = test::run("sweep plan " + spec + " --out " + one);
    INFO(r.out);
    REQUIRE(r.code == 0);
    CHECK(r.out.find("units      8 = 1 model(s) x 2 document(s) x 4") != std::string::npos);
    r = test::run("sweep run " + one);
    REQUIRE(r.code == 0);
    r = test::run("sweep merge " + one);
    INFO(r.out);
    REQUIRE(r.code == 0);
    REQUIRE(test::run("sweep plan " + spec + " --out " + two).code == 0);
    CHECK(read_file(one + "/manifest.json") == read_file(two + "/manifest.json"));
    r = test::run("sweep run " + two + " --shard 0/2");
    REQUIRE(r.code == 0);
    CHECK(r.out.find("4 unit(s), 0 already done, 4 to run") != std::string::npos);
    // incomplete: merge refuses, one line, nothing written
    r = test::run("sweep merge " + two);
    CHECK(r.code != 0);
    CHECK(r.out.rfind("headscope: error: ", 0) == 0);
    CHECK(r.out.find("4 of 8 unit(s) have no result") != std::string::npos);
    CHECK_FALSE(fs::exists(two + "/merged.json"));
    r = test::run("sweep run " + two + " --shard 1/2");
    REQUIRE(r.code == 0);
    r = test::run("sweep run " + two + " --shard 0/2");  // a rerun redoes nothing
    CHECK(r.out.find("4 already done, 0 to run") != std::string::npos);
    REQUIRE(test::run("sweep merge " + two).code == 0);
    const auto m1 = merged(one), m2 = merged(two);
    CHECK(m1["results_sha256"] == m2["results_sha256"]);
    CHECK(m1["models"] == m2["models"]);

    // independent references: dense = `eval`, a configuration = the single-text ablation runner
    const auto& mo = m1["models"][0];
    const std::string d2 = tmp("grid_docs") + "/d2.txt";
    const std::string ej = tmp("ref_eval.json");
    REQUIRE(test::run("eval --model " + test::bundled_model() + " --text " + d2 +
                      " --max-tokens 96 --threads 1 --json " + ej).code == 0);
    CHECK(mo["dense"]["documents"][1]["perplexity"].get<double>() ==
          doctest::Approx(nlohmann::json::parse(read_file(ej))["perplexity"].get<double>()).epsilon(1e-6));
    const std::string aj = tmp("ref_ablate.json");
    fs::remove(aj);
    REQUIRE(test::run("ablate --model " + test::bundled_model() + " --text " + d2 + " --config " +
                      tmp("ablation.toml") + " --groups B --max-tokens 96 --threads 1 --no-progress --out " + aj).code == 0);
    const auto ref = nlohmann::json::parse(read_file(aj));
    CHECK(mo["results"][0]["name"] == "B_w16");
    CHECK(mo["results"][0]["documents"][1]["perplexity"].get<double>() ==
          doctest::Approx(ref["results"][0]["perplexity"].get<double>()).epsilon(1e-6));
    CHECK(mo["results"][0]["documents"][1]["measured_context"].get<double>() ==
          doctest::Approx(ref["results"][0]["measured_context"].get<double>()));
    // A is compared with the B configuration of nearest measured context
    CHECK(mo["results"][2]["name"] == "A_w24");
    CHECK(mo["results"][2]["paired_vs_reference"]["against"].is_string());
    CHECK(mo["results"][0]["paired_vs_reference"].is_null());
    CHECK(mo["results"][1]["pooled"]["perplexity_ci95"].is_array());

    // ablate over the same documents (in memory) gives the same pooled values
    const std::string multi = tmp("ablate_multi.json");
    r = test::run("ablate --model " + test::bundled_model() + " --dataset " + tmp("grid_docs") + " --config " +
                  tmp("ablation.toml") + " --max-tokens 96 --threads 1 --bootstrap 200 --bootstrap-seed 3 --out " + multi);
    INFO(r.out);
    REQUIRE(r.code == 0);
    const auto am = nlohmann::json::parse(read_file(multi));
    CHECK(am["results"] == mo["results"]);
    // provenance: multi-document ablate, every unit file, the merged file
    CHECK(am["provenance"]["command"] == "ablate");
    CHECK(am["provenance"]["model"]["identity"] == headscope::model_identity(test::bundled_model()).id);
    REQUIRE(am["provenance"]["texts"].size() == 2);
    CHECK(am["provenance"]["texts"][1]["tokens"] == 96);
    CHECK(am["provenance"]["options"]["bootstrap"] == 200);
    size_t with_provenance = 0;
    for (const auto& e : fs::directory_iterator(one + "/units")) {
      const auto u = nlohmann::json::parse(read_file(e.path().string()));
      const auto& p = u["provenance"];
      CHECK(p["command"] == "sweep run");
      CHECK(p["model"]["identity"] == headscope::model_identity(test::bundled_model()).id);
      CHECK(p["texts"][0]["token_ids_sha256"].get<std::string>().size() == 64);
      CHECK(p["options"]["config"] == u["config"]);
      CHECK(p["headscope"]["commit"].is_string());
      with_provenance += p.is_object();
    }
    CHECK(with_provenance == 8);
    CHECK(m1["provenance"]["command"] == "sweep merge");
  }

  TEST_CASE("a failing unit is recorded and the rest go on; bad manifests and documents") {
    const std::string spec = make_spec("fail", "x");  // d3 has a single token: too short to score
    const std::string dir = tmp("fail_dir");
    test::remove_tree(dir);
    REQUIRE(test::run("sweep plan " + spec + " --out " + dir).code == 0);
    test::Run r = test::run("sweep run " + dir);
    INFO(r.out);
    CHECK(r.code != 0);
    CHECK(r.out.find("headscope: error: 4 unit(s) failed") != std::string::npos);
    CHECK(r.out.find("8 evaluated, 4 failed") != std::string::npos);
    r = test::run("sweep merge " + dir);
    CHECK(r.code != 0);
    CHECK(r.out.find("0 of 12 unit(s) have no result, 4 failed; first failure:") != std::string::npos);
    CHECK(r.out.find("too short to score") != std::string::npos);
    CHECK(std::count(r.out.begin(), r.out.end(), '\n') == 1);
    // a document changed after planning
    test::write_file(tmp("fail_docs") + "/d1.txt", "changed text");
    for (const auto& e : fs::directory_iterator(dir + "/units")) fs::remove(e.path());
    r = test::run("sweep run " + dir);
    CHECK(r.code != 0);
    CHECK(r.out.find("inconsistent manifest: document") != std::string::npos);
    // a hand-edited manifest
    std::string mtext = read_file(dir + "/manifest.json");
    mtext.replace(mtext.find("\"B_w16\""), 7, "\"B_w99\"");
    test::write_file(dir + "/manifest.json", mtext);
    r = test::run("sweep merge " + dir);
    CHECK(r.code != 0);
    CHECK(r.out.find("inconsistent manifest") != std::string::npos);
    r = test::run("sweep run " + dir + " --shard 2/2");
    CHECK(r.out.find("out of range") != std::string::npos);
    CHECK(std::count(r.out.begin(), r.out.end(), '\n') == 1);
  }

  TEST_CASE("slurm script: array job, dependent merge job") {
    SlurmScriptOptions o;
    o.dir = "/data/sweep";
    o.headscope = "/opt/headscope";
    o.array = 3;
    o.partition = "cpu";
    o.time = "01:00:00";
    const std::string s = slurm_script(o);
    CHECK(s.find("--array=0-2") != std::string::npos);
    CHECK(s.find("--partition='cpu'") != std::string::npos);
    CHECK(s.find("--time=01:00:00") != std::string::npos);
    CHECK(s.find("sweep run '$DIR' --shard auto") != std::string::npos);
    CHECK(s.find("--dependency=afterany:$array") != std::string::npos);
    CHECK(s.find("sweep merge '$DIR'") != std::string::npos);
    o.time = "1h";
    CHECK_THROWS_AS(slurm_script(o), Error);
  }
}
