// The precompiled header (common/pch.h) belongs to this otherwise empty target; the libraries
// that compile against ATen reuse it (CMakeLists.txt).
