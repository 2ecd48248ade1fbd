#include "model/arch/architecture.h"

#include "common/error.h"

namespace headscope {

const std::vector<Architecture>& architectures() {
  static const std::vector<Architecture> table = [] {
    std::vector<Architecture> t{gpt_neox_architecture()};
    for (auto& a : llama_family_architectures()) t.push_back(a);
    return t;
  }();
  return table;
}

std::string supported_architectures() {
  std::string s;
  for (const auto& a : architectures()) s += (s.empty() ? "" : ", ") + a.name;
  return s;
}

const Architecture& find_architecture(const std::string& name, bool by_model_type) {
  for (const auto& a : architectures())
    if ((by_model_type ? a.model_type : a.name) == name) return a;
  throw Error(std::string(by_model_type ? "model_type '" : "architecture '") + name +
              "' is not supported (supported: " + supported_architectures() + ")");
}

}  // namespace headscope
