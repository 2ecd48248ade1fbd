// End-to-end: `headscope ablate` on the bundled model: writes the results file in the schema,
// resumes (skips what is stored), prints the summary and key comparisons, and rejects bad
// input with one error line before writing anything.
#include <unistd.h>
#include <doctest/doctest.h>

#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "common/atomic_file.h"
#include "tests/cli_runner.h"
#include "tests/support.h"

namespace fs = std::filesystem;
using headscope::test::bundled_model;
using headscope::test::cli_binary;
using headscope::test::repo;

namespace {

using headscope::test::Run;
using headscope::test::run;

std::string tmp(const std::string& name) { return headscope::test::temp_path("cli_ablate", name); }

using headscope::test::write_file;

// A classification file (layers x heads; the 14m model has 6 x 4) in the original's schema.
std::string classification_file(int layers = 6, int heads = 4) {
  nlohmann::json cl = nlohmann::json::array();
  const char* types[] = {"positional", "mixed", "gathering", "sink_mixed"};
  for (int l = 0; l < layers; ++l)
    for (int h = 0; h < heads; ++h)
      cl.push_back({{"layer_idx", l}, {"head_idx", h}, {"head_type", types[(l + h) % 4]},
                    {"confidence", 0.3 + 0.1 * ((l * 4 + h) % 6)}, {"can_prune", false},
                    {"can_limit_window", false}, {"recommended_window", -1}});
  std::string p = tmp("cls" + std::to_string(layers) + "x" + std::to_string(heads) + ".json");
  write_file(p, nlohmann::json{{"classifications", cl}}.dump());
  return p;
}

const char* kToml = R"(
[[group]]
id = "B"
builder = "uniform"
sink = 4
configs = [ { name = "B_16", window = 12 }, { name = "B_32", window = 28 } ]
[[group]]
id = "G"
builder = "confidence"
base_window = 16
configs = [ { name = "G_conf0.5", threshold = 0.5, high_conf_windows = { positional = 8, mixed = 32, gathering = -1 } } ]
)";

}  // namespace

TEST_SUITE("cli_ablate") {
  TEST_CASE("ablate writes, resumes and summarises") {
    const std::string cfg = tmp("small.toml"), out = tmp("out.json"), cls = classification_file();
    write_file(cfg, kToml);
    fs::remove(out);
    const std::string base = "ablate --model " + bundled_model() + " --text " +
                             repo("data/pg19-10146.txt") + " --max-tokens 64 --threads 2 --no-progress" +
                             " --config " + cfg + " --classifications " + cls + " --out " + out;
    Run r1 = run(base + " --groups B");
    INFO(r1.out);
    REQUIRE(r1.code == 0);
    nlohmann::json j = nlohmann::json::parse(headscope::read_file(out));
    CHECK(j["schema"] == "headscope.ablation/1");
    CHECK(j["tokens"] == 64);
    CHECK(j["classifications"] == cls);
    CHECK(j["dense"]["perplexity"].get<double>() > 1);
    REQUIRE(j["results"].size() == 2);
    CHECK(j["results"][1]["name"] == "B_32");
    CHECK(j["results"][1]["params"] == nlohmann::json{{"builder", "uniform"}, {"sink", 4}, {"window", 28}});
    CHECK(j["results"][1]["nominal_context"] == 32.0);

    Run r2 = run(base);  // all groups: B is resumed, G runs
    INFO(r2.out);
    REQUIRE(r2.code == 0);
    CHECK(r2.out.find("B_16                     already in") != std::string::npos);
    CHECK(r2.out.find("1 configuration(s) evaluated, 2 resumed") != std::string::npos);
    CHECK(r2.out.find("--- G") != std::string::npos);
    CHECK(r2.out.find("Key comparisons") != std::string::npos);
    nlohmann::json j2 = nlohmann::json::parse(headscope::read_file(out));
    REQUIRE(j2["results"].size() == 3);
    CHECK(j2["results"][0] == j["results"][0]);
    CHECK(j2["results"][2]["params"]["builder"] == "confidence");
  }

  TEST_CASE("ablate rejects bad input with one line and no output") {
    const std::string out = tmp("never.json"), bad = tmp("bad.toml");
    write_file(bad, "[[group]]\nid = \"X\"\nbuilder = \"uniform\"\nconfigs = [ { name = \"x\", window = -7 } ]\n");
    const std::string base = "ablate --model " + bundled_model() + " --text " +
                             repo("data/pg19-10146.txt") + " --max-tokens 32 --out " + out;
    for (const auto& [args, what] : std::vector<std::pair<std::string, std::string>>{
             {" --config " + bad, "window must be -1"},
             {" --groups G", "need --classifications"},
             {" --groups Z", "no group 'Z'"},
             {" --config " + tmp("missing.toml"), "missing.toml"},
             {" --classifications " + classification_file(6, 8), "the model has 6 layers x 4 heads"}}) {
      Run r = run(base + args);
      INFO(args << "\n" << r.out);
      CHECK(r.code == 1);
      CHECK(r.out.rfind("headscope: error: ", 0) == 0);
      CHECK(r.out.find(what) != std::string::npos);
      CHECK(std::count(r.out.begin(), r.out.end(), '\n') == 1);
      CHECK_FALSE(fs::exists(out));
    }
  }
}
