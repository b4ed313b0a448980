#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace herald {

// Stable error codes shared by the client protocol and internal checks. The string form
// (see errorCodeName) is part of the public protocol: never rename one.
enum class ErrorCode {
  kOk = 0,
  kBadRequest,
  kUnauthorized,
  kPermissionDenied,
  kLimitExceeded,
  kRateLimited,
  kNotFound,
  kTooLarge,
  kInternal,
  // Control plane: mapped to gRPC codes. `unavailable` also reaches WebSocket clients (a
  // client publish the control plane could not take); the other two never do.
  kAlreadyExists,
  kUnavailable,
  kConflict,   // a concurrent change elsewhere won (gRPC ABORTED): retry
  kCancelled,  // the caller gave up (gRPC CANCELLED)
};

const char* errorCodeName(ErrorCode code);
// The code named `name` (errorCodeName's inverse); kInternal for an unknown name.
ErrorCode errorCodeFromName(std::string_view name);

// A small status value for hot paths, where exceptions are not used.
class Status {
 public:
  Status() = default;
  Status(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}
  static Status ok() { return Status(); }

  bool isOk() const { return code_ == ErrorCode::kOk; }
  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }

 private:
  ErrorCode code_ = ErrorCode::kOk;
  std::string message_;
};

// A value or the Status that explains its absence.
template <typename T>
class Result {
 public:
  Result(T value) : value_(std::move(value)) {}          // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {}  // NOLINT: implicit by design

  bool isOk() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  T& value() { return *value_; }
  const T& value() const { return *value_; }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace herald
