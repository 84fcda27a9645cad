// expect_error: the one assertion every suite uses for "this fails with ofa::Error of that kind,
// and the message names these things" (file, key, rank, ...).
#pragma once
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/error.h"

namespace ofa::testing {

/// Runs fn, expects ofa::Error of `kind` whose message contains every piece of `parts`.
template <class Fn>
void expect_error(Fn&& fn, ErrorKind kind, const std::vector<std::string>& parts) {
  try {
    fn();
    ADD_FAILURE() << "expected an ofa::Error";
  } catch (const Error& e) {
    EXPECT_EQ(int(e.kind()), int(kind)) << e.what();
    for (const std::string& p : parts)
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << "'" << p << "' not in: " << e.what();
  }
}

}  // namespace ofa::testing
