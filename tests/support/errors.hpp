// Test helper: the message of the marl_rec::Error a call throws.
#pragma once

#include <string>

#include "marl_rec/core/error.hpp"

namespace marl_rec::test {

/// The message of the Error that `f` throws ("no error" when it throws none).
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace marl_rec::test
