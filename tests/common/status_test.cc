#include "common/status.h"

#include <gtest/gtest.h>

namespace herald {
namespace {

TEST(StatusTest, ErrorCodeNamesRoundTrip) {
  for (ErrorCode code :
       {ErrorCode::kBadRequest, ErrorCode::kUnauthorized, ErrorCode::kPermissionDenied,
        ErrorCode::kLimitExceeded, ErrorCode::kRateLimited, ErrorCode::kNotFound,
        ErrorCode::kTooLarge, ErrorCode::kInternal, ErrorCode::kAlreadyExists,
        ErrorCode::kUnavailable, ErrorCode::kConflict}) {
    EXPECT_EQ(errorCodeFromName(errorCodeName(code)), code) << errorCodeName(code);
  }
  EXPECT_EQ(errorCodeFromName("no_such_code"), ErrorCode::kInternal);
}

}  // namespace
}  // namespace herald
