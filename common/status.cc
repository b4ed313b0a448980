#include "common/status.h"

namespace herald {

const char* errorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOk:
      return "ok";
    case ErrorCode::kBadRequest:
      return "bad_request";
    case ErrorCode::kUnauthorized:
      return "unauthorized";
    case ErrorCode::kPermissionDenied:
      return "permission_denied";
    case ErrorCode::kLimitExceeded:
      return "limit_exceeded";
    case ErrorCode::kRateLimited:
      return "rate_limited";
    case ErrorCode::kNotFound:
      return "not_found";
    case ErrorCode::kTooLarge:
      return "too_large";
    case ErrorCode::kInternal:
      return "internal";
    case ErrorCode::kAlreadyExists:
      return "already_exists";
    case ErrorCode::kConflict:
      return "conflict";
    case ErrorCode::kUnavailable:
      return "unavailable";
    case ErrorCode::kCancelled:
      return "cancelled";
  }
  return "internal";
}

ErrorCode errorCodeFromName(std::string_view name) {
  for (ErrorCode code :
       {ErrorCode::kOk, ErrorCode::kBadRequest, ErrorCode::kUnauthorized,
        ErrorCode::kPermissionDenied, ErrorCode::kLimitExceeded, ErrorCode::kRateLimited,
        ErrorCode::kNotFound, ErrorCode::kTooLarge, ErrorCode::kInternal, ErrorCode::kAlreadyExists,
        ErrorCode::kUnavailable, ErrorCode::kConflict, ErrorCode::kCancelled}) {
    if (name == errorCodeName(code)) {
      return code;
    }
  }
  return ErrorCode::kInternal;
}

}  // namespace herald
