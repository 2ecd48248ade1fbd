// End-to-end: the headscope binary on bad input prints one clear error line, exits non-zero and
// leaves no output file; on good input it writes a complete JSON result.
#include <unistd.h>
#include <doctest/doctest.h>

#include <sys/wait.h>

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

std::string tmp(const std::string& name) { return headscope::test::temp_path("cli", name); }

using headscope::test::write_file;

// One error line "headscope: error: ..." containing `what`, non-zero exit, no output file.
void expect_error(const std::string& args, const std::string& what, const std::string& out_file = "") {
  Run r = run(args);
  INFO("args: " << args << "\noutput: " << r.out);
  CHECK(r.code != 0);
  CHECK(r.out.rfind("headscope: error: ", 0) == 0);
  CHECK(r.out.find(what) != std::string::npos);
  CHECK(std::count(r.out.begin(), r.out.end(), '\n') == 1);
  if (!out_file.empty()) CHECK_FALSE(fs::exists(out_file));
}

}  // namespace

TEST_SUITE("cli") {
  TEST_CASE("eval on the bundled model writes a complete JSON result") {
    std::string out = tmp("eval.json");
    fs::remove(out);
    Run r = run("eval --model " + bundled_model() + " --text " + repo("data/pg19-10146.txt") +
                " --max-tokens 128 --threads 2 --json " + out);
    INFO(r.out);
    REQUIRE(r.code == 0);
    CHECK(r.out.find("ppl") != std::string::npos);
    auto j = nlohmann::json::parse(headscope::read_file(out));
    CHECK(j["tokens"] == 128);
    CHECK(j["perplexity"].get<double>() > 1.0);
    CHECK(j["positions"] == "true");
  }

  TEST_CASE("bad input: one line, non-zero exit, no partial output") {
    const std::string m = " --model " + bundled_model();
    const std::string out = tmp("never.json");
    fs::remove(out);
    const std::string j = " --json " + out;
    write_file(tmp("empty.txt"), "");
    write_file(tmp("one.txt"), "Hello");
    write_file(tmp("bad_utf8.txt"), std::string("abc\xff\xfe def"));
    write_file(tmp("truncated_utf8.txt"), std::string("abc\xe2\x82"));
    expect_error("eval" + m + " --text " + tmp("empty.txt") + j, "is empty", out);
    expect_error("eval" + m + " --text " + tmp("one.txt") + j, "at least 2 are needed", out);
    expect_error("eval" + m + " --text " + tmp("bad_utf8.txt") + j, "not valid UTF-8", out);
    expect_error("eval" + m + " --text " + tmp("truncated_utf8.txt") + j, "not valid UTF-8", out);
    expect_error("eval" + m + " --text /nonexistent.txt" + j, "no such file", out);
    expect_error("eval --model /nonexistent --text " + repo("data/pg19-10146.txt") + j, "no such file", out);
    expect_error("eval" + m + " --text " + repo("data/pg19-10146.txt") + " --dtype bf16" + j,
                 "only supported with --device cuda", out);
    fs::create_directories(tmp("badmodel"));
    fs::copy_file(bundled_model() + "/tokenizer.json", tmp("badmodel/tokenizer.json"), fs::copy_options::overwrite_existing);
    write_file(tmp("badmodel/config.json"), "{\"hidden_size\": 128,");
    expect_error("eval --model " + tmp("badmodel") + " --text " + repo("data/pg19-10146.txt") + j,
                 "not valid JSON", out);
  }
}
