#include "model/arch/config_fields.h"

namespace headscope::cfg {

void parse_rope(const json& j, ModelConfig& c, const std::string& what, const char* theta_key,
                double theta_default, const char* partial_key, double partial_default) {
  RopeConfig& r = c.rope;
  r.theta = field_or<double>(j, theta_key, theta_default, what);
  r.partial = field_or<double>(j, partial_key, partial_default, what);
  const json* s = nullptr;
  std::string where = what;
  if (present(j, "rope_parameters")) {
    require(j["rope_parameters"].is_object(), what + ": rope_parameters is not an object");
    s = &j["rope_parameters"];
    where += ": rope_parameters";
    r.theta = field_or<double>(*s, "rope_theta", r.theta, where);
    r.partial = field_or<double>(*s, "partial_rotary_factor", r.partial, where);
  } else if (present(j, "rope_scaling")) {
    require(j["rope_scaling"].is_object(), what + ": rope_scaling is not an object");
    s = &j["rope_scaling"];
    where += ": rope_scaling";
  }
  if (s) {
    r.type = field_or<std::string>(*s, "rope_type", field_or<std::string>(*s, "type", "default", where), where);
    r.factor = field_or<double>(*s, "factor", 1.0, where);
    r.low_freq_factor = field_or<double>(*s, "low_freq_factor", 1.0, where);
    r.high_freq_factor = field_or<double>(*s, "high_freq_factor", 4.0, where);
    r.original_max_position_embeddings = field_or<int64_t>(*s, "original_max_position_embeddings", 0, where);
    r.beta_fast = field_or<double>(*s, "beta_fast", 32.0, where);
    r.beta_slow = field_or<double>(*s, "beta_slow", 1.0, where);
    r.attention_factor = field_or<double>(*s, "attention_factor", 0.0, where);
    r.mscale = field_or<double>(*s, "mscale", 0.0, where);
    r.mscale_all_dim = field_or<double>(*s, "mscale_all_dim", 0.0, where);
    r.truncate = field_or<bool>(*s, "truncate", true, where);
  }
  require(r.type == "default" || r.type == "linear" || r.type == "llama3" || r.type == "yarn",
          where + ": rope type '" + r.type + "' is not supported (supported: default, linear, llama3, yarn)");
  require(r.theta > 0, what + ": rotary base (rope_theta) must be > 0");
  require(r.partial > 0 && r.partial <= 1, what + ": rotary share (" + std::string(partial_key) +
                                              ") must be in (0, 1]");
  if (r.type != "default") require(r.factor > 0, where + ": factor must be > 0");
  if (r.type == "llama3")
    require(r.high_freq_factor != r.low_freq_factor && r.low_freq_factor > 0 && r.high_freq_factor > 0,
            where + ": llama3 needs positive, distinct low_freq_factor and high_freq_factor");
  c.rotary_base = r.theta;
  c.rotary_pct = r.partial;
}

}  // namespace headscope::cfg
