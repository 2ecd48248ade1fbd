#include "dataset/documents.h"

#include <algorithm>
#include <filesystem>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/atomic_file.h"
#include "common/error.h"

namespace headscope {

namespace fs = std::filesystem;

namespace {

std::string apply_newlines(std::string s, Newlines nl) {
  if (nl == Newlines::Keep) return s;
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\r') {
      out.push_back('\n');
      if (i + 1 < s.size() && s[i + 1] == '\n') ++i;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

bool blank(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isspace(c); });
}

bool ends_with(const std::string& s, const std::string& suf) {
  return s.size() >= suf.size() && s.compare(s.size() - suf.size(), suf.size(), suf) == 0;
}

void add_jsonl(const std::string& path, const DocumentSource& src, std::vector<Document>& out) {
  const std::string all = read_file(path);
  std::istringstream in(all);
  std::string line;
  int64_t lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (blank(line)) continue;
    const std::string where = path + " line " + std::to_string(lineno);
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const std::exception&) {
      throw Error(where + ": not valid JSON");
    }
    require(j.is_object(), where + ": not a JSON object");
    require(j.contains(src.field), where + ": no field '" + src.field + "' (choose it with --field)");
    require(j[src.field].is_string(), where + ": field '" + src.field + "' is not a string");
    std::string text = j[src.field].get<std::string>();
    validate_utf8(text, where);
    text = apply_newlines(std::move(text), src.newlines);
    require(!blank(text), where + ": field '" + src.field + "' is empty");
    out.push_back({path + ":" + std::to_string(lineno), path, std::move(text)});
  }
}

void add_split(const std::string& path, const DocumentSource& src, std::vector<Document>& out) {
  const std::string text = load_text(path, src.newlines);
  const std::string sep = unescape_separator(src.split_on);
  require(!sep.empty(), "--split-on: the separator is empty");
  size_t start = 0;
  int64_t k = 0;
  while (start <= text.size()) {
    size_t pos = text.find(sep, start);
    const size_t end = pos == std::string::npos ? text.size() : pos;
    std::string piece = text.substr(start, end - start);
    ++k;
    if (!blank(piece)) out.push_back({path + "#" + std::to_string(k), path, std::move(piece)});
    if (pos == std::string::npos) break;
    start = pos + sep.size();
  }
}

}  // namespace

std::string unescape_separator(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size()) {
      const char c = s[i + 1];
      if (c == 'n') { out.push_back('\n'); ++i; continue; }
      if (c == 't') { out.push_back('\t'); ++i; continue; }
      if (c == '\\') { out.push_back('\\'); ++i; continue; }
    }
    out.push_back(s[i]);
  }
  return out;
}

std::vector<Document> load_documents(const DocumentSource& src) {
  require(src.max_docs >= 0, "--max-docs must be >= 0");
  std::vector<Document> docs;
  for (const auto& t : src.texts) docs.push_back({t, t, load_text(t, src.newlines)});
  if (!src.dataset.empty()) {
    const std::string& p = src.dataset;
    std::error_code ec;
    require(fs::exists(p, ec), "--dataset " + p + ": no such file or directory");
    if (fs::is_directory(p, ec)) {
      require(src.split_on.empty(), "--split-on applies to a single text file, not a directory");
      std::vector<std::string> files;
      for (const auto& e : fs::directory_iterator(p))
        if (e.is_regular_file() && e.path().extension() == ".txt") files.push_back(e.path().string());
      std::sort(files.begin(), files.end());
      require(!files.empty(), "--dataset " + p + ": the directory has no .txt files");
      for (const auto& f : files) docs.push_back({f, f, load_text(f, src.newlines)});
    } else if (ends_with(p, ".jsonl")) {
      require(src.split_on.empty(), "--split-on applies to a text file, not a .jsonl file");
      const size_t before = docs.size();
      add_jsonl(p, src, docs);
      require(docs.size() > before, "--dataset " + p + ": no documents (the file has no non-blank lines)");
    } else if (!src.split_on.empty()) {
      const size_t before = docs.size();
      add_split(p, src, docs);
      require(docs.size() > before, "--dataset " + p + ": no documents after splitting on --split-on");
    } else {
      docs.push_back({p, p, load_text(p, src.newlines)});
    }
  } else {
    require(src.split_on.empty(), "--split-on needs --dataset FILE");
  }
  require(!docs.empty(), "no documents: give --text FILE (repeatable) or --dataset PATH");
  if (src.max_docs > 0 && static_cast<int64_t>(docs.size()) > src.max_docs) docs.resize(src.max_docs);
  return docs;
}

}  // namespace headscope
