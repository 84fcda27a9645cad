// Error kinds: each kind's exit code (cli/ maps them), and what the checking macros throw.
#include <gtest/gtest.h>

#include "core/error.h"
#include "support/expect_error.h"

namespace ofa {
namespace {

using testing::expect_error;

TEST(Error, KindsAreTheExitCodes) {
  EXPECT_EQ(int(ErrorKind::kInternal), 1);
  EXPECT_EQ(int(ErrorKind::kUsage), 2);
  EXPECT_EQ(int(ErrorKind::kData), 3);
  EXPECT_EQ(int(ErrorKind::kIo), 4);
  EXPECT_EQ(int(ErrorKind::kPreempted), 75);
}

TEST(Error, MacrosThrowTheirKindWithTheStreamedMessage) {
  const int x = 3;
  expect_error([&] { OFA_CHECK(x == 4, "x must be 4, got ", x); }, ErrorKind::kUsage, {"x must be 4, got 3"});
  expect_error([&] { OFA_CHECK_KIND(kIo, x == 4, "/some/file", ": full"); }, ErrorKind::kIo, {"/some/file: full"});
  expect_error([&] { OFA_ASSERT(x == 4, "why"); }, ErrorKind::kInternal, {"test_error.cpp", "x == 4", "why"});
  expect_error([&] { fail(ErrorKind::kData, "bad ", 1.5); }, ErrorKind::kData, {"bad 1.5"});
  EXPECT_NO_THROW(OFA_CHECK(x == 3, "unused"));
}

}  // namespace
}  // namespace ofa
