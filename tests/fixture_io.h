// Reads fixture tensors (safetensors) as ATen tensors.
#pragma once
#include <ATen/ATen.h>

#include <string>

#include "model/safetensors.h"

namespace headscope::test {

inline at::Tensor fixture_tensor(const SafeTensors& st, const std::string& name) {
  const StTensorView& v = st.get(name);
  at::ScalarType t = v.dtype == StDtype::I64 ? at::kLong
                     : v.dtype == StDtype::F64 ? at::kDouble
                                               : at::kFloat;
  return at::from_blob(const_cast<void*>(v.data), v.shape, at::TensorOptions().dtype(t)).clone();
}

}  // namespace headscope::test
