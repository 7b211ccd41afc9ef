// marl_rec — the library's exception type.
#pragma once

#include <stdexcept>
#include <string>
#include <type_traits>

namespace marl_rec {

/// Every error marl_rec reports is a marl_rec::Error (a std::runtime_error): the message names
/// what was wrong and where (function, argument, file and line where one exists).
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {
/// Throws Error when `condition` is false. `message` is a string, or a callable returning one
/// (so that a message with numbers in it is only built on failure).
template <class Message>
inline void require(bool condition, Message&& message) {
  if (condition) return;
  if constexpr (std::is_invocable_v<Message>) {
    throw Error(std::string(message()));
  } else {
    throw Error(std::string(message));
  }
}
}  // namespace detail

}  // namespace marl_rec
