#include "dataset/nll_export.h"

#include <H5Cpp.h>

#include <cstring>

#include "common/atomic_file.h"
#include "common/error.h"

namespace headscope {

namespace {

bool ends_with(const std::string& s, const std::string& suf) {
  return s.size() >= suf.size() && s.compare(s.size() - suf.size(), suf.size(), suf) == 0;
}

int64_t record_count(const NllExport& e) {
  require(e.docs.size() == e.nll.size(), "nll export: documents and NLL lists differ in number");
  int64_t n = 0;
  for (size_t d = 0; d < e.docs.size(); ++d) {
    require(e.nll[d]->size() + 1 == e.docs[d]->ids.size(),
            "nll export: document " + e.docs[d]->name + " has " + std::to_string(e.nll[d]->size()) +
                " NLLs for " + std::to_string(e.docs[d]->ids.size()) + " tokens");
    n += static_cast<int64_t>(e.nll[d]->size());
  }
  return n;
}

template <typename T>
void put(std::string& s, T v) {  // little-endian hosts only (x86-64, aarch64)
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  s.append(b, sizeof(T));
}

void write_h5(const std::string& tmp, const NllExport& e, int64_t n) {
  std::vector<int32_t> doc;
  std::vector<int64_t> pos, tgt;
  std::vector<double> nll;
  doc.reserve(n), pos.reserve(n), tgt.reserve(n), nll.reserve(n);
  for (size_t d = 0; d < e.docs.size(); ++d)
    for (size_t i = 0; i < e.nll[d]->size(); ++i) {
      doc.push_back(static_cast<int32_t>(d));
      pos.push_back(static_cast<int64_t>(i + 1));
      tgt.push_back(e.docs[d]->ids[i + 1]);
      nll.push_back((*e.nll[d])[i]);
    }
  H5::Exception::dontPrint();
  H5::H5File f(tmp, H5F_ACC_TRUNC);
  hsize_t dims[1] = {static_cast<hsize_t>(n)};
  H5::DataSpace sp(1, dims);
  f.createDataSet("doc", H5::PredType::STD_I32LE, sp).write(doc.data(), H5::PredType::NATIVE_INT32);
  f.createDataSet("position", H5::PredType::STD_I64LE, sp).write(pos.data(), H5::PredType::NATIVE_INT64);
  f.createDataSet("target", H5::PredType::STD_I64LE, sp).write(tgt.data(), H5::PredType::NATIVE_INT64);
  f.createDataSet("nll", H5::PredType::IEEE_F64LE, sp).write(nll.data(), H5::PredType::NATIVE_DOUBLE);
  H5::StrType st(H5::PredType::C_S1, H5T_VARIABLE);
  st.setCset(H5T_CSET_UTF8);
  std::vector<const char*> names;
  for (auto* d : e.docs) names.push_back(d->name.c_str());
  hsize_t nd[1] = {static_cast<hsize_t>(names.size())};
  f.createDataSet("documents", st, H5::DataSpace(1, nd)).write(names.data(), st);
  const std::pair<const char*, const std::string*> attrs[] = {{"method", &e.method}, {"model", &e.model}};
  for (const auto& kv : attrs) {
    H5::Attribute a = f.createAttribute(kv.first, st, H5::DataSpace(H5S_SCALAR));
    const char* c = kv.second->c_str();
    a.write(st, &c);
  }
}

}  // namespace

void check_nll_out_path(const std::string& path) {
  require(ends_with(path, ".npy") || ends_with(path, ".h5") || ends_with(path, ".hdf5"),
          "--nll-out " + path + ": the file name must end in .npy, .h5 or .hdf5");
}

std::string npy_nll_bytes(const NllExport& e) {
  const int64_t n = record_count(e);
  std::string header =
      "{'descr': [('doc', '<i4'), ('position', '<i8'), ('target', '<i8'), ('nll', '<f8')], "
      "'fortran_order': False, 'shape': (" + std::to_string(n) + ",), }";
  // magic (6) + version (2) + header length (2) + header + '\n', padded to a multiple of 64
  const size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header.push_back('\n');
  std::string s("\x93NUMPY\x01\x00", 8);
  put<uint16_t>(s, static_cast<uint16_t>(header.size()));
  s += header;
  s.reserve(s.size() + n * 28);
  for (size_t d = 0; d < e.docs.size(); ++d)
    for (size_t i = 0; i < e.nll[d]->size(); ++i) {
      put<int32_t>(s, static_cast<int32_t>(d));
      put<int64_t>(s, static_cast<int64_t>(i + 1));
      put<int64_t>(s, e.docs[d]->ids[i + 1]);
      put<double>(s, (*e.nll[d])[i]);
    }
  return s;
}

void write_nll(const std::string& path, const NllExport& e) {
  check_nll_out_path(path);
  if (ends_with(path, ".npy")) {
    write_file_atomic(path, npy_nll_bytes(e));
    return;
  }
  const int64_t n = record_count(e);
  try {
    write_file_atomic_with(path, [&](const std::string& tmp) { write_h5(tmp, e, n); });
  } catch (const H5::Exception& ex) {
    throw Error("--nll-out " + path + ": HDF5 error: " + ex.getDetailMsg());
  }
}

}  // namespace headscope
