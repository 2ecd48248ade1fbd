// One exception type for every user-facing failure: its message is a single line that the CLI
// prints as "headscope: error: <message>" before exiting non-zero.
#pragma once
#include <stdexcept>
#include <string>

namespace headscope {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& msg) : std::runtime_error(msg) {}
};

// A usage error: options that cannot go together or a value an option does not accept, found
// after parsing. The CLI prints it like any Error but exits with status 2, as for a parse error.
class UsageError : public Error {
 public:
  explicit UsageError(const std::string& msg) : Error(msg) {}
};

inline void usage_require(bool cond, const std::string& msg) {
  if (!cond) throw UsageError(msg);
}

// Throws Error(msg) unless cond holds. The message is an argument, so it is built even when
// cond holds: on hot paths write `if (!cond) throw Error(...)` when the message is assembled
// from parts (the const char* overload costs nothing).
inline void require(bool cond, const std::string& msg) {
  if (!cond) throw Error(msg);
}
inline void require(bool cond, const char* msg) {
  if (!cond) throw Error(msg);
}

}  // namespace headscope
