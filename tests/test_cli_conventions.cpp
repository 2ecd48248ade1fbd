// End-to-end CLI conventions (issue 19): usage errors are one line with exit status 2, an unknown
// command names the valid ones, --version names the commit and libtorch, --device auto, help
// shows defaults, configs are built into the binary (it runs from anywhere), progress on a
// non-terminal and --quiet, resume by content, provenance blocks, honest summaries.
#include <ATen/Context.h>
#include <doctest/doctest.h>
#include <sys/wait.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>

#include <H5Cpp.h>
#include <nlohmann/json.hpp>

#include "analyzer/analysis_io.h"
#include "analyzer/classification_io.h"
#include "common/atomic_file.h"
#include "common/build_info.h"
#include "common/progress.h"
#include "common/provenance.h"
#include "common/text.h"
#include "headaware/ablation_runner.h"
#include "tests/cli_runner.h"
#include "tests/support.h"

namespace fs = std::filesystem;
using headscope::test::bundled_model;
using headscope::test::cli_binary;
using headscope::test::repo;
using headscope::test::Run;
using headscope::test::run;
using headscope::test::write_file;

namespace {

std::string tmp(const std::string& name) { return headscope::test::temp_path("cli_conventions", name); }

// A shell command line (cwd, environment), stdout + stderr together (not a terminal).
Run sh(const std::string& cmd) { return headscope::test::run_shell(cmd); }

void expect_usage_error(const Run& r, const std::string& what) {
  INFO("output: " << r.out);
  CHECK(r.code == 2);
  CHECK(r.out.rfind("headscope: error: ", 0) == 0);
  CHECK(r.out.find(what) != std::string::npos);
  CHECK(std::count(r.out.begin(), r.out.end(), '\n') == 1);
}

const std::string kText = repo("data/pg19-10146.txt");

size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

}  // namespace

TEST_SUITE("cli_conventions") {
  TEST_CASE("usage errors: one line, exit status 2, readable ranges") {
    const std::string m = " --model " + bundled_model() + " --text " + kText;
    Run r = run("eval" + m + " --threads -1");
    expect_usage_error(r, "--threads");
    CHECK(r.out.find("must be at least 0") != std::string::npos);
    CHECK_FALSE(std::regex_search(r.out, std::regex("[0-9]{20}")));  // no 309-digit number
    expect_usage_error(run("eval" + m + " --no-such-option"), "--no-such-option");
    expect_usage_error(run("eval --text " + kText), "--model");                  // required
    expect_usage_error(run("eval" + m + " --device tpu"), "'tpu' is not one of cpu, cuda, auto");
    expect_usage_error(run("eval" + m + " --newlines crlf"), "--newlines");
    expect_usage_error(run("plot --width 5"), "must be between 300 and 8000");
    expect_usage_error(run("ablate" + m + " --context 8 --out " + tmp("x.json") + " --groups A"),
                       "--context and --stride go together");
    CHECK_FALSE(fs::exists(tmp("x.json")));
    // options that do not go together, found after parsing: also exit 2
    expect_usage_error(run("eval" + m + " --policy " + tmp("p.json") + " --method streaming_llm"),
                       "--policy cannot be combined with --method");
    expect_usage_error(run("eval" + m + " --context-tokens 8"), "--context-tokens needs --protocol prefill");
    expect_usage_error(run("eval" + m + " --method streaming_llm --skip-layers 99"),
                       "--skip-layers: layer 99 does not exist");
    expect_usage_error(run("eval" + m + " --context 64 --stride 32 --decode"), "--context/--stride");
    expect_usage_error(run("plot heatmap --in " + tmp("a.json")), "plot heatmap needs --out");
    expect_usage_error(run("plot all --in " + tmp("a.json") + " --out " + tmp("a.png")),
                       "plot all writes several files");
    expect_usage_error(run("tokenize --model " + bundled_model()), "tokenize needs --text");
    expect_usage_error(run("allocate --model " + bundled_model() + " --text " + kText + " --method lagrangian --out " + tmp("al.json")),
                       "--budget must be given");
    CHECK_FALSE(fs::exists(tmp("a.png")));
  }

  TEST_CASE("an unknown or missing command names the valid ones") {
    Run r = run("frobnicate --model x");
    expect_usage_error(r, "unknown command 'frobnicate'");
    CHECK(r.out.find("eval, analyze, ablate") != std::string::npos);
    expect_usage_error(run(""), "no command given (commands: eval, analyze");
    expect_usage_error(run("--quiet"), "no command given");
  }

  TEST_CASE("--version: version, git commit of the build, libtorch version") {
    Run r = run("--version");
    INFO(r.out);
    CHECK(r.code == 0);
    CHECK(r.out == headscope::version_line() + "\n");
    CHECK(r.out.find("libtorch " + std::string(headscope::torch_version())) != std::string::npos);
    const std::string commit = headscope::git_commit();
    Run g = sh("git -C " + repo("") + " rev-parse --short=12 HEAD");
    if (g.code == 0 && g.out.size() >= 12) {
      // the commit the binary was built from (tests run after the build, on that checkout)
      CHECK(commit.substr(0, 12) == g.out.substr(0, 12));
    } else {
      CHECK(commit == "unknown");
    }
    CHECK(r.out.find("(commit " + commit + ")") != std::string::npos);
  }

  TEST_CASE("help shows every option's default") {
    Run r = run("analyze --help");
    INFO(r.out);
    CHECK(r.code == 0);
    CHECK(std::regex_search(r.out, std::regex("--chunk-size [^\\n]*=512\\b")));
    CHECK(std::regex_search(r.out, std::regex("--max-tokens [^\\n]*=2048")));
    CHECK(std::regex_search(r.out, std::regex("--device [^\\n]*=cpu\\b")));
    CHECK(std::regex_search(r.out, std::regex("--threads [^\\n]*=0\\b")));
    Run a = run("ablate --help");
    CHECK(std::regex_search(a.out, std::regex("--kv-group-rule [^\\n]*=max\\b")));
    CHECK(std::regex_search(a.out, std::regex("--max-tokens [^\\n]*=1000")));
  }

  TEST_CASE("--device auto picks cuda when a GPU is visible, else cpu") {
    Run r = run("eval --model " + bundled_model() + " --text " + kText +
                " --max-tokens 16 --threads 1 --device auto");
    INFO(r.out);
    REQUIRE(r.code == 0);
    CHECK(r.out.find(std::string("device     ") + (at::hasCUDA() ? "cuda" : "cpu")) !=
          std::string::npos);
  }

  TEST_CASE("configs are built in: a copy of the binary runs from another directory") {
    const fs::path bin_dir = tmp("installed/bin"), cwd = tmp("elsewhere");
    fs::create_directories(bin_dir);
    fs::create_directories(cwd);
    fs::copy_file(cli_binary(), bin_dir / "headscope", fs::copy_options::overwrite_existing);
    const std::string bin = (bin_dir / "headscope").string();
    fs::remove(cwd / "p.json");
    Run r = sh("cd " + cwd.string() + " && " + bin + " ablate --model " + bundled_model() +
               " --export-policy B_streaming_128 --policy-out p.json");
    INFO(r.out);
    REQUIRE(r.code == 0);
    nlohmann::json p = nlohmann::json::parse(headscope::read_file((cwd / "p.json").string()));
    CHECK(p["name"] == "B_streaming_128");
    CHECK(p["source"]["provenance"]["model"]["identity"] == headscope::model_identity(bundled_model()).id);
    // the built-in copy is configs/ablation.toml as it was at build time
    CHECK(headscope::embedded_config("ablation.toml") == headscope::read_file(repo("configs/ablation.toml")));
    CHECK(headscope::embedded_config("analysis.toml") == headscope::read_file(repo("configs/analysis.toml")));
    // a --config that is not there is an error, not a silent fall-back
    Run m = sh("cd " + cwd.string() + " && " + bin + " ablate --model " + bundled_model() +
               " --config configs/ablation.toml --export-policy B_streaming_128 --policy-out q.json");
    CHECK(m.code == 1);
    CHECK(m.out.rfind("headscope: error: ", 0) == 0);
    CHECK(m.out.find("configs/ablation.toml") != std::string::npos);
    CHECK_FALSE(fs::exists(cwd / "q.json"));
    // analyze runs from there with the built-in analysis config
    Run a = sh("cd " + cwd.string() + " && " + bin + " analyze --model " + bundled_model() +
               " --text " + kText + " --max-tokens 64 --chunk-size 32 --threads 1 --out an");
    INFO(a.out);
    CHECK(a.code == 0);
    CHECK(a.out.find("config built-in configs/analysis.toml") != std::string::npos);
  }

  TEST_CASE("progress: plain lines when stderr is not a terminal, nothing with --quiet") {
    const std::string args = " --model " + bundled_model() + " --text " + kText +
                             " --max-tokens 96 --chunk-size 32 --threads 1 --out " + tmp("prog");
    Run r = sh("HEADSCOPE_PROGRESS_INTERVAL=0 " + cli_binary() + " analyze" + args);
    INFO(r.out);
    REQUIRE(r.code == 0);
    // 3 chunks x 6 layers: a line per step (interval 0) before the end, then a closing line
    CHECK(r.out.find("analyze: 1/18 chunk-layers (6%)") != std::string::npos);
    CHECK(r.out.find("analyze: 18/18 chunk-layers done in") != std::string::npos);
    CHECK(r.out.find('\r') == std::string::npos);  // no bar redraws in a pipe
    Run q = sh("HEADSCOPE_PROGRESS_INTERVAL=0 " + cli_binary() + " analyze" + args + " --quiet");
    CHECK(q.code == 0);
    CHECK(q.out.find("chunk-layers") == std::string::npos);
    // default interval (5 s): short work prints no progress at all
    Run d = sh(cli_binary() + " analyze" + args);
    CHECK(d.out.find("chunk-layers") == std::string::npos);

    // ablate: progress within each configuration, in query blocks over all layers
    const std::string out = tmp("prog_ablate.json");
    fs::remove(out);
    Run b = sh("HEADSCOPE_PROGRESS_INTERVAL=0 " + cli_binary() + " ablate --model " +
               bundled_model() + " --text " + kText +
               " --max-tokens 64 --threads 1 --groups B --query-block 16 --out " + out);
    INFO(b.out);
    REQUIRE(b.code == 0);
    // 64 tokens / 16 = 4 blocks x 6 layers
    CHECK(b.out.find("[1/4] B_streaming_512: 1/24 blocks") != std::string::npos);
    CHECK(b.out.find("dense: 12/24 blocks (50%)") != std::string::npos);
  }

  TEST_CASE("ablate resumes by content: relative path, absolute path, byte-identical copy") {
    const std::string out = tmp("resume.json");
    fs::remove(out);
    const fs::path copy = tmp("model-copy"), other = tmp("model-other");
    headscope::test::remove_tree(copy);
    headscope::test::remove_tree(other);
    fs::copy(bundled_model(), copy, fs::copy_options::recursive);
    fs::copy(bundled_model(), other, fs::copy_options::recursive);
    write_file((other / "config.json").string(),
               headscope::read_file((other / "config.json").string()) + "\n");  // same model, another config.json
    const std::string rest = " --text " + kText + " --max-tokens 40 --threads 1 --quiet --groups A --out " + out;
    Run r1 = sh("cd " + repo("") + " && " + cli_binary() + " ablate --model models/neox-gutenberg-14m" +
                " --config configs/ablation.toml" + rest);
    INFO(r1.out);
    REQUIRE(r1.code == 0);
    nlohmann::json j = nlohmann::json::parse(headscope::read_file(out));
    CHECK(j["model"] == "models/neox-gutenberg-14m");  // as given
    CHECK(j["model_identity"] == headscope::model_identity(bundled_model()).id);
    for (const std::string& m : {fs::absolute(bundled_model()).string(), copy.string()}) {
      Run r = run("ablate --model " + m + rest);
      INFO(m << "\n" << r.out);
      CHECK(r.code == 0);
      CHECK(r.out.find("0 configuration(s) evaluated, 4 resumed") != std::string::npos);
    }
    Run bad = run("ablate --model " + other.string() + rest);
    INFO(bad.out);
    CHECK(bad.code == 1);
    CHECK(bad.out.rfind("headscope: error: ", 0) == 0);
    CHECK(bad.out.find("holds results for model models/neox-gutenberg-14m (identity") != std::string::npos);
    CHECK(std::count(bad.out.begin(), bad.out.end(), '\n') == 1);
    // the text is identified by its token ids: the same text at another path resumes
    const std::string text_copy = tmp("text-copy.txt");
    fs::copy_file(kText, text_copy, fs::copy_options::overwrite_existing);
    Run t = run("ablate --model " + bundled_model() + " --text " + text_copy +
                " --max-tokens 40 --threads 1 --quiet --groups A --out " + out);
    INFO(t.out);
    CHECK(t.code == 0);
    CHECK(t.out.find("4 resumed") != std::string::npos);
    headscope::test::remove_tree(copy);
    headscope::test::remove_tree(other);
  }

  TEST_CASE("model identity: config.json and the weights' headers and sizes, not the path") {
    const fs::path copy = tmp("id-copy");
    headscope::test::remove_tree(copy);
    fs::copy(bundled_model(), copy, fs::copy_options::recursive);
    const auto a = headscope::model_identity(bundled_model()), b = headscope::model_identity(copy.string());
    CHECK(a.id.size() == 64);
    CHECK(a.id == b.id);
    // another weights file (size changes) is another model
    for (const auto& e : fs::directory_iterator(copy))
      if (e.path().extension() == ".safetensors") {
        std::ofstream(e.path(), std::ios::binary | std::ios::app) << "x";
        break;
      }
    const auto c = headscope::model_identity(copy.string());
    CHECK(c.config_sha256 == a.config_sha256);
    CHECK(c.id != a.id);
    headscope::test::remove_tree(copy);
  }

  TEST_CASE("provenance in eval, ablate and analyze JSON; eval JSON without duplicated fields") {
    const std::string ej = tmp("eval.json");
    Run r = run("eval --model " + bundled_model() + " --text " + kText +
                " --max-tokens 32 --threads 1 --decode --method streaming_llm --json " + ej);
    INFO(r.out);
    REQUIRE(r.code == 0);
    nlohmann::json j = nlohmann::json::parse(headscope::read_file(ej));
    CHECK(j["schema_version"] == 2);
    CHECK_FALSE(j.contains("throughput_tok_s"));
    CHECK_FALSE(j.contains("total_s"));
    CHECK(j.contains("tokens_per_s"));
    CHECK(j.contains("wall_s"));
    const nlohmann::json& p = j["provenance"];
    CHECK(p["headscope"]["version"] == HEADSCOPE_VERSION);
    CHECK(p["headscope"]["commit"] == headscope::git_commit());
    CHECK(p["headscope"]["libtorch"] == headscope::torch_version());
    CHECK(p["command"] == "eval");
    CHECK(p["model"]["path"] == bundled_model());
    CHECK(p["model"]["identity"] == headscope::model_identity(bundled_model()).id);
    CHECK(p["model"]["architecture"] == "GPTNeoXForCausalLM");
    CHECK(p["texts"][0]["path"] == kText);
    CHECK(p["texts"][0]["sha256"] == headscope::sha256_hex(headscope::read_file(kText)));
    CHECK(p["texts"][0]["tokens"] == 32);
    CHECK(p["bos_added"].is_boolean());
    CHECK(p["device"] == "cpu");
    CHECK(p["dtype"] == "f32");
    CHECK(p["threads"] == 1);
    CHECK(p["options"]["method"] == "streaming_llm");
    CHECK(std::regex_match(p["date_utc"].get<std::string>(),
                           std::regex("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")));

    const std::string pj = tmp("prefill.json");
    Run pr = run("eval --model " + bundled_model() + " --text " + kText +
                 " --max-tokens 32 --threads 1 --quiet --protocol prefill --context-tokens 16 --json " + pj);
    INFO(pr.out);
    REQUIRE(pr.code == 0);
    nlohmann::json pjs = nlohmann::json::parse(headscope::read_file(pj));
    CHECK(pjs["schema_version"] == 2);
    CHECK(pjs["provenance"]["options"]["protocol"] == "prefill");
    CHECK(pjs["provenance"]["texts"][0]["tokens"] == 32);

    const std::string dir = tmp("analysis");
    Run a = run("analyze --model " + bundled_model() + " --text " + kText +
                " --max-tokens 64 --chunk-size 32 --threads 1 --quiet --out " + dir);
    INFO(a.out);
    REQUIRE(a.code == 0);
    for (const char* f : {"head_statistics.json", "head_classifications.json"}) {
      nlohmann::json h = nlohmann::json::parse(headscope::read_file(dir + "/" + f));
      CHECK(h["provenance"]["command"] == "analyze");
      CHECK(h["provenance"]["options"]["config"] == "built-in configs/analysis.toml");
      CHECK(h["provenance"]["texts"][0]["tokens"] == 64);
    }
    {  // HDF5: every dataset describes itself; the file carries the provenance block
      H5::H5File f(dir + "/head_stats.h5", H5F_ACC_RDONLY);
      auto str_attr = [](const H5::H5Object& o, const std::string& name) {
        H5::Attribute a = o.openAttribute(name);
        std::string v;
        a.read(a.getStrType(), v);
        return v;
      };
      H5::DataSet rel = f.openDataSet("relative_position_dist");
      CHECK(str_attr(rel, "dimensions") == "layer,head,relative_distance");
      CHECK(str_attr(rel, "units") == "fraction of attention");
      CHECK(str_attr(rel, "description").find("bin 0 = the query itself") != std::string::npos);
      for (const char* d : {"mean_entropy", "sink_ratio", "head_type_code", "chunk_entropy"})
        CHECK_MESSAGE(!str_attr(f.openDataSet(d), "description").empty(), d);
      CHECK(nlohmann::json::parse(str_attr(f, "provenance"))["command"] == "analyze");
    }
    // still readable as the original's schema
    CHECK(headscope::read_classifications(dir + "/head_classifications.json").heads.size() == 24);
    CHECK(headscope::parse_head_statistics(headscope::read_file(dir + "/head_statistics.json"), "s").size() == 24);

    const std::string out = tmp("prov_ablate.json");
    fs::remove(out);
    Run b = run("ablate --model " + bundled_model() + " --text " + kText +
                " --max-tokens 40 --threads 1 --quiet --groups A --out " + out);
    REQUIRE(b.code == 0);
    nlohmann::json ab = nlohmann::json::parse(headscope::read_file(out));
    CHECK(ab["provenance"]["command"] == "ablate");
    CHECK(ab["provenance"]["texts"][0]["token_ids_sha256"] == ab["token_ids_sha256"]);
    CHECK(ab["results"][0]["nll_segments"]["predictions"].size() == 20);
  }

  TEST_CASE("eval --compare-all marks methods whose cache never filled") {
    const std::string ej = tmp("compare.json");
    Run r = run("eval --model " + bundled_model() + " --text " + kText +
                " --max-tokens 48 --threads 1 --quiet --compare-all --window 16 --json " + ej);
    INFO(r.out);
    REQUIRE(r.code == 0);
    nlohmann::json j = nlohmann::json::parse(headscope::read_file(ej));
    int never = 0;
    for (const auto& res : j["results"]) {
      if (res["method"] == "dense") {
        CHECK_FALSE(res.contains("cache_filled"));
        continue;
      }
      REQUIRE(res.contains("cache_filled"));
      if (res["method"] == "recent_only") CHECK(res["cache_filled"] == true);  // keeps 16 of 47
      if (res["method"] == "streaming_llm") CHECK(res["cache_filled"] == false);
      never += res["cache_filled"] == false;
    }
    CHECK(never >= 1);
    CHECK(count(r.out, "  never filled\n") == size_t(never));
    CHECK(r.out.find("never filled: the cache never evicted anything") != std::string::npos);
  }

  TEST_CASE("key comparisons: only at matched context (+-2%), with a paired bootstrap interval") {
    using namespace headscope;
    auto rec = [](std::string n, std::string g, double ctx, double nll_per, std::string b) {
      AblationRecord r;
      r.name = n;
      r.group = g;
      r.measured_context = ctx;
      r.params = {{"builder", b}};
      std::vector<double> nll;
      for (int i = 0; i < 200; ++i) nll.push_back(nll_per + 0.3 * std::sin(double(i)));
      r.nll_segments = nll_segments(nll);
      double s = 0;
      for (double v : nll) s += v;
      r.perplexity = std::exp(s / double(nll.size()));
      return r;
    };
    AblationFile f;
    f.results = {rec("B_64", "B", 60.0, 2.0, "uniform"), rec("B_128", "B", 120.0, 1.9, "uniform"),
                 rec("G_near", "G", 121.0, 1.8, "confidence"),   // within 2% of B_128: matched
                 rec("K_far", "K", 168.0, 1.5, "from_classifications")};  // 40% more context
    auto cs = key_comparisons(f, "B");
    REQUIRE(cs.size() == 2);
    CHECK(cs[0].matched);
    CHECK(cs[0].reference == "B_128");
    REQUIRE(cs[0].delta_ci.valid);
    CHECK(cs[0].delta_ci.hi < 0);  // a constant -0.1 NLL per token: clearly better
    CHECK_FALSE(cs[1].matched);
    const std::string s = format_comparisons(f, "B");
    INFO(s);
    CHECK(s.find("no B run within +-2%") != std::string::npos);
    CHECK(s.find("1 of 1 head-aware configurations with a B run within +-2% context have lower "
                 "PPL (1 with the 95% interval below 0, 0 above 0); 1 have no B run within +-2%") !=
          std::string::npos);
    // nothing matched: said so, no count of wins
    f.results.erase(f.results.begin() + 2);
    const std::string s2 = format_comparisons(f, "B");
    CHECK(s2.find("no fair comparison") != std::string::npos);
    CHECK(s2.find("have lower PPL") == std::string::npos);
  }

  TEST_CASE("format_duration") {
    CHECK(headscope::format_duration(7.24) == "7.2 s");
    CHECK(headscope::format_duration(42.4) == "42 s");
    CHECK(headscope::format_duration(125) == "2 min 05 s");
    CHECK(headscope::format_duration(3780) == "1 h 03 min");
  }
}
