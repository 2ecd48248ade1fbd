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
#include <tuple>

#include <nlohmann/json.hpp>

#include "common/atomic_file.h"
#include "common/text.h"
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

  TEST_CASE("ablate resumes by the classification file's content, not its path") {
    const std::string cfg = tmp("clsres.toml"), out = tmp("clsres.json"), cls = classification_file();
    const std::string copy = tmp("cls-copy.json");
    write_file(cfg, kToml);
    fs::remove(out);
    fs::copy_file(cls, copy, fs::copy_options::overwrite_existing);
    const std::string base = "ablate --model " + bundled_model() + " --text " + repo("data/pg19-10146.txt") +
                             " --max-tokens 32 --threads 1 --no-progress --config " + cfg +
                             " --groups G --out " + out + " --classifications ";
    Run r1 = run(base + cls);
    INFO(r1.out);
    REQUIRE(r1.code == 0);
    nlohmann::json j = nlohmann::json::parse(headscope::read_file(out));
    CHECK(j["classifications_sha256"] == headscope::sha256_hex(headscope::read_file(cls)));
    Run r2 = run(base + copy);  // a byte-identical copy at another path resumes
    INFO(r2.out);
    CHECK(r2.code == 0);
    CHECK(r2.out.find("0 configuration(s) evaluated, 1 resumed") != std::string::npos);
    // the same path with other content (another analysis) does not: its results would differ
    nlohmann::json c = nlohmann::json::parse(headscope::read_file(copy));
    c["classifications"][0]["confidence"] = 0.99;
    write_file(copy, c.dump());
    Run r3 = run(base + copy);
    INFO(r3.out);
    CHECK(r3.code == 1);
    CHECK(r3.out.rfind("headscope: error: ", 0) == 0);
    CHECK(r3.out.find("holds results for classification file") != std::string::npos);
    CHECK(std::count(r3.out.begin(), r3.out.end(), '\n') == 1);
  }

  TEST_CASE("ablate rejects bad input with one line and no output") {
    const std::string out = tmp("never.json"), bad = tmp("bad.toml");
    write_file(bad, "[[group]]\nid = \"X\"\nbuilder = \"uniform\"\nconfigs = [ { name = \"x\", window = -7 } ]\n");
    const std::string base = "ablate --model " + bundled_model() + " --text " +
                             repo("data/pg19-10146.txt") + " --max-tokens 32 --out " + out;
    // exit 2: options that do not go together or a value an option does not accept;
    // exit 1: a file whose content is wrong or missing
    for (const auto& [args, what, code] : std::vector<std::tuple<std::string, std::string, int>>{
             {" --config " + bad, "window must be -1", 1},
             {" --groups G", "need --classifications", 2},
             {" --groups Z", "no group 'Z'", 2},
             {" --config " + tmp("missing.toml"), "missing.toml", 1},
             {" --classifications " + classification_file(6, 8), "the model has 6 layers x 4 heads", 1}}) {
      Run r = run(base + args);
      INFO(args << "\n" << r.out);
      CHECK(r.code == code);
      CHECK(r.out.rfind("headscope: error: ", 0) == 0);
      CHECK(r.out.find(what) != std::string::npos);
      CHECK(std::count(r.out.begin(), r.out.end(), '\n') == 1);
      CHECK_FALSE(fs::exists(out));
    }
  }
}
