#include "viz/json_input.h"

#include <cmath>
#include <filesystem>

#include "common/atomic_file.h"
#include "common/error.h"

namespace headscope::viz {
namespace fs = std::filesystem;

static std::string base_name(const std::string& p) {
  std::string s = p;
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  std::string b = fs::path(s).filename().string();
  return b.empty() ? p : b;
}

std::string RunInfo::describe() const {
  std::string o;
  auto add = [&](const std::string& s) {
    if (s.empty()) return;
    if (!o.empty()) o += " | ";
    o += s;
  };
  add(model.empty() ? "" : base_name(model));
  add(text.empty() ? "" : base_name(text));
  add(tokens >= 0 ? std::to_string(tokens) + " tokens" : "");
  return o;
}

nlohmann::json load_json_object(const std::string& path) {
  const std::string s = read_file(path);
  require(s.find_first_not_of(" \t\r\n") != std::string::npos, path + " is empty");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(s);
  } catch (const nlohmann::json::exception& e) {
    std::string msg = e.what();
    for (char& c : msg)
      if (c == '\n' || c == '\r') c = ' ';
    throw Error(path + ": malformed JSON (" + msg + ")");
  }
  require(j.is_object(), path + ": expected a JSON object at the top level");
  return j;
}

RunInfo read_run_info(const nlohmann::json& j) {
  RunInfo r;
  auto take = [&](const nlohmann::json& o) {
    if (!o.is_object()) return;
    for (const char* k : {"model", "model_name", "model_path"})
      if (r.model.empty() && o.contains(k) && o[k].is_string()) r.model = o[k].get<std::string>();
    for (const char* k : {"text", "text_path", "dataset"})
      if (r.text.empty() && o.contains(k) && o[k].is_string()) r.text = o[k].get<std::string>();
    for (const char* k : {"tokens", "num_tokens", "max_tokens"})
      if (r.tokens < 0 && o.contains(k) && o[k].is_number_integer()) r.tokens = o[k].get<int64_t>();
  };
  take(j);
  if (j.contains("model_info")) take(j["model_info"]);
  return r;
}

const nlohmann::json& field(const nlohmann::json& obj, const char* key, const std::string& where) {
  require(obj.is_object(), where + ": expected an object");
  auto it = obj.find(key);
  require(it != obj.end(), where + ": missing field \"" + key + "\"");
  return *it;
}

double number_field(const nlohmann::json& obj, const char* key, const std::string& where) {
  const auto& v = field(obj, key, where);
  require(v.is_number(), where + ": field \"" + key + "\" must be a number");
  double d = v.get<double>();
  require(std::isfinite(d), where + ": field \"" + key + "\" is not finite");
  return d;
}

double optional_number(const nlohmann::json& obj, const char* key, const std::string& where) {
  require(obj.is_object(), where + ": expected an object");
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return std::nan("");
  require(it->is_number(), where + ": field \"" + key + "\" must be a number");
  return it->get<double>();
}

int64_t int_field(const nlohmann::json& obj, const char* key, const std::string& where) {
  const auto& v = field(obj, key, where);
  require(v.is_number_integer(), where + ": field \"" + key + "\" must be an integer");
  return v.get<int64_t>();
}

std::string string_field(const nlohmann::json& obj, const char* key, const std::string& where) {
  const auto& v = field(obj, key, where);
  require(v.is_string(), where + ": field \"" + key + "\" must be a string");
  return v.get<std::string>();
}

}  // namespace headscope::viz
