// Document inputs: what a command evaluates when it is given more than one text. Sources, in
// the order given: every --text file (one document each), then --dataset PATH, which is
//   - a directory: every *.txt file in it (not recursive), sorted by name, one document each;
//   - a .jsonl file: one JSON object per non-blank line, the document is its string field
//     `field` ("text" unless --field NAME);
//   - any other file: one document, or, with --split-on SEP, the pieces between occurrences of
//     the literal separator SEP (pieces that are empty or only whitespace are dropped).
// Every document is validated as UTF-8 and gets the newline convention. --max-docs keeps the
// first N documents (0 = all). Errors (no documents, unreadable file, a jsonl line that is not
// an object or lacks the field, an empty text) are one-line Errors naming the file and line.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "common/text.h"

namespace headscope {

struct Document {
  std::string name;    // file path, "path:LINE" for jsonl, "path#K" for split pieces (K from 1)
  std::string source;  // the file it came from
  std::string text;
};

struct DocumentSource {
  std::vector<std::string> texts;  // --text (repeatable)
  std::string dataset;             // --dataset PATH (dir, .jsonl, or a file)
  std::string field = "text";      // --field for .jsonl
  std::string split_on;            // --split-on SEP for a single file ("\n\n" etc. unescaped)
  int64_t max_docs = 0;            // 0 = all
  Newlines newlines = Newlines::LF;
};

std::vector<Document> load_documents(const DocumentSource& src);

// "\\n" -> newline, "\\t" -> tab, "\\\\" -> backslash; anything else as is. Lets a shell user
// write --split-on '\n\n'.
std::string unescape_separator(const std::string& s);

}  // namespace headscope
