// `headscope analyze` end to end on the bundled model: the three result files (JSON schemas,
// HDF5 datasets and attributes read back with the HDF5 API) and bad input (one error line,
// non-zero exit, no result files).
#include <doctest/doctest.h>

#include <H5Cpp.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "analyzer/analysis_io.h"
#include "analyzer/classification_io.h"
#include "common/atomic_file.h"
#include "common/text.h"
#include "tests/cli_runner.h"
#include "tests/support.h"

namespace fs = std::filesystem;
using namespace headscope;

namespace {

using headscope::test::Run;
using headscope::test::run;

std::string tmp(const std::string& name) { return headscope::test::temp_path("analyze_cli", name); }

using headscope::test::write_file;

std::vector<double> read_h5_doubles(H5::H5File& f, const std::string& name, std::vector<hsize_t>* dims) {
  H5::DataSet ds = f.openDataSet(name);
  H5::DataSpace sp = ds.getSpace();
  dims->assign(static_cast<size_t>(sp.getSimpleExtentNdims()), 0);
  sp.getSimpleExtentDims(dims->data());
  std::vector<double> v(static_cast<size_t>(sp.getSimpleExtentNpoints()));
  ds.read(v.data(), H5::PredType::NATIVE_DOUBLE);
  return v;
}

std::string read_h5_str_attr(H5::H5File& f, const std::string& name) {
  H5::Attribute a = f.openAttribute(name);
  std::string s;
  a.read(a.getStrType(), s);
  return s;
}

int64_t read_h5_int_attr(H5::H5File& f, const std::string& name) {
  H5::Attribute a = f.openAttribute(name);
  int64_t v = 0;
  a.read(H5::PredType::NATIVE_INT64, &v);
  return v;
}

}  // namespace

TEST_SUITE("analyzer_cli") {
  TEST_CASE("analyze writes statistics, classifications and HDF5 in the expected schemas") {
    const std::string text = test::repo("data/pg19-10146.txt");
    const std::string out = tmp("out");
    headscope::test::remove_tree(out);
    Run r = run("analyze --model " + test::bundled_model() + " --text " + text +
                " --max-tokens 300 --chunk-size 128 --threads 2 --config " +
                test::repo("configs/analysis.toml") + " --out " + out);
    INFO(r.out);
    REQUIRE(r.code == 0);
    CHECK(r.out.find("mean sink ratio") != std::string::npos);
    CHECK(r.out.find("mean_entropy") != std::string::npos);
    CHECK(r.out.find("stability") != std::string::npos);
    CHECK(r.out.find("3 chunks") != std::string::npos);  // 128 + 128 + 44

    ClassificationFile cf = read_classifications(out + "/head_classifications.json");
    CHECK(cf.num_layers == 6);
    CHECK(cf.num_heads == 4);
    CHECK_FALSE(cf.legacy_schema);
    for (const auto& c : cf.heads) {
      CHECK(c.stability >= 0.0);
      CHECK(c.stability <= 1.0);
      // stability is a share of 3 chunks
      CHECK(std::abs(c.stability * 3 - std::round(c.stability * 3)) < 1e-9);
    }
    auto stats = parse_head_statistics(read_file(out + "/head_statistics.json"), "stats");
    REQUIRE(stats.size() == 24);
    auto sj = nlohmann::json::parse(read_file(out + "/head_statistics.json"));
    CHECK(sj["model_info"]["num_layers"] == 6);
    CHECK(sj["model_info"]["sink_size"] == 4);
    CHECK(sj["head_statistics"][0]["relative_position_dist"].size() == 64);

    H5::H5File f(out + "/head_stats.h5", H5F_ACC_RDONLY);
    std::vector<hsize_t> dims;
    auto ent = read_h5_doubles(f, "mean_entropy", &dims);
    CHECK(dims == std::vector<hsize_t>{6, 4});
    for (size_t i = 0; i < 24; ++i) CHECK(ent[i] == stats[i].mean_entropy);
    auto stab = read_h5_doubles(f, "stability", &dims);
    for (size_t i = 0; i < 24; ++i) CHECK(stab[i] == cf.heads[i].stability);
    auto rel = read_h5_doubles(f, "relative_position_dist", &dims);
    CHECK(dims == std::vector<hsize_t>{6, 4, 64});
    CHECK(rel[64 * 5 + 3] == stats[5].relative_position_dist[3]);
    read_h5_doubles(f, "chunk_entropy", &dims);
    CHECK(dims == std::vector<hsize_t>{3, 6, 4});
    {
      H5::DataSet ds = f.openDataSet("head_type_code");
      std::vector<int32_t> codes(24);
      ds.read(codes.data(), H5::PredType::NATIVE_INT32);
      for (size_t i = 0; i < 24; ++i) CHECK(codes[i] == head_type_code(cf.heads[i].type));
    }
    CHECK(read_h5_int_attr(f, "tokens_analysed") == 300);
    CHECK(read_h5_int_attr(f, "chunk_size") == 128);
    CHECK(read_h5_str_attr(f, "text_sha256") == sha256_hex(read_file(text)));
    CHECK(read_h5_str_attr(f, "model_path") == test::bundled_model());
    CHECK(read_h5_str_attr(f, "config_hash").size() == 64);
    CHECK(read_h5_str_attr(f, "context") == "chunks");
    CHECK(read_h5_str_attr(f, "headscope_version") == HEADSCOPE_VERSION);
    f.close();

    // Full left context runs and records its mode.
    const std::string out2 = tmp("out_full");
    headscope::test::remove_tree(out2);
    Run r2 = run("analyze --model " + test::bundled_model() + " --text " + text +
                 " --max-tokens 300 --chunk-size 128 --threads 2 --context full --out " + out2);
    INFO(r2.out);
    REQUIRE(r2.code == 0);
    H5::H5File f2(out2 + "/head_stats.h5", H5F_ACC_RDONLY);
    CHECK(read_h5_str_attr(f2, "context") == "full");
    headscope::test::remove_tree(out);
    headscope::test::remove_tree(out2);
  }

  TEST_CASE("bad input: one error line, non-zero exit, no result files") {
    const std::string base = "analyze --model " + test::bundled_model() + " --text " +
                             test::repo("data/pg19-10146.txt") + " --max-tokens 64 --threads 2";
    const std::string out = tmp("never");
    headscope::test::remove_tree(out);
    auto expect_error = [&](const std::string& args, const std::string& what) {
      Run r = run(base + " " + args + " --out " + out);
      INFO("args: " << args << "\noutput: " << r.out);
      CHECK(r.code != 0);
      CHECK(r.out.rfind("headscope: error: ", 0) == 0);
      CHECK(r.out.find(what) != std::string::npos);
      CHECK(std::count(r.out.begin(), r.out.end(), '\n') == 1);
      CHECK_FALSE(fs::exists(out + "/head_classifications.json"));
    };
    write_file(tmp("bad.toml"), "[thresholds]\nlow_entropy = 3.0\nhigh_entropy = 2.0\n");
    expect_error("--config " + tmp("bad.toml"), "must be below high_entropy");
    // (other config errors are covered in-process by the analyzer suite)
    expect_error("--chunk-size -5", "chunk_size must be >= 1");
    write_file(tmp("afile"), "x");
    Run r = run(base + " --out " + tmp("afile"));
    CHECK(r.code != 0);
    CHECK(r.out.find("is not a directory") != std::string::npos);
  }
}
