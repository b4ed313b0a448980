#pragma once
// The names of gRPC status codes and the HTTP status each maps to in the HTTP API
// (docs/api.md "HTTP API"): one table for /metrics labels, HTTP error bodies and tests.
#include <string_view>

#include <grpcpp/support/status_code_enum.h>

namespace herald::control {

// "OK", "INVALID_ARGUMENT", ...; "UNKNOWN" for a value outside gRPC's 0..16.
std::string_view grpcCodeName(grpc::StatusCode code);

// 200, 400, 401, 403, 404, 409, 429, 499, 500, 501, 503, 504.
int httpStatusFor(grpc::StatusCode code);

}  // namespace herald::control
