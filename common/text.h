// Loading evaluation texts: UTF-8 validation and the explicit newline convention.
#pragma once
#include <string>

namespace headscope {

enum class Newlines { Keep, LF };  // LF: CRLF and lone CR become LF (the default)

Newlines parse_newlines(const std::string& s);  // "keep" | "lf"
const char* to_string(Newlines n);

// Throws Error naming the byte offset of the first invalid UTF-8 sequence.
void validate_utf8(const std::string& s, const std::string& what);

// Reads a text file, validates UTF-8, applies the newline convention. Throws on an empty text.
std::string load_text(const std::string& path, Newlines nl);

// Hex SHA-256 of a byte string (OpenSSL).
std::string sha256_hex(const std::string& bytes);

}  // namespace headscope
