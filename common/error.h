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
