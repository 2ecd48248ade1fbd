// Unicode general-category property classes for the pre-tokenizer regexes, at the Unicode version
// HF tokenizers uses (16.0.0, Oniguruma 6.9.10): utf8proc's categories (Unicode 15.0 in utf8proc
// 2.8) with unicode_delta.inc applied. PCRE2 10.42's own \p{..} tables are Unicode 14.0, so a
// tokenizer.json pattern compiled with them splits text with newer letters and digits differently.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace headscope::tok {

// The Unicode version the property classes implement.
const char* property_unicode_version();

// Code-point ranges [first, last] of a general category or major class: "L", "Lu", "Ll", "Lt",
// "Lm", "Lo", "M", "Mn", "Mc", "Me", "N", "Nd", "Nl", "No", "P", "Pc", "Pd", "Ps", "Pe", "Pi", "Pf",
// "Po", "S", "Sm", "Sc", "Sk", "So", "Z", "Zs", "Zl", "Zp"; nullptr for any other name. Computed
// once per process, sorted and merged.
const std::vector<std::pair<uint32_t, uint32_t>>* property_ranges(std::string_view name);

// The same set as the body of a PCRE2 character class, without brackets; cached; nullptr as above.
// Positive: PCRE2's own \p{name} plus the code points its tables lack ("\p{L}\x{31350}-..."), when
// PCRE2's tables are no newer than 16.0 and put nothing in the set that 16.0 leaves out (checked at
// run time); else every range spelled out ("\x{41}-\x{5A}..."), right but slow to match.
// `negated`: the complement (surrogates excluded), always spelled out; meant for \P{..} inside a
// class, where [^\p{name}...] is not available.
const std::string* property_class_body(std::string_view name, bool negated);

}  // namespace headscope::tok
