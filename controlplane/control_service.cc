// ControlService: the mapping of internal errors to gRPC codes and the API key check every
// handler makes first. The handlers are in control_service_*.cc, by API area.
#include "controlplane/control_service.h"

#include <optional>
#include <string>

namespace herald::control {
namespace {

using grpc::StatusCode;

}  // namespace

grpc::Status toGrpc(const Status& status) {
  switch (status.code()) {
    case ErrorCode::kOk:
      return grpc::Status::OK;
    case ErrorCode::kBadRequest:
    case ErrorCode::kTooLarge:
      return grpc::Status(StatusCode::INVALID_ARGUMENT, status.message());
    case ErrorCode::kUnauthorized:
      return grpc::Status(StatusCode::UNAUTHENTICATED, status.message());
    case ErrorCode::kPermissionDenied:
      return grpc::Status(StatusCode::PERMISSION_DENIED, status.message());
    case ErrorCode::kLimitExceeded:
    case ErrorCode::kRateLimited:
      return grpc::Status(StatusCode::RESOURCE_EXHAUSTED, status.message());
    case ErrorCode::kNotFound:
      return grpc::Status(StatusCode::NOT_FOUND, status.message());
    case ErrorCode::kAlreadyExists:
      return grpc::Status(StatusCode::ALREADY_EXISTS, status.message());
    case ErrorCode::kUnavailable:
      return grpc::Status(StatusCode::UNAVAILABLE, status.message());
    case ErrorCode::kConflict:
      return grpc::Status(StatusCode::ABORTED, status.message());
    case ErrorCode::kCancelled:
      return grpc::Status(StatusCode::CANCELLED, status.message());
    case ErrorCode::kInternal:
      break;
  }
  return grpc::Status(StatusCode::INTERNAL, status.message());
}

grpc::Status ControlService::authorize(Ctx* ctx, Need need, const char* rpc) const {
  const auto& md = ctx->client_metadata();
  auto it = md.find("authorization");
  std::optional<herald::v1::ApiKeyRole> role;
  if (it != md.end()) {
    const std::string value(it->second.data(), it->second.size());
    constexpr char kBearer[] = "Bearer ";
    if (value.rfind(kBearer, 0) == 0) {
      role = keys_.roleOf(value.substr(sizeof(kBearer) - 1));
    }
  }
  if (!role) {
    return grpc::Status(StatusCode::UNAUTHENTICATED,
                        "missing or unknown API key: send metadata 'authorization: Bearer <key>' "
                        "(heraldctl: --api-key or HERALD_API_KEY)");
  }
  const bool ok = *role == herald::v1::API_KEY_ROLE_ADMIN ||
                  (need == Need::kPublisher && *role == herald::v1::API_KEY_ROLE_PUBLISHER) ||
                  (need == Need::kReader && *role == herald::v1::API_KEY_ROLE_READER);
  if (!ok) {
    return grpc::Status(
        StatusCode::PERMISSION_DENIED,
        std::string("an API key with role ") + roleName(*role) + " may not call " + rpc);
  }
  return grpc::Status::OK;
}

}  // namespace herald::control
