// Typed config.json field readers shared by the architecture files: one-line errors naming
// the field, integers that must really be integers, and the rotary block in both
// transformers-4 (top-level rope_theta / rope_scaling, Pythia's rotary_pct / rotary_emb_base)
// and transformers-5 (rope_parameters) forms.
#pragma once
#include <nlohmann/json.hpp>

#include <string>
#include <type_traits>

#include "common/error.h"
#include "model/config.h"

namespace headscope::cfg {

using nlohmann::json;

inline bool present(const json& j, const char* name) {
  return j.contains(name) && !j[name].is_null();
}

template <class T>
T field(const json& j, const char* name, const std::string& what) {
  auto it = j.find(name);
  require(it != j.end() && !it->is_null(), what + ": missing field '" + name + "'");
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    require(it->is_number(), what + ": field '" + std::string(name) + "' has the wrong type");
    require(it->is_number_integer(), what + ": field '" + std::string(name) + "' must be an integer, got " +
                                         it->dump());
  }
  try {
    return it->get<T>();
  } catch (const std::exception&) {
    throw Error(what + ": field '" + std::string(name) + "' has the wrong type");
  }
}

template <class T>
T field_or(const json& j, const char* name, T dflt, const std::string& what) {
  return present(j, name) ? field<T>(j, name, what) : dflt;
}

// Reads the rotary parameters into c.rope. `theta_key`/`partial_key` are the transformers-4
// top-level names of this architecture (rope_theta or rotary_emb_base; partial_rotary_factor
// or rotary_pct); rope_parameters (transformers 5) takes precedence.
void parse_rope(const json& j, ModelConfig& c, const std::string& what, const char* theta_key,
                double theta_default, const char* partial_key, double partial_default);

}  // namespace headscope::cfg
