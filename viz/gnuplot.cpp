#include "viz/gnuplot.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
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
  throw Error("output file " + path + " must end in .png or .svg");
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

// A temporary file that is removed when this object goes out of scope.
struct TempFile {
  std::string path;
  explicit TempFile(const std::string& suffix) {
    std::string tmpl = (fs::temp_directory_path() / ("headscope-plot-XXXXXX" + suffix)).string();
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    int fd = ::mkstemps(buf.data(), static_cast<int>(suffix.size()));
    require(fd >= 0, "cannot create a temporary file in " + fs::temp_directory_path().string() +
                         ": " + std::strerror(errno));
    ::close(fd);
    path = buf.data();
  }
  ~TempFile() { std::remove(path.c_str()); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
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

// Runs `exe script` with stdout discarded and stderr captured; returns the exit status
// (or throws Error when the process cannot be started or dies on a signal).
int run_process(const std::string& exe, const std::string& script, std::string& err_text) {
  TempFile err_file(".log");
  pid_t pid = ::fork();
  require(pid >= 0, std::string("cannot start gnuplot: fork failed: ") + std::strerror(errno));
  if (pid == 0) {
    int efd = ::open(err_file.path.c_str(), O_WRONLY | O_TRUNC);
    int nfd = ::open("/dev/null", O_RDWR);
    if (efd >= 0) ::dup2(efd, 2);
    if (nfd >= 0) {
      ::dup2(nfd, 1);
      ::dup2(nfd, 0);
    }
    const char* argv[] = {exe.c_str(), script.c_str(), nullptr};
    ::execv(exe.c_str(), const_cast<char* const*>(argv));
    std::fprintf(stderr, "cannot execute %s: %s\n", exe.c_str(), std::strerror(errno));
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) throw Error(std::string("waiting for gnuplot failed: ") + std::strerror(errno));
  }
  err_text = read_all(err_file.path);
  if (WIFSIGNALED(status))
    throw Error("gnuplot was killed by signal " + std::to_string(WTERMSIG(status)));
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

void render_gnuplot(const std::string& script, const std::string& out_path, int width,
                    int height) {
  const ImageFormat fmt = format_for_path(out_path);
  const std::string exe = find_gnuplot();
  require(width >= 200 && height >= 150 && width <= 20000 && height <= 20000,
          "figure size " + std::to_string(width) + "x" + std::to_string(height) + " is out of range");
  write_file_atomic_with(out_path, [&](const std::string& tmp_out) {
    std::ostringstream s;
    s << "set encoding utf8\n";
    if (fmt == ImageFormat::Png) {
      s << "set terminal pngcairo size " << width << "," << height
        << " noenhanced font \"DejaVu Sans,13\" linewidth 1.5 background rgb \"white\"\n";
    } else {
      s << "set terminal svg size " << width << "," << height
        << " fixed noenhanced font \"DejaVu Sans,13\" linewidth 1.5 background rgb \"white\"\n";
    }
    s << "set output " << gp_quote(tmp_out) << "\n";
    s << script;
    if (script.empty() || script.back() != '\n') s << "\n";
    s << "unset output\n";
    TempFile gp(".gp");
    {
      std::ofstream f(gp.path, std::ios::binary | std::ios::trunc);
      f << s.str();
      f.flush();
      require(f.good(), "cannot write the gnuplot script " + gp.path);
    }
    std::string err;
    int rc = run_process(exe, gp.path, err);
    if (rc == 127 && err.find("cannot execute") != std::string::npos)
      throw Error("cannot run gnuplot (" + exe + "): " + summarize_stderr(err));
    require(rc == 0, "gnuplot failed (exit status " + std::to_string(rc) + ") drawing " +
                         out_path + ": " + summarize_stderr(err));
    std::error_code ec;
    auto size = fs::file_size(tmp_out, ec);
    require(!ec && size > 0, "gnuplot wrote no image for " + out_path +
                                 (err.empty() ? std::string() : ": " + summarize_stderr(err)));
  });
}

std::string gp_quote(const std::string& s) {
  std::string o = "\"";
  for (char c : s) {
    if (c == '\\' || c == '"') {
      o += '\\';
      o += c;
    } else if (c == '\n') {
      o += "\\n";
    } else if (c == '\r' || c == '\t') {
      o += ' ';
    } else {
      o += c;
    }
  }
  return o + "\"";
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
