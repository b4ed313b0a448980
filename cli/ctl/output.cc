#include "cli/ctl/output.h"

#include <cstdio>
#include <ctime>
#include <map>

#include <google/protobuf/util/json_util.h>

namespace herald::ctl {

std::string toJson(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  (void)google::protobuf::util::MessageToJsonString(m, &out, options);
  return out;
}

int fail(const std::string& what, const grpc::Status& status, const Options& o) {
  static const std::map<int, const char*> kNames = {
      {1, "CANCELLED"},           {2, "UNKNOWN"},
      {3, "INVALID_ARGUMENT"},    {4, "DEADLINE_EXCEEDED"},
      {5, "NOT_FOUND"},           {6, "ALREADY_EXISTS"},
      {7, "PERMISSION_DENIED"},   {8, "RESOURCE_EXHAUSTED"},
      {9, "FAILED_PRECONDITION"}, {12, "UNIMPLEMENTED"},
      {13, "INTERNAL"},           {14, "UNAVAILABLE"},
      {16, "UNAUTHENTICATED"}};
  auto it = kNames.find(status.error_code());
  std::fprintf(stderr, "heraldctl: %s failed: %s: %s\n", what.c_str(),
               it == kNames.end() ? "ERROR" : it->second, status.error_message().c_str());
  if (status.error_code() == grpc::StatusCode::UNAUTHENTICATED && o.api_key.empty()) {
    std::fprintf(stderr,
                 "heraldctl: no API key given (--api-key, HERALD_API_KEY, --api-key-file or "
                 "HERALD_API_KEY_FILE)\n");
  } else if (status.error_code() == grpc::StatusCode::UNAUTHENTICATED &&
             !o.api_key_read_from.empty()) {
    std::fprintf(stderr, "heraldctl: the key in %s was refused (from another data directory?)\n",
                 o.api_key_read_from.c_str());
  }
  // herald-control's own dependencies (Redis) also answer UNAVAILABLE, with their name first.
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE &&
      status.error_message().rfind("redis", 0) != 0) {
    std::fprintf(stderr,
                 "heraldctl: is herald-control running at %s? (--control or "
                 "HERALD_CONTROL)\n",
                 o.control.c_str());
  }
  return 1;
}

const char* healthName(herald::v1::NodeHealth h) {
  switch (h) {
    case herald::v1::NODE_HEALTH_HEALTHY:
      return "healthy";
    case herald::v1::NODE_HEALTH_UNHEALTHY:
      return "unhealthy";
    case herald::v1::NODE_HEALTH_DRAINING:
      return "draining";
    default:
      return "unknown";
  }
}

const char* policyName(herald::v1::SlowConsumerPolicy p) {
  switch (p) {
    case herald::v1::SLOW_CONSUMER_POLICY_DROP:
      return "drop";
    case herald::v1::SLOW_CONSUMER_POLICY_DISCONNECT:
      return "disconnect";
    default:
      return "inherit";
  }
}

std::optional<herald::v1::SlowConsumerPolicy> parsePolicy(const std::string& text) {
  if (text == "drop") {
    return herald::v1::SLOW_CONSUMER_POLICY_DROP;
  }
  if (text == "disconnect") {
    return herald::v1::SLOW_CONSUMER_POLICY_DISCONNECT;
  }
  if (text == "inherit") {
    return herald::v1::SLOW_CONSUMER_POLICY_UNSPECIFIED;
  }
  return std::nullopt;
}

std::string formatTime(int64_t unix_ms) {
  const std::time_t seconds = static_cast<std::time_t>(unix_ms / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &utc);
  char out[48];
  std::snprintf(out, sizeof(out), "%s.%03dZ", buf, static_cast<int>(unix_ms % 1000));
  return out;
}

}  // namespace herald::ctl
