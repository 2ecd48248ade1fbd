// Reliability and safety (issue 11): the one output mechanism (regular files, symlinks, devices,
// FIFOs, "-", stale temporaries, all-or-nothing sets), locks, gnuplot injection / incomplete
// images / hangs / signals, bounds (--threads, safetensors), diverged results, the trained-context
// warning, and ablate killed with SIGKILL then resumed. Device nodes are made with mknod in a
// temporary directory (skipped without CAP_MKNOD), never the real /dev; the full-disk case mounts
// a small tmpfs where the test may (skipped with the reason otherwise).
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ATen/ATen.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/atomic_file.h"
#include "common/cpu_runtime.h"
#include "common/error.h"
#include "common/file_lock.h"
#include "model/safetensors.h"
#include "tests/cli_runner.h"
#include "tests/safetensors_writer.h"
#include "tests/support.h"
#include "tests/viz_checks.h"
#include "viz/gnuplot.h"

namespace fs = std::filesystem;
using namespace headscope;
using headscope::test::bundled_model;
using headscope::test::cli_binary;
using headscope::test::repo;
using headscope::test::slurp;
using headscope::test::TempDir;

namespace {

struct Proc {
  int code = -1;
  std::string out, err;
};

// Runs `cmd` with /bin/sh; stdout and stderr captured separately.
Proc sh(const std::string& cmd, const TempDir& d) {
  const std::string o = d.file(".stdout"), e = d.file(".stderr");
  int st = std::system(("( " + cmd + " ) >" + o + " 2>" + e + " </dev/null").c_str());
  Proc p;
  p.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  p.out = slurp(o);
  p.err = slurp(e);
  ::unlink(o.c_str());
  ::unlink(e.c_str());
  return p;
}

std::string q(const std::string& s) {  // single-quoted for /bin/sh
  std::string o = "'";
  for (char c : s) o += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return o + "'";
}

std::string hs() { return q(cli_binary()); }
std::string text_file() { return repo("data/pg19-10146.txt"); }
std::string model_args() { return " --model " + q(bundled_model()) + " --text " + q(text_file()); }

bool one_error_line(const Proc& p) {
  return p.code != 0 && p.err.rfind("headscope: error: ", 0) == 0 &&
         std::count(p.err.begin(), p.err.end(), '\n') == 1;
}

// A pid that is certainly not running: a child that has exited and been reaped.
pid_t dead_pid() {
  pid_t p = ::fork();
  if (p == 0) ::_exit(0);
  int st = 0;
  ::waitpid(p, &st, 0);
  return p;
}

// A character device with the numbers of /dev/null (1,3) or /dev/full (1,7) in `d`; "" when the
// process may not create device nodes.
std::string make_chardev(const TempDir& d, const std::string& name, unsigned minor) {
  std::string p = d.file(name);
  if (::mknod(p.c_str(), S_IFCHR | 0666, makedev(1, minor)) != 0) return "";
  return p;
}

bool is_chr(const std::string& p) {
  struct stat st {};
  return ::lstat(p.c_str(), &st) == 0 && S_ISCHR(st.st_mode);
}

int count_prefixed(const std::string& dir, const std::string& prefix) {
  int n = 0;
  std::error_code ec;
  for (auto& e : fs::directory_iterator(dir, ec))
    if (e.path().filename().string().rfind(prefix, 0) == 0) ++n;
  return n;
}

std::string ablation_json_with_group(const std::string& group) {
  auto res = [&](const std::string& name, const std::string& g, double ppl, double ctx,
                 const std::string& params) {
    nlohmann::json r = {{"name", name}, {"group", g}, {"perplexity", ppl}, {"accuracy", 0.3},
                        {"nominal_context", ctx}, {"measured_context", ctx},
                        {"tokens_per_s", 5000.0}, {"wall_s", 0.2},
                        {"params", nlohmann::json::parse(params)}};
    return r;
  };
  nlohmann::json j = {{"schema", "headscope.ablation/1"},
                      {"model", "m`touch${IFS}INJ_MODEL`"},
                      {"text", "t$(touch INJ_TEXT)"},
                      {"tokens", 1000},
                      {"dense", {{"perplexity", 70.1}, {"accuracy", 0.31}}},
                      {"classifications", "c@x"}};
  j["results"] = nlohmann::json::array(
      {res("A_64", "A", 400, 64, R"({"builder": "uniform", "sink": 0, "window": 64})"),
       res("B_64", "B", 100, 64, R"({"builder": "uniform", "sink": 4, "window": 60})"),
       res("B_128", "B", 80, 128, R"({"builder": "uniform", "sink": 4, "window": 124})"),
       res("G_t`touch${IFS}INJ_NAME`", "G", 90, 70,
           R"({"builder": "confidence", "threshold": 0.5, "base_window": 64, "high_conf_windows": {}})"),
       res("x`touch${IFS}INJ_NAME2`", group, 85, 100, "{}")});
  return j.dump();
}

}  // namespace

TEST_SUITE("reliability") {
  // ---- the output mechanism ----------------------------------------------------------------

  TEST_CASE("regular and new outputs are replaced atomically, keeping the mode") {
    TempDir d;
    const std::string p = d.file("sub/dir/out.json");
    write_file_atomic(p, "one");
    CHECK(slurp(p) == "one");
    ::chmod(p.c_str(), 0600);
    write_file_atomic(p, "two");
    CHECK(slurp(p) == "two");
    struct stat st {};
    REQUIRE(::stat(p.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    CHECK(count_prefixed(d.file("sub/dir"), "out.json.tmp.") == 0);
    // A writer that fails leaves the old file and no temporary.
    CHECK_THROWS_AS(write_file_atomic_with(p, [](const std::string& tmp) {
                      std::ofstream(tmp) << "partial";
                      throw Error("writer failed");
                    }),
                    Error);
    CHECK(slurp(p) == "two");
    CHECK(count_prefixed(d.file("sub/dir"), "out.json.tmp.") == 0);
    // A directory is refused.
    CHECK_THROWS_WITH_AS(write_file_atomic(d.file("sub"), "x"), doctest::Contains("is a directory"), Error);
  }

  TEST_CASE("a symlinked output keeps the link and replaces its target in the target's directory") {
    TempDir d;
    fs::create_directories(d.file("real"));
    fs::create_directories(d.file("links"));
    const std::string target = d.file("real/result.json");
    std::ofstream(target) << "old";
    // link -> link2 -> ../real/result.json (relative links, resolved against their own directory)
    fs::create_symlink("../real/result.json", d.file("links/link2"));
    fs::create_symlink("link2", d.file("links/link"));
    write_file_atomic(d.file("links/link"), "new");
    CHECK(fs::is_symlink(d.file("links/link")));
    CHECK(fs::is_symlink(d.file("links/link2")));
    CHECK(slurp(target) == "new");
    CHECK(count_prefixed(d.file("links"), "link") == 2);  // no temporary beside the link
    // A dangling link creates its target.
    fs::create_symlink("../real/fresh.json", d.file("links/dangling"));
    write_file_atomic(d.file("links/dangling"), "fresh");
    CHECK(fs::is_symlink(d.file("links/dangling")));
    CHECK(slurp(d.file("real/fresh.json")) == "fresh");
    // A loop is an error.
    fs::create_symlink("loop_b", d.file("loop_a"));
    fs::create_symlink("loop_a", d.file("loop_b"));
    CHECK_THROWS_AS(write_file_atomic(d.file("loop_a"), "x"), Error);
  }

  TEST_CASE("character devices and FIFOs are written directly, never replaced") {
    TempDir d;
    const std::string null_dev = make_chardev(d, "null", 3);
    if (null_dev.empty()) {
      MESSAGE("skipped the device-node part: mknod is not permitted here (" << std::strerror(errno) << ")");
    } else {
      write_file_atomic(null_dev, "discarded");
      CHECK(is_chr(null_dev));
      write_file_atomic_with(null_dev, [](const std::string& tmp) { std::ofstream(tmp) << "h5"; });
      CHECK(is_chr(null_dev));
      CHECK(count_prefixed(d.path.string(), "null.tmp.") == 0);
      // /dev/full's numbers: the write fails with a one-line error, the node stays.
      const std::string full_dev = make_chardev(d, "full", 7);
      CHECK_THROWS_WITH_AS(write_file_atomic(full_dev, "x"), doctest::Contains("No space left"), Error);
      CHECK(is_chr(full_dev));
      // Through a symlink too.
      fs::create_symlink(null_dev, d.file("null_link"));
      write_file_atomic(d.file("null_link"), "y");
      CHECK(is_chr(null_dev));
      CHECK(fs::is_symlink(d.file("null_link")));
    }
    const std::string fifo = d.file("pipe");
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    std::string got;
    std::thread reader([&] { got = slurp(fifo); });
    write_file_atomic(fifo, "through the pipe");
    reader.join();
    CHECK(got == "through the pipe");
    struct stat st {};
    REQUIRE(::lstat(fifo.c_str(), &st) == 0);
    CHECK(S_ISFIFO(st.st_mode));
  }

  TEST_CASE("stale PATH.tmp.PID of dead processes are removed, live ones kept") {
    TempDir d;
    const std::string p = d.file("out.json");
    const std::string stale = p + ".tmp." + std::to_string(dead_pid());
    const std::string live = p + ".tmp." + std::to_string(::getppid());
    const std::string other = d.file("other.json.tmp." + std::to_string(dead_pid()));
    for (auto& f : {stale, live, other}) std::ofstream(f) << "x";
    write_file_atomic(p, "fresh");
    CHECK_FALSE(fs::exists(stale));
    CHECK(fs::exists(live));
    CHECK(fs::exists(other));
  }

  TEST_CASE("a staged set is published all or nothing") {
    TempDir d;
    std::ofstream(d.file("a.json")) << "old a";
    std::ofstream(d.file("b.h5")) << "old b";
    {
      std::vector<StagedOutput> s;
      s.emplace_back(d.file("a.json"));
      s.emplace_back(d.file("b.h5"));
      s[0].write("new a");
      CHECK_THROWS_AS(s[1].write_with([](const std::string&) { throw Error("HDF5 failed"); }), Error);
      // the command stops here: nothing is published
    }
    CHECK(slurp(d.file("a.json")) == "old a");
    CHECK(slurp(d.file("b.h5")) == "old b");
    CHECK(count_prefixed(d.path.string(), "a.json.tmp") == 0);
    std::vector<StagedOutput> s;
    s.emplace_back(d.file("a.json"));
    s.emplace_back(d.file("b.h5"));
    s[0].write("new a");
    s[1].write_with([](const std::string& tmp) { std::ofstream(tmp) << "new b"; });
    publish_all(s);
    CHECK(slurp(d.file("a.json")) == "new a");
    CHECK(slurp(d.file("b.h5")) == "new b");
  }

  TEST_CASE("eval --json: '-' is stdout (report on stderr); devices and symlinks survive") {
    TempDir d;
    const std::string base = hs() + " eval" + model_args() + " --max-tokens 48 --threads 1";
    Proc p = sh("cd " + q(d.path.string()) + " && " + base + " --json -", d);
    INFO(p.err);
    REQUIRE(p.code == 0);
    auto j = nlohmann::json::parse(p.out);  // stdout is the JSON alone
    CHECK(j["tokens"] == 48);
    CHECK(j["status"] == "ok");
    CHECK(j["beyond_trained_context"] == false);
    CHECK(p.err.find("ppl ") != std::string::npos);
    CHECK_FALSE(fs::exists(d.file("-")));

    const std::string target = d.file("target.json");
    std::ofstream(target) << "old";
    fs::create_symlink(target, d.file("link.json"));
    p = sh(base + " --json " + q(d.file("link.json")), d);
    REQUIRE(p.code == 0);
    CHECK(fs::is_symlink(d.file("link.json")));
    CHECK(nlohmann::json::parse(slurp(target))["tokens"] == 48);

    const std::string dev = make_chardev(d, "null", 3);
    if (!dev.empty()) {
      p = sh(base + " --json " + q(dev), d);
      CHECK(p.code == 0);
      CHECK(is_chr(dev));
      const std::string full = make_chardev(d, "full", 7);
      p = sh(base + " --json " + q(full), d);
      INFO(p.err);
      CHECK(one_error_line(p));
      CHECK(p.err.find("No space left on device") != std::string::npos);
      CHECK(is_chr(full));
    }
    p = sh(base + " --json " + q(d.path.string()), d);
    CHECK(one_error_line(p));
    CHECK(p.err.find("is a directory") != std::string::npos);
  }

  // ---- locks ---------------------------------------------------------------------------------

  TEST_CASE("a lock is exclusive, names its holder, waits with wait=true and leaves nothing") {
    TempDir d;
    const std::string lp = lock_path_for_file(d.file("out.json"));
    CHECK(lp == d.file("out.json.lock"));
    {
      FileLock a(lp, "out.json", false);
      CHECK(slurp(lp) == std::to_string(::getpid()) + "\n");
      const std::string holder = "pid " + std::to_string(::getpid());
      CHECK_THROWS_WITH_AS(FileLock(lp, "out.json", false), doctest::Contains(holder.c_str()), Error);
    }
    CHECK_FALSE(fs::exists(lp));
    auto a = std::make_unique<FileLock>(lp, "out.json", false);
    auto t0 = std::chrono::steady_clock::now();
    std::thread release([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      a.reset();
    });
    FileLock b(lp, "out.json", true);
    release.join();
    CHECK(std::chrono::steady_clock::now() - t0 >= std::chrono::milliseconds(250));
  }

  TEST_CASE("two ablate processes on one --out: the second fails at once naming the first") {
    TempDir d;
    const std::string out = d.file("abl.json");
    // a slow-enough first run: 6 configurations on 1024 tokens
    const std::string toml = d.write(
        "slow.toml",
        "[[group]]\nid = \"B\"\nbuilder = \"uniform\"\nsink = 4\nconfigs = [\n"
        " { name = \"B1\", window = 12 }, { name = \"B2\", window = 28 }, { name = \"B3\", window = 60 },\n"
        " { name = \"B4\", window = 124 }, { name = \"B5\", window = 252 }, { name = \"B6\", window = 508 } ]\n");
    const std::string cmd = hs() + " ablate" + model_args() + " --max-tokens 1024 --threads 1 --no-progress --config " +
                            q(toml) + " --out " + q(out);
    pid_t first = ::fork();
    REQUIRE(first >= 0);
    if (first == 0) {
      ::execl("/bin/sh", "sh", "-c", ("exec " + cmd + " >/dev/null 2>&1").c_str(), (char*)nullptr);
      ::_exit(127);
    }
    // wait until the first holds the lock
    for (int i = 0; i < 2400 && slurp(out + ".lock").empty(); ++i)  // up to 60 s on a busy machine
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    REQUIRE_FALSE(slurp(out + ".lock").empty());
    Proc second = sh(cmd, d);
    INFO(second.err);
    CHECK(one_error_line(second));
    CHECK(second.err.find("pid " + std::to_string(first)) != std::string::npos);
    CHECK(second.err.find("--wait") != std::string::npos);
    // with --wait the second runs after the first and finds every result there (resumes all)
    Proc waited = sh(cmd + " --wait", d);
    int st = 0;
    ::waitpid(first, &st, 0);
    CHECK(WIFEXITED(st));
    CHECK(WEXITSTATUS(st) == 0);
    INFO(waited.err);
    CHECK(waited.code == 0);
    CHECK(waited.out.find("0 configuration(s) evaluated, 6 resumed") != std::string::npos);
    CHECK(nlohmann::json::parse(slurp(out))["results"].size() == 6);
    CHECK_FALSE(fs::exists(out + ".lock"));
  }

  TEST_CASE("ablate killed with SIGKILL at several points resumes to every result once, same PPLs") {
    TempDir d;
    const std::string toml = d.write(
        "kill.toml",
        "[[group]]\nid = \"B\"\nbuilder = \"uniform\"\nsink = 4\nconfigs = [\n"
        " { name = \"B1\", window = 12 }, { name = \"B2\", window = 28 }, { name = \"B3\", window = 60 },\n"
        " { name = \"B4\", window = 124 }, { name = \"B5\", window = 252 }, { name = \"B6\", window = 508 } ]\n");
    auto cmd = [&](const std::string& out) {
      return hs() + " ablate" + model_args() + " --max-tokens 768 --threads 1 --no-progress --config " +
             q(toml) + " --out " + q(out);
    };
    const std::string ref = d.file("ref.json");
    REQUIRE(sh(cmd(ref), d).code == 0);
    const auto ref_j = nlohmann::json::parse(slurp(ref));
    REQUIRE(ref_j["results"].size() == 6);

    const std::string out = d.file("killed.json");
    int landed = 0;
    for (size_t kill_at : {0u, 2u, 4u}) {  // results present when the kill comes
      pid_t pid = ::fork();
      REQUIRE(pid >= 0);
      if (pid == 0) {
        ::execl("/bin/sh", "sh", "-c", ("exec " + cmd(out) + " >/dev/null 2>&1").c_str(), (char*)nullptr);
        ::_exit(127);
      }
      for (int i = 0; i < 12000; ++i) {  // up to 60 s on a busy machine
        std::string s = slurp(out);
        size_t have = 0;
        if (!s.empty()) {
          try {
            have = nlohmann::json::parse(s)["results"].size();
          } catch (...) {
          }
        }
        if (have >= kill_at && (kill_at > 0 || !slurp(out + ".lock").empty())) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      ::kill(pid, SIGKILL);
      int st = 0;
      ::waitpid(pid, &st, 0);
      if (WIFSIGNALED(st)) ++landed;
      // whatever the kill interrupted, the file is whole JSON (or absent)
      if (fs::exists(out)) CHECK_NOTHROW(nlohmann::json::parse(slurp(out)));
    }
    CHECK(landed >= 2);
    // a temporary from a killed writer is cleaned up by the next run
    const std::string stale = out + ".tmp." + std::to_string(dead_pid());
    std::ofstream(stale) << "{\"partial";
    Proc resumed = sh(cmd(out), d);
    INFO(resumed.err);
    REQUIRE(resumed.code == 0);
    CHECK_FALSE(fs::exists(stale));
    CHECK(count_prefixed(d.path.string(), "killed.json.") == 0);  // no .tmp.*, no .lock
    const auto j = nlohmann::json::parse(slurp(out));
    REQUIRE(j["results"].size() == 6);
    std::set<std::string> names;
    for (size_t i = 0; i < 6; ++i) {
      names.insert(j["results"][i]["name"].get<std::string>());
      const auto& r = ref_j["results"][i];
      for (const auto& x : j["results"])
        if (x["name"] == r["name"]) CHECK(x["perplexity"].get<double>() == r["perplexity"].get<double>());
    }
    CHECK(names.size() == 6);
  }

  TEST_CASE("analyze locks its output directory and publishes its three files together") {
    TempDir d;
    const std::string out = d.file("an");
    fs::create_directories(out);
    {
      FileLock held(lock_path_for_dir(out), "x", false);
      Proc p = sh(hs() + " analyze" + model_args() + " --max-tokens 64 --chunk-size 32 --threads 1 --out " + q(out), d);
      INFO(p.err);
      CHECK(one_error_line(p));
      CHECK(p.err.find("pid " + std::to_string(::getpid())) != std::string::npos);
    }
    CHECK(fs::is_empty(out));
    Proc p = sh(hs() + " analyze" + model_args() + " --max-tokens 64 --chunk-size 32 --threads 1 --out " + q(out), d);
    INFO(p.err);
    REQUIRE(p.code == 0);
    for (auto f : {"head_statistics.json", "head_classifications.json", "head_stats.h5"})
      CHECK(fs::exists(out + "/" + f));
    CHECK(nlohmann::json::parse(slurp(out + "/head_statistics.json"))["beyond_trained_context"] == false);
    CHECK(count_prefixed(out, ".") == 0);   // lock released and removed
    CHECK(std::distance(fs::directory_iterator(out), fs::directory_iterator()) == 3);
  }

  // ---- gnuplot -------------------------------------------------------------------------------

  TEST_CASE("gp_quote: single-quoted, nothing gnuplot expands") {
    CHECK(viz::gp_quote("a`b`$c@d\\e\"f") == "'a`b`$c@d\\e\"f'");
    CHECK(viz::gp_quote("it's") == "'it''s'");
    CHECK(viz::gp_quote("l1\nl2") == "('l1'.\"\\n\".'l2')");
  }

  TEST_CASE("injection strings in result files, head types and --out create nothing") {
    TempDir d;
    const std::string dir = d.path.string();
    d.write("abl.json", ablation_json_with_group("B`touch${IFS}INJ_GROUP`"));
    d.write("cls.json", R"({"classifications": [
      {"layer_idx": 0, "head_idx": 0, "head_type": "g`touch${IFS}INJ_TYPE`", "confidence": 0.9, "stability": 1.0},
      {"layer_idx": 0, "head_idx": 1, "head_type": "x'.system('touch INJ_SYS').'", "confidence": 0.9, "stability": 1.0},
      {"layer_idx": 1, "head_idx": 0, "head_type": "@m $d", "confidence": 0.5, "stability": 0.5},
      {"layer_idx": 1, "head_idx": 1, "head_type": "mixed", "confidence": 0.5, "stability": 0.5}]})");
    const std::string cd = "cd " + q(dir) + " && ";
    for (const std::string& args :
         {std::string("plot context --in abl.json --out 'c`touch${IFS}INJ_OUT`.png'"),
          std::string("plot context --in abl.json --out c2.svg"),
          std::string("plot confidence --in abl.json --out conf.svg"),
          std::string("plot sinks --in abl.json --out sinks.svg"),
          std::string("plot headmap --in cls.json --out map.svg"),
          std::string("plot all --ablation abl.json --classifications cls.json --out-dir 'all`touch${IFS}INJ_DIR`'")}) {
      Proc p = sh(cd + hs() + " " + args, d);
      INFO(args << "\n" << p.out << p.err);
      CHECK(p.code == 0);
    }
    for (const char* f : {"INJ_GROUP", "INJ_TYPE", "INJ_SYS", "INJ_OUT", "INJ_DIR", "INJ_NAME",
                           "INJ_NAME2", "INJ_MODEL", "INJ_TEXT"})
      CHECK_MESSAGE(!fs::exists(d.file(f)), f);
    CHECK(test::png_info(d.file("c`touch${IFS}INJ_OUT`.png")).valid);
    const std::string svg = slurp(d.file("c2.svg"));
    CHECK(svg.find("touch${IFS}INJ_GROUP") != std::string::npos);  // drawn literally
    CHECK(slurp(d.file("map.svg")).find("x'.system('touch INJ_SYS').'") != std::string::npos);
  }

  TEST_CASE("an incomplete image is not published; a hung gnuplot is killed; no temporaries left") {
    TempDir d;
    const std::string tmpdir = d.file("tmp");
    fs::create_directories(tmpdir);
    d.write("abl.json", ablation_json_with_group("B"));
    // a fake gnuplot that writes a truncated PNG (no IEND) where the script says
    const std::string trunc = d.write(
        "gnuplot-trunc",
        "#!/bin/sh\nout=$(sed -n \"s/^set output '\\(.*\\)'$/\\1/p\" \"$1\")\n"
        "printf '\\211PNG\\r\\n\\032\\n0000000000000IHDR' > \"$out\"\nexit 0\n");
    const std::string hang = d.write("gnuplot-hang", "#!/bin/sh\nsleep 60\n");
    ::chmod(trunc.c_str(), 0755);
    ::chmod(hang.c_str(), 0755);
    // an existing good figure
    Proc good = sh("cd " + q(d.path.string()) + " && " + hs() + " plot context --in abl.json --out fig.png", d);
    REQUIRE(good.code == 0);
    const std::string before = slurp(d.file("fig.png"));
    REQUIRE(test::png_info(d.file("fig.png")).valid);

    const std::string env = "cd " + q(d.path.string()) + " && TMPDIR=" + q(tmpdir) + " ";
    Proc p = sh(env + "HEADSCOPE_GNUPLOT=" + q(trunc) + " " + hs() + " plot context --in abl.json --out fig.png", d);
    INFO(p.out << p.err);
    CHECK(one_error_line(p));
    CHECK(p.err.find("incomplete image") != std::string::npos);
    CHECK(slurp(d.file("fig.png")) == before);
    CHECK(fs::is_empty(tmpdir));

    auto t0 = std::chrono::steady_clock::now();
    p = sh(env + "HEADSCOPE_GNUPLOT_TIMEOUT=1 HEADSCOPE_GNUPLOT=" + q(hang) + " " + hs() +
               " plot context --in abl.json --out fig.png",
           d);
    CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(40));  // not the 60 s of the fake
    CHECK(one_error_line(p));
    CHECK(p.err.find("did not finish within 1 s") != std::string::npos);
    CHECK(slurp(d.file("fig.png")) == before);
    CHECK(fs::is_empty(tmpdir));

    // SIGTERM while gnuplot runs: the private directory goes too
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      ::setenv("TMPDIR", tmpdir.c_str(), 1);
      ::setenv("HEADSCOPE_GNUPLOT", hang.c_str(), 1);
      if (::chdir(d.path.c_str()) != 0) ::_exit(126);
      int nfd = ::open("/dev/null", O_WRONLY);
      ::dup2(nfd, 1);
      ::dup2(nfd, 2);
      ::execl(cli_binary().c_str(), "headscope", "plot", "context", "--in", "abl.json", "--out",
              "fig.png", (char*)nullptr);
      ::_exit(127);
    }
    for (int i = 0; i < 6000 && fs::is_empty(tmpdir); ++i)  // up to 60 s on a busy machine
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    CHECK_FALSE(fs::is_empty(tmpdir));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    ::kill(pid, SIGTERM);
    int st = 0;
    ::waitpid(pid, &st, 0);
    CHECK(WIFSIGNALED(st));
    CHECK(fs::is_empty(tmpdir));
    CHECK(slurp(d.file("fig.png")) == before);
  }

  TEST_CASE("plot on a full disk fails with one line and keeps the old figure (tmpfs)") {
    TempDir d;
    const std::string mnt = d.file("full");
    fs::create_directories(mnt);
    if (::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=256k") != 0) {
      MESSAGE("skipped: cannot mount a tmpfs here (" << std::strerror(errno) << ")");
      return;
    }
    struct Unmount {
      std::string p;
      ~Unmount() { ::umount2(p.c_str(), MNT_DETACH); }
    } unmount{mnt};
    d.write("abl.json", ablation_json_with_group("B"));
    const std::string cd = "cd " + q(d.path.string()) + " && ";
    Proc good = sh(cd + hs() + " plot context --in abl.json --out full/p.png", d);
    REQUIRE(good.code == 0);
    const std::string before = slurp(mnt + "/p.png");
    {  // fill the rest of the file system
      std::ofstream filler(mnt + "/filler", std::ios::binary);
      std::string block(4096, 'x');
      while (filler.write(block.data(), block.size())) {
      }
    }
    Proc p = sh(cd + hs() + " plot context --in abl.json --out full/p.png", d);
    INFO(p.out << p.err);
    CHECK(one_error_line(p));
    CHECK(p.err.find("No space left on device") != std::string::npos);
    CHECK(slurp(mnt + "/p.png") == before);
    CHECK(count_prefixed(mnt, "p.png.tmp") == 0);
    // analyze: all three files or none
    p = sh(cd + hs() + " analyze" + model_args() + " --max-tokens 64 --chunk-size 32 --threads 1 --out full/an", d);
    CHECK(one_error_line(p));
    CHECK(count_prefixed(mnt + "/an", "head_") == 0);
  }

  // ---- bounds and numbers --------------------------------------------------------------------

  TEST_CASE("--threads: default from the affinity mask or OMP_NUM_THREADS; too many is an error") {
    TempDir d;
    const std::string base = hs() + " eval" + model_args() + " --max-tokens 16";
    Proc p = sh(base + " --threads 99999999", d);
    CHECK(one_error_line(p));
    CHECK(p.err.find("exceeds the") != std::string::npos);
    p = sh("OMP_NUM_THREADS=1 " + base, d);
    CHECK(p.code == 0);
    CHECK(p.out.find("cpu/f32, 1 threads") != std::string::npos);
    p = sh("taskset -c 0 " + base, d);
    INFO(p.err);
    if (p.code == 0) CHECK(p.out.find("cpu/f32, 1 threads") != std::string::npos);
    p = sh("OMP_NUM_THREADS=abc " + base, d);
    // libgomp itself warns about the variable while loading, before headscope runs: drop its line
    {
      std::istringstream in(p.err);
      std::string line, kept;
      while (std::getline(in, line))
        if (!line.empty() && line.rfind("libgomp:", 0) != 0) kept += line + "\n";
      p.err = kept;
    }
    CHECK(one_error_line(p));
    CHECK(checked_thread_count(1) == 1);
    CHECK_THROWS_AS(checked_thread_count(available_cpus() + 1), Error);
  }

  TEST_CASE("benchmark programs parse their arguments with CLI11: errors and --help, no abort") {
    TempDir d;
    const std::string dir = fs::path(cli_binary()).parent_path().string();
    for (const std::string b : {"bench_forward", "bench_analyze", "bench_ablate", "bench_decode"}) {
      const std::string exe = q(dir + "/" + b);
      auto t0 = std::chrono::steady_clock::now();
      Proc p = sh(exe + " --help", d);
      INFO(b << "\n" << p.out << p.err);
      CHECK(p.code == 0);
      CHECK(p.out.find("--threads") != std::string::npos);
      CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5));  // nothing ran
      for (const std::string bad : {" --tokens abc", " --threads -1", " --no-such-option", " --tokens"}) {
        p = sh(exe + bad, d);
        INFO(bad << "\n" << p.err);
        CHECK(p.code != 0);
        CHECK(p.code != 134);  // no uncaught exception / abort
        CHECK(p.err.find("terminate called") == std::string::npos);
      }
    }
    Proc p = sh(q(dir + "/bench_forward") + " --reps 0", d);
    CHECK(p.code != 0);
    CHECK(p.err.find("--reps") != std::string::npos);
    p = sh(hs() + " bench forward --help", d);
    CHECK(p.code == 0);
    CHECK(p.out.find("bench_forward") != std::string::npos);
  }

  TEST_CASE("safetensors: overlapping byte ranges and duplicate keys are errors") {
    auto bytes_of = [](const std::string& header, size_t data_bytes) {
      std::string out(8, '\0');
      uint64_t n = header.size();
      std::memcpy(out.data(), &n, 8);
      return out + header + std::string(data_bytes, '\0');
    };
    auto parse = [](const std::string& b) {
      return parse_safetensors(reinterpret_cast<const uint8_t*>(b.data()), b.size(), "t.safetensors");
    };
    const std::string ok = bytes_of(
        R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "b": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]}})", 16);
    CHECK(parse(ok).size() == 2);
    const std::string overlap = bytes_of(
        R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})", 16);
    CHECK_THROWS_WITH_AS(parse(overlap), doctest::Contains("overlap"), Error);
    const std::string dup = bytes_of(
        R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "a": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]}})", 16);
    CHECK_THROWS_WITH_AS(parse(dup), doctest::Contains("'a' appears twice"), Error);
    const std::string dup_field = bytes_of(
        R"({"a": {"dtype": "F32", "dtype": "F16", "shape": [2], "data_offsets": [0, 8]}})", 8);
    CHECK_THROWS_AS(parse(dup_field), Error);
    const std::string huge = bytes_of(
        R"({"a": {"dtype": "F32", "shape": [4294967296, 4294967296], "data_offsets": [0, 0]}})", 0);
    CHECK_THROWS_WITH_AS(parse(huge), doctest::Contains("overflows"), Error);
  }

  TEST_CASE("a run whose logits overflow is reported diverged, never rc 0 with nan") {
    TempDir d;
    const std::string m = d.file("model");
    fs::create_directories(m);
    for (auto& e : fs::directory_iterator(bundled_model()))
      if (e.path().filename() != "model.safetensors") fs::copy(e.path(), m + "/" + e.path().filename().string());
    SafeTensors st = SafeTensors::open(bundled_model());
    std::map<std::string, at::Tensor> ts;
    for (const auto& [name, v] : st.tensors()) {
      REQUIRE((v.dtype == StDtype::F32 || v.dtype == StDtype::F16));
      const at::ScalarType stored = v.dtype == StDtype::F16 ? at::kHalf : at::kFloat;
      at::Tensor t = at::from_blob(const_cast<void*>(v.data), v.shape, stored).to(at::kFloat);
      // finite weights whose product overflows float32: inf logits, NaN log-probabilities
      if (name.find("final_layer_norm.weight") != std::string::npos) t.fill_(3e38f);
      ts[name] = t;
    }
    test::write_file(m + "/model.safetensors", test::safetensors_bytes(ts));
    Proc p = sh(hs() + " eval --model " + q(m) + " --text " + q(text_file()) +
                    " --max-tokens 16 --threads 1 --json " + q(d.file("r.json")),
                d);
    INFO(p.out << p.err);
    CHECK(one_error_line(p));
    CHECK(p.err.find("diverged") != std::string::npos);
    CHECK(p.out.find("nan") == std::string::npos);
    auto j = nlohmann::json::parse(slurp(d.file("r.json")));
    CHECK(j["status"] == "diverged");
  }

  TEST_CASE("past the trained context: a warning and beyond_trained_context in the JSON") {
    TempDir d;
    const std::string m = d.file("model");
    fs::create_directories(m);
    for (auto& e : fs::directory_iterator(bundled_model()))
      fs::create_symlink(e.path(), m + "/" + e.path().filename().string());
    auto cfg = nlohmann::json::parse(slurp(bundled_model() + "/config.json"));
    cfg["max_position_embeddings"] = 32;
    fs::remove(m + "/config.json");
    test::write_file(m + "/config.json", cfg.dump());
    Proc p = sh(hs() + " eval --model " + q(m) + " --text " + q(text_file()) + " --max-tokens 48 --threads 1 --json -", d);
    INFO(p.err);
    REQUIRE(p.code == 0);
    CHECK(p.err.find("warning: 48 tokens exceed the model's trained context") != std::string::npos);
    auto j = nlohmann::json::parse(p.out);
    CHECK(j["beyond_trained_context"] == true);
    CHECK(j["max_position_embeddings"] == 32);
  }
}
