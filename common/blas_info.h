// Which BLAS the process is running with, asked of the loaded library itself rather than of the
// package manager: Debian's libtorch calls whatever libblas.so.3 the alternatives system points
// at, and the reference BLAS there is ~20x slower than OpenBLAS.
#pragma once
#include <string>

namespace headscope {

// "OpenBLAS <its build configuration> (sgemm from <library>)" when the process's sgemm_ is
// OpenBLAS's, "MKL" for an MKL build of libtorch (PyTorch wheels), else a line naming the
// library sgemm_ comes from.
std::string blas_description();
// True for OpenBLAS or MKL.
bool blas_is_optimised();

}  // namespace headscope
