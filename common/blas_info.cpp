#include "common/blas_info.h"

#include <ATen/Context.h>
#include <dlfcn.h>

#include <climits>
#include <cstdlib>

namespace headscope {

namespace {

// The file that provides the process's sgemm_, with links resolved: the library libtorch's
// matrix products land in (OpenBLAS's liblapack may load libopenblas even when libblas.so.3 is
// the reference BLAS, so "is OpenBLAS loaded?" is not the question).
std::string sgemm_library() {
  void* f = dlsym(RTLD_DEFAULT, "sgemm_");
  Dl_info info;
  if (!f || !dladdr(f, &info) || !info.dli_fname) return "";
  char buf[PATH_MAX];
  return realpath(info.dli_fname, buf) ? std::string(buf) : std::string(info.dli_fname);
}

bool is_openblas(const std::string& lib) { return lib.find("openblas") != std::string::npos; }

}  // namespace

std::string blas_description() {
  const std::string lib = sgemm_library();
  if (is_openblas(lib)) {
    using Fn = char* (*)();
    auto config = reinterpret_cast<Fn>(dlsym(RTLD_DEFAULT, "openblas_get_config"));
    std::string c = config ? config() : "OpenBLAS";  // "OpenBLAS 0.3.21 DYNAMIC_ARCH USE_OPENMP ..."
    if (c.rfind("OpenBLAS", 0) != 0) c = "OpenBLAS " + c;
    return c + " (sgemm from " + lib + ")";
  }
  if (at::globalContext().hasMKL()) return "MKL";
  return "not OpenBLAS or MKL: sgemm from " + (lib.empty() ? std::string("?") : lib) +
         " (reference BLAS? run scripts/setup.sh)";
}

bool blas_is_optimised() {
  return is_openblas(sgemm_library()) || at::globalContext().hasMKL();
}

}  // namespace headscope
