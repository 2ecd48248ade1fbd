// --nll-out FILE: every next-token NLL of a run, for outside analysis. One record per
// prediction, documents in order: document index (0-based), position of the predicted token in
// the document's evaluated ids (1..N-1; BOS, when added, is position 0), its token id, the NLL
// (natural log). Format by extension:
//   .npy        one structured array, dtype [('doc','<i4'),('position','<i8'),('target','<i8'),
//               ('nll','<f8')] (packed, NPY format 1.0): np.load(f)['nll']
//   .h5 / .hdf5 datasets doc (i32), position (i64), target (i64), nll (f64), documents (the
//               document names, UTF-8 strings); attributes method, model
// Written atomically. Anything else is an Error before the run starts (check_nll_out_path).
#pragma once
#include <string>
#include <vector>

#include "dataset/document_tokens.h"

namespace headscope {

struct NllExport {
  std::string method, model;
  std::vector<const TokenizedDocument*> docs;
  std::vector<const std::vector<double>*> nll;  // nll[d][i] scores docs[d]->ids[i + 1]
};

void check_nll_out_path(const std::string& path);  // Error unless .npy, .h5 or .hdf5
void write_nll(const std::string& path, const NllExport& e);

// The .npy bytes for the records (exposed for tests).
std::string npy_nll_bytes(const NllExport& e);

}  // namespace headscope
