#include "controlplane/grpc_codes.h"

#include <array>

namespace herald::control {
namespace {

struct CodeInfo {
  std::string_view name;
  int http_status;
};

// Indexed by the code's value. The HTTP statuses follow google.rpc's mapping (what grpc-gateway
// and Google's JSON APIs answer), so a client that knows one knows ours.
constexpr std::array<CodeInfo, 17> kCodes = {{
    {"OK", 200},
    {"CANCELLED", 499},
    {"UNKNOWN", 500},
    {"INVALID_ARGUMENT", 400},
    {"DEADLINE_EXCEEDED", 504},
    {"NOT_FOUND", 404},
    {"ALREADY_EXISTS", 409},
    {"PERMISSION_DENIED", 403},
    {"RESOURCE_EXHAUSTED", 429},
    {"FAILED_PRECONDITION", 400},
    {"ABORTED", 409},
    {"OUT_OF_RANGE", 400},
    {"UNIMPLEMENTED", 501},
    {"INTERNAL", 500},
    {"UNAVAILABLE", 503},
    {"DATA_LOSS", 500},
    {"UNAUTHENTICATED", 401},
}};

const CodeInfo& info(grpc::StatusCode code) {
  const auto i = static_cast<size_t>(code);
  return i < kCodes.size() ? kCodes[i] : kCodes[grpc::StatusCode::UNKNOWN];
}

}  // namespace

std::string_view grpcCodeName(grpc::StatusCode code) { return info(code).name; }

int httpStatusFor(grpc::StatusCode code) { return info(code).http_status; }

}  // namespace herald::control
