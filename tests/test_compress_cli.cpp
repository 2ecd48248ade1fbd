// End-to-end: `headscope eval` with compression methods on the bundled 14m model: JSON results
// with the decode metrics and the position convention, --compare-all, and bad method
// parameters as one-line errors that leave no output file.
#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>

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

std::string tmp(const std::string& name) { return headscope::test::temp_path("compress_cli", name); }

const std::string kBase = " --model " + bundled_model() + " --text " + repo("data/pg19-10146.txt") +
                          " --threads 1";

}  // namespace

TEST_SUITE("compress_cli") {
  TEST_CASE("eval --method streaming_llm writes the decode metrics") {
    const std::string out = tmp("stream.json");
    fs::remove(out);
    Run r = run("eval" + kBase + " --max-tokens 150 --method streaming_llm --start-size 4 "
                "--recent-size 60 --positions shifted --json " + out);
    INFO(r.out);
    REQUIRE(r.code == 0);
    CHECK(r.out.find("positions  shifted") != std::string::npos);
    CHECK(r.out.find("tpot") != std::string::npos);
    auto j = nlohmann::json::parse(headscope::read_file(out));
    CHECK(j["method"] == "streaming_llm");
    CHECK(j["positions"] == "shifted");
    CHECK(j["tokens"] == 150);
    CHECK(j["final_cache_size"] == 64);
    CHECK(j["compressor"]["start_size"] == 4);
    CHECK(j["compressor"]["recent_size"] == 60);
    CHECK(j["ttft_s"].get<double>() > 0);
    CHECK(j["tpot_s"].get<double>() > 0);
    CHECK(j["cache_bytes"].get<int64_t>() > 0);
    CHECK(j["rss_peak_bytes"].get<int64_t>() > 0);
    CHECK(std::isfinite(j["perplexity"].get<double>()));
  }

  TEST_CASE("--decode dense equals the parallel dense evaluation") {
    const std::string a = tmp("dense_par.json"), b = tmp("dense_dec.json");
    REQUIRE(run("eval" + kBase + " --max-tokens 100 --json " + a).code == 0);
    REQUIRE(run("eval" + kBase + " --max-tokens 100 --decode --json " + b).code == 0);
    auto ja = nlohmann::json::parse(headscope::read_file(a));
    auto jb = nlohmann::json::parse(headscope::read_file(b));
    CHECK(ja["decode"] == false);
    CHECK(jb["decode"] == true);
    CHECK(jb["final_cache_size"] == 99);
    CHECK(std::abs(ja["perplexity"].get<double>() - jb["perplexity"].get<double>()) <
          1e-4 * ja["perplexity"].get<double>());
  }

  TEST_CASE("--compare-all prints one table and writes every method") {
    const std::string out = tmp("all.json");
    Run r = run("eval" + kBase + " --max-tokens 80 --compare-all --recent-size 28 --window 32 "
                "--fix-kv-size 32 --prune-after 40 --cache-size 32 --positions cache --json " + out);
    INFO(r.out);
    REQUIRE(r.code == 0);
    CHECK(r.out.find("TPOT ms") != std::string::npos);
    auto j = nlohmann::json::parse(headscope::read_file(out));
    REQUIRE(j["results"].size() == 6);
    std::vector<std::string> methods;
    for (auto& e : j["results"]) {
      methods.push_back(e["method"]);
      CHECK(e["positions"] == "cache");
    }
    CHECK(methods == std::vector<std::string>{"dense", "streaming_llm", "recent_only", "l2", "fix_size_l2", "tova"});
    CHECK(j["results"][1]["final_cache_size"] == 32);
    CHECK(j["results"][2]["final_cache_size"] == 32);
    CHECK(j["results"][4]["final_cache_size"] == 32);
    CHECK(j["results"][5]["final_cache_size"] == 32);
    CHECK(j["results"][5]["perplexity"].get<double>() != j["results"][0]["perplexity"].get<double>());
  }

  TEST_CASE("bad method parameters: one line, non-zero exit, no output file") {
    const std::string out = tmp("never.json");
    fs::remove(out);
    auto bad = [&](const std::string& args, const std::string& what) {
      Run r = run("eval" + kBase + " --max-tokens 50 " + args + " --json " + out);
      INFO("args: " << args << "\noutput: " << r.out);
      CHECK(r.code != 0);
      CHECK(r.out.rfind("headscope: error: ", 0) == 0);
      CHECK(r.out.find(what) != std::string::npos);
      CHECK(std::count(r.out.begin(), r.out.end(), '\n') == 1);
      CHECK_FALSE(fs::exists(out));
    };
    bad("--method streaming_llm --recent-size -4", "--recent-size must be >= 0");
    bad("--method streaming_llm --start-size 0 --recent-size 0", "a cache of 0 entries");
    bad("--method recent_only --window 0", "--window must be >= 1");
    bad("--method l2 --keep-ratio 1.5", "--keep-ratio must be in [0, 1]");
    bad("--method l2 --l2-mode sometimes", "--l2-mode");
    bad("--method fix_size_l2 --fix-kv-size 0", "--fix-kv-size must be >= 1");
    bad("--method fix_size_l2 --strategy keep_middle", "unknown --strategy 'keep_middle'");
    bad("--method h2o", "runs only under --protocol prefill");
    bad("--method nonesuch", "unknown compression method 'nonesuch'");
    bad("--method streaming_llm --skip-layers 9", "layer 9 does not exist");
    bad("--method fix_size_l2 --strategy random --seed -3", "--seed must be >= 0, got -3");
    bad("--method l2 --keep-ratio -1", "--keep-ratio must be in [0, 1], got -1");
    bad("--method fix_size_l2 --keep-ratio -0.5", "--keep-ratio must be in [0, 1], got -0.5");
    bad("--method l2 --keep-ratio abc", "--keep-ratio must be a number, got 'abc'");
  }

  TEST_CASE("an option the method does not take is a usage error (exit 2, one line)") {
    const std::string out = tmp("never2.json");
    fs::remove(out);
    auto refused = [&](const std::string& args, const std::string& line) {
      Run r = run("eval" + kBase + " --max-tokens 50 " + args + " --json " + out);
      INFO("args: " << args << "\noutput: " << r.out);
      CHECK(r.code == 2);
      CHECK(r.out == "headscope: error: " + line + "\n");
      CHECK_FALSE(fs::exists(out));
    };
    refused("--method streaming_llm --window 10", "--window does not apply to --method streaming_llm");
    refused("--method recent_only --keep-ratio 0.5", "--keep-ratio does not apply to --method recent_only");
    refused("--method l2 --start-size 2", "--start-size does not apply to --method l2");
    refused("--keep-ratio 0.5", "--keep-ratio does not apply to --method dense");
    refused("--decode --skip-layers 0", "--skip-layers does not apply to --method dense");
    refused("--compare-all --window-size 8", "--window-size does not apply to any method of --compare-all");
    refused("--protocol prefill --context-tokens 32 --method snapkv --compression-ratio 0.5 --recent-share 0.2",
            "--recent-share does not apply to --method snapkv");
    refused("--protocol prefill --context-tokens 32 --method adakv --compression-ratio 0.5 --adakv-press knorm "
            "--window-size 8",
            "--window-size does not apply to --method adakv --adakv-press knorm");
    refused("--protocol prefill --context-tokens 32 --method l2 --window-size 8",
            "--window-size does not apply to --method l2");
  }

  TEST_CASE("eval --help lists every registered method and its options") {
    Run r = run("eval --help");
    REQUIRE(r.code == 0);
    for (const char* m : {"streaming_llm", "recent_only", "l2", "fix_size_l2", "snapkv", "adakv"})
      CHECK(r.out.find(m) != std::string::npos);
    CHECK(r.out.find("l2: share of entries kept (default 0.8)") != std::string::npos);
    CHECK(r.out.find("fix_size_l2: protected recent share of --fix-kv-size (default 0.2)") != std::string::npos);
  }
}
