// UTF-8 and Unicode helpers shared by the tokenizer's components. Every function expects valid
// UTF-8 (the tokenizer validates its input once, up front).
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace headscope::tok {

// Decodes the code point at s[i] and advances i past it.
uint32_t next_cp(std::string_view s, size_t& i);
// The code point ending at s[end) (end > 0); its first byte's offset goes to *start_out.
uint32_t prev_cp(std::string_view s, size_t end, size_t* start_out = nullptr);
void append_utf8(std::string& out, uint32_t cp);
size_t count_code_points(std::string_view s);

// Rust's char::is_whitespace (the White_Space property).
bool is_white_space(uint32_t c);
// Rust regex's Unicode `\w` as the tokenizers library uses it for single_word added tokens.
bool is_word_char(uint32_t c);
// Rust's char::is_numeric (general categories Nd, Nl, No).
bool is_numeric(uint32_t c);

// Canonical composition (NFC), as the tokenizers library's NFC normalizer.
std::string nfc(std::string_view s);

// UTF-8 with every maximal invalid subsequence replaced by U+FFFD (Rust's String::from_utf8_lossy).
std::string utf8_lossy(std::string_view bytes);
bool is_valid_utf8(std::string_view bytes);

// GPT-2's bytes_to_unicode: printable bytes map to themselves, the others to U+0100 upwards.
const std::array<uint32_t, 256>& byte_to_codepoint();
// The byte-level character (UTF-8) of every byte.
const std::array<std::string, 256>& byte_level_chars();
// Inverse of byte_to_codepoint: -1 for code points outside the byte-level alphabet.
int byte_of_codepoint(uint32_t cp);

}  // namespace headscope::tok
