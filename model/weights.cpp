#include "model/weights.h"

#include "common/error.h"

namespace headscope {

namespace {

at::ScalarType aten_dtype(StDtype d, const std::string& name) {
  switch (d) {
    case StDtype::F32: return at::kFloat;
    case StDtype::F16: return at::kHalf;
    case StDtype::BF16: return at::kBFloat16;
    case StDtype::F64: return at::kDouble;
    default: throw Error("tensor '" + name + "' has dtype " + st_dtype_name(d) +
                         ", expected F32, F16 or BF16");
  }
}

std::string fmt(const std::vector<int64_t>& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

}  // namespace

std::string WeightLoader::resolve(const std::string& name) const {
  if (st_.has(name)) return name;
  auto it = st_.metadata().find(name);
  if (it != st_.metadata().end() && st_.has(it->second)) return it->second;
  return name;
}

bool WeightLoader::has(const std::string& name) const { return st_.has(resolve(name)); }

at::Tensor WeightLoader::get(const std::string& name, const std::vector<int64_t>& shape) const {
  const std::string stored_name = resolve(name);
  const StTensorView& v = st_.get(stored_name);
  const at::ScalarType stored = aten_dtype(v.dtype, stored_name);
  require(v.shape == shape, "tensor '" + stored_name + "' has shape " + fmt(v.shape) +
                                ", expected " + fmt(shape));
  at::Tensor view = at::from_blob(const_cast<void*>(v.data), v.shape, at::TensorOptions().dtype(stored));
  // Copy out of the mapping into owned memory in the compute dtype/device.
  at::Tensor t = view.to(device_, dtype_, /*non_blocking=*/false, /*copy=*/true).contiguous();
  require(at::isfinite(t).all().item<bool>(),
          "tensor '" + stored_name + "' holds non-finite values (NaN or infinity)" +
              (stored != dtype_ ? " after conversion to the compute dtype" : ""));
  return t;
}

}  // namespace headscope
