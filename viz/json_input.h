// Reading result files for figures: JSON loading and field access with one-line errors that
// name the file and the field. Shared by the ablation, classification and statistics readers.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

namespace headscope::viz {

// What a figure's title says about the run: model, text and token count (any may be unknown).
struct RunInfo {
  std::string model;   // as written in the file (a path or a name)
  std::string text;    // likewise
  int64_t tokens = -1;  // -1 = unknown
  bool empty() const { return model.empty() && text.empty() && tokens < 0; }
  // "neox-gutenberg-14m | pg19-10146.txt | 1000 tokens" (base names; unknown parts left out).
  std::string describe() const;
};

// Parses a JSON object file. Throws Error("<path> is empty"), Error("<path>: malformed JSON
// (...)"), or Error("<path>: expected a JSON object").
nlohmann::json load_json_object(const std::string& path);

// Reads optional run metadata ("model", "text", "tokens"/"num_tokens") from `j` and from
// j["model_info"] when present.
RunInfo read_run_info(const nlohmann::json& j);

// Field access; `where` names the file and object in messages ("f.json: results[3]").
const nlohmann::json& field(const nlohmann::json& obj, const char* key, const std::string& where);
double number_field(const nlohmann::json& obj, const char* key, const std::string& where);
// NaN when the key is absent or null.
double optional_number(const nlohmann::json& obj, const char* key, const std::string& where);
int64_t int_field(const nlohmann::json& obj, const char* key, const std::string& where);
std::string string_field(const nlohmann::json& obj, const char* key, const std::string& where);

}  // namespace headscope::viz
