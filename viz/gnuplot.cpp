#include "viz/gnuplot.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/atomic_file.h"
#include "common/error.h"

namespace headscope::viz {
namespace fs = std::filesystem;

ImageFormat format_for_path(const std::string& path) {
  std::string ext = fs::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (ext == ".png") return ImageFormat::Png;
  if (ext == ".svg") return ImageFormat::Svg;
  if (ext == ".pdf") return ImageFormat::Pdf;
  throw Error("output file " + path + " must end in .png, .svg or .pdf");
}

static bool is_executable_file(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(p.c_str(), X_OK) == 0;
}

std::string find_gnuplot() {
  if (const char* e = std::getenv("HEADSCOPE_GNUPLOT"); e && *e) {
    require(is_executable_file(e), std::string("HEADSCOPE_GNUPLOT=") + e +
                                       " is not an executable file (plots need gnuplot)");
    return e;
  }
  const char* path = std::getenv("PATH");
  std::string p = path ? path : "/usr/local/bin:/usr/bin:/bin";
  std::stringstream ss(p);
  std::string dir;
  while (std::getline(ss, dir, ':')) {
    if (dir.empty()) dir = ".";
    std::string cand = dir + "/gnuplot";
    if (is_executable_file(cand)) return cand;
  }
  throw Error(
      "gnuplot not found in PATH: plots need it (Debian/Ubuntu: apt-get install gnuplot-nox), "
      "or set HEADSCOPE_GNUPLOT to its path");
}

namespace {

// ---- the private working directory and its cleanup on SIGINT/SIGTERM ------------------------
// Each figure is drawn in a fresh mkdtemp() directory (mode 0700) under $TMPDIR holding the
// script, gnuplot's stderr and the image; nothing else is written until the image is checked and
// published. The directory is removed when rendering ends, however it ends: normally or by an
// exception (RAII), or by SIGINT/SIGTERM (a handler that kills gnuplot, unlinks the known files,
// removes the directory and re-raises the signal; it uses only async-signal-safe calls on paths
// prepared beforehand).

constexpr size_t kPathMax = 4096;
char g_dir[kPathMax];                    // "" when no render is in progress
char g_files[3][kPathMax];               // files inside g_dir
volatile sig_atomic_t g_child = 0;       // gnuplot's pid while it runs
struct sigaction g_old_int, g_old_term;

void cleanup_now() {
  for (auto& f : g_files)
    if (f[0]) ::unlink(f);
  if (g_dir[0]) ::rmdir(g_dir);
}

extern "C" void on_fatal_signal(int sig) {
  pid_t child = g_child;
  if (child > 0) ::kill(child, SIGKILL);
  cleanup_now();
  ::sigaction(SIGINT, &g_old_int, nullptr);
  ::sigaction(SIGTERM, &g_old_term, nullptr);
  ::raise(sig);
}

void copy_path(char* dst, const std::string& src) {
  require(src.size() < kPathMax, "temporary path too long: " + src);
  std::memcpy(dst, src.c_str(), src.size() + 1);
}

class WorkDir {
 public:
  std::string dir, script, err, image;
  explicit WorkDir(const std::string& image_ext) {
    std::error_code ec;
    fs::path base = fs::temp_directory_path(ec);
    if (ec) base = "/tmp";
    std::string tmpl = (base / "headscope-plot-XXXXXX").string();
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    require(::mkdtemp(buf.data()) != nullptr,
            "cannot create a temporary directory in " + base.string() + ": " + std::strerror(errno));
    dir = buf.data();
    script = dir + "/figure.gp";
    err = dir + "/gnuplot.err";
    image = dir + "/figure." + image_ext;
    sigset_t all, old;
    sigfillset(&all);
    ::sigprocmask(SIG_BLOCK, &all, &old);  // the handler never sees half-copied paths
    copy_path(g_dir, dir);
    copy_path(g_files[0], script);
    copy_path(g_files[1], err);
    copy_path(g_files[2], image);
    struct sigaction sa {};
    sa.sa_handler = on_fatal_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;
    ::sigaction(SIGINT, &sa, &g_old_int);
    ::sigaction(SIGTERM, &sa, &g_old_term);
    ::sigprocmask(SIG_SETMASK, &old, nullptr);
  }
  ~WorkDir() {
    sigset_t all, old;
    sigfillset(&all);
    ::sigprocmask(SIG_BLOCK, &all, &old);
    ::sigaction(SIGINT, &g_old_int, nullptr);
    ::sigaction(SIGTERM, &g_old_term, nullptr);
    cleanup_now();
    g_dir[0] = 0;
    for (auto& f : g_files) f[0] = 0;
    ::sigprocmask(SIG_SETMASK, &old, nullptr);
  }
  WorkDir(const WorkDir&) = delete;
  WorkDir& operator=(const WorkDir&) = delete;
};

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// gnuplot's error report: the lines of stderr that say what went wrong, joined on one line.
std::string summarize_stderr(const std::string& err) {
  std::vector<std::string> lines;
  std::stringstream ss(err);
  std::string line;
  while (std::getline(ss, line)) {
    auto first = line.find_first_not_of(" \t^\r");
    if (first == std::string::npos) continue;
    lines.push_back(line.substr(first));
  }
  if (lines.empty()) return "no message";
  // Prefer the line that names the script line ("... line 12: undefined variable").
  for (const auto& l : lines)
    if (l.find(" line ") != std::string::npos && l.find(':') != std::string::npos) return l;
  return lines.back();
}

// Seconds gnuplot may run for one figure: $HEADSCOPE_GNUPLOT_TIMEOUT (seconds, > 0) or 120.
double gnuplot_timeout_s() {
  if (const char* e = std::getenv("HEADSCOPE_GNUPLOT_TIMEOUT"); e && *e) {
    char* end = nullptr;
    double v = std::strtod(e, &end);
    require(end && *end == '\0' && std::isfinite(v) && v > 0 && v <= 86400,
            std::string("HEADSCOPE_GNUPLOT_TIMEOUT must be seconds in (0, 86400], got '") + e + "'");
    return v;
  }
  return 120.0;
}

// Runs `exe script` in `cwd` with stdin/stdout on /dev/null and stderr into `err_path`; returns
// the exit status. Throws Error when it cannot start, dies on a signal or exceeds the timeout
// (then it is killed). Between fork and exec the child calls only async-signal-safe functions
// on data prepared before the fork.
int run_process(const std::string& exe, const std::string& script, const std::string& cwd,
                const std::string& err_path, std::string& err_text) {
  const double timeout = gnuplot_timeout_s();
  const char* argv[] = {exe.c_str(), script.c_str(), nullptr};
  const char* exe_c = exe.c_str();
  const char* cwd_c = cwd.c_str();
  const char* err_c = err_path.c_str();
  static const char kExecFailed[] = "cannot execute gnuplot\n";
  pid_t pid = ::fork();
  require(pid >= 0, std::string("cannot start gnuplot: fork failed: ") + std::strerror(errno));
  if (pid == 0) {
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    ::sigaction(SIGINT, &dfl, nullptr);
    ::sigaction(SIGTERM, &dfl, nullptr);
    int efd = ::open(err_c, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int nfd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    if (efd >= 0) ::dup2(efd, 2);
    if (nfd >= 0) {
      ::dup2(nfd, 1);
      ::dup2(nfd, 0);
    }
    if (::chdir(cwd_c) != 0) ::_exit(126);
    ::execv(exe_c, const_cast<char* const*>(argv));
    ssize_t w = ::write(2, kExecFailed, sizeof kExecFailed - 1);
    (void)w;
    ::_exit(127);
  }
  g_child = pid;
  int status = 0;
  const auto start = std::chrono::steady_clock::now();
  for (;;) {
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) {
      g_child = 0;
      throw Error(std::string("waiting for gnuplot failed: ") + std::strerror(errno));
    }
    const double waited =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (waited > timeout) {
      ::kill(pid, SIGKILL);
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      g_child = 0;
      char buf[64];
      std::snprintf(buf, sizeof buf, "%g", timeout);
      throw Error(std::string("gnuplot did not finish within ") + buf +
                  " s (killed; HEADSCOPE_GNUPLOT_TIMEOUT sets the limit)");
    }
    ::usleep(waited < 1.0 ? 2000 : 20000);
  }
  g_child = 0;
  err_text = read_all(err_path);
  if (WIFSIGNALED(status))
    throw Error("gnuplot was killed by signal " + std::to_string(WTERMSIG(status)));
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

bool image_is_complete(const std::string& bytes, ImageFormat fmt) {
  if (fmt == ImageFormat::Png) {
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    static const unsigned char iend[12] = {0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xae, 0x42, 0x60, 0x82};
    return bytes.size() >= 8 + 12 && std::memcmp(bytes.data(), sig, 8) == 0 &&
           std::memcmp(bytes.data() + bytes.size() - 12, iend, 12) == 0;
  }
  size_t end = bytes.find_last_not_of(" \t\r\n");
  if (end == std::string::npos) return false;
  if (fmt == ImageFormat::Pdf) {
    const std::string eof = "%%EOF";
    return bytes.compare(0, 5, "%PDF-") == 0 && end + 1 >= eof.size() &&
           bytes.compare(end + 1 - eof.size(), eof.size(), eof) == 0;
  }
  const std::string close = "</svg>";
  return end + 1 >= close.size() && bytes.compare(end + 1 - close.size(), close.size(), close) == 0 &&
         bytes.find("<svg") != std::string::npos;
}

void render_gnuplot(const std::string& script, const std::string& out_path, int width,
                    int height) {
  const ImageFormat fmt = format_for_path(out_path);
  const std::string exe = find_gnuplot();
  require(width >= 200 && height >= 150 && width <= 20000 && height <= 20000,
          "figure size " + std::to_string(width) + "x" + std::to_string(height) + " is out of range");
  resolve_output(out_path);  // a directory or block device fails before drawing
  WorkDir work(fmt == ImageFormat::Png ? "png" : fmt == ImageFormat::Svg ? "svg" : "pdf");
  std::ostringstream s;
  s << "set encoding utf8\n";
  if (fmt == ImageFormat::Png) {
    s << "set terminal pngcairo size " << width << "," << height
      << " noenhanced font \"DejaVu Sans,13\" linewidth 1.5 background rgb \"white\"\n";
  } else if (fmt == ImageFormat::Pdf) {
    // A page of width/100 x height/100 inches (72 pt each): fonts and lines scaled by 0.72 so
    // that every figure keeps the PNG's proportions, including its own font overrides.
    s << "set terminal pdfcairo size " << width / 100.0 << "in," << height / 100.0
      << "in noenhanced font \"DejaVu Sans,13\" fontscale 0.72 linewidth 1.08"
      << " background rgb \"white\"\n";
  } else {
    s << "set terminal svg size " << width << "," << height
      << " fixed noenhanced font \"DejaVu Sans,13\" linewidth 1.5 background rgb \"white\"\n";
  }
  // The user's output path never reaches gnuplot: it draws into the private directory.
  s << "set output " << gp_quote(fs::path(work.image).filename().string()) << "\n";  // cwd = work.dir
  s << script;
  if (script.empty() || script.back() != '\n') s << "\n";
  s << "unset output\n";
  {
    std::ofstream f(work.script, std::ios::binary | std::ios::trunc);
    f << s.str();
    f.flush();
    require(f.good(), "cannot write the gnuplot script " + work.script);
  }
  std::string err;
  int rc = run_process(exe, work.script, work.dir, work.err, err);
  if (rc == 127 && err.find("cannot execute") != std::string::npos)
    throw Error("cannot run gnuplot (" + exe + ")");
  require(rc == 0, "gnuplot failed (exit status " + std::to_string(rc) + ") drawing " + out_path +
                       ": " + summarize_stderr(err));
  std::error_code ec;
  require(fs::exists(work.image, ec) && fs::file_size(work.image, ec) > 0,
          "gnuplot wrote no image for " + out_path +
              (err.empty() ? std::string() : ": " + summarize_stderr(err)));
  const std::string bytes = read_all(work.image);
  require(image_is_complete(bytes, fmt),
          "gnuplot wrote an incomplete image for " + out_path + " (no " +
              (fmt == ImageFormat::Png   ? "PNG IEND chunk"
               : fmt == ImageFormat::Svg ? "closing </svg> tag"
                                         : "PDF %%EOF trailer") +
              "; disk full?); " + out_path + " was not changed");
  write_file_atomic(out_path, bytes);
}

std::string gp_quote(const std::string& s) {
  // gnuplot expands backticks (shell commands) and backslash escapes inside double quotes, and
  // @macros and $datablocks outside quotes; inside single quotes it expands nothing, and '' is
  // a literal quote. So every piece of text is single-quoted; a newline, which a single-quoted
  // string cannot hold, becomes the constant "\n" joined with '.', in parentheses so that the
  // result is one expression wherever a string is expected (titles, labels, tic labels).
  std::string o = "'";
  bool joined = false;
  for (char c : s) {
    if (c == '\'') {
      o += "''";
    } else if (c == '\n') {
      o += "'.\"\\n\".'";
      joined = true;
    } else if (c == '\r' || c == '\t' || c == '\0') {
      o += ' ';
    } else {
      o += c;
    }
  }
  o += "'";
  return joined ? "(" + o + ")" : o;
}

std::string gp_data_string(const std::string& s) {
  std::string o = "\"";
  for (char c : s) o += (c == '"' || c == '\n' || c == '\r') ? '\'' : c;
  return o + "\"";
}

std::string gp_num(double v) {
  if (!std::isfinite(v)) return "NaN";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.10g", v);
  return buf;
}

std::string gp_datablock(const std::string& name, const std::vector<std::string>& lines) {
  std::string o = "$" + name + " << EOD\n";
  for (const auto& l : lines) o += l + "\n";
  return o + "EOD\n";
}

Rgb parse_rgb(const std::string& hex) {
  require(hex.size() == 7 && hex[0] == '#', "bad colour " + hex);
  auto h = [&](size_t i) { return static_cast<int>(std::strtol(hex.substr(i, 2).c_str(), nullptr, 16)); };
  return {h(1), h(3), h(5)};
}

std::string rgb_hex(const Rgb& c) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "#%02x%02x%02x", c.r & 255, c.g & 255, c.b & 255);
  return buf;
}

Rgb shade_toward_white(const Rgb& c, double w) {
  w = std::clamp(std::isfinite(w) ? w : 1.0, 0.0, 1.0);
  auto mix = [&](int x) { return static_cast<int>(std::lround(255.0 + (x - 255.0) * w)); };
  return {mix(c.r), mix(c.g), mix(c.b)};
}

long rgb_int(const Rgb& c) { return (long(c.r) << 16) | (long(c.g) << 8) | long(c.b); }

std::string join_nonempty(const std::vector<std::string>& parts, const std::string& sep) {
  std::string o;
  for (const auto& p : parts) {
    if (p.empty()) continue;
    if (!o.empty()) o += sep;
    o += p;
  }
  return o;
}

}  // namespace headscope::viz
