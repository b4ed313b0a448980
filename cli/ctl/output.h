#pragma once

// How heraldctl shows answers and failures: JSON, the names of enums, times.

#include <cstdint>
#include <optional>
#include <string>

#include <google/protobuf/message.h>
#include <grpcpp/grpcpp.h>

#include "cli/ctl/options.h"
#include "herald/v1/control.pb.h"

namespace herald::ctl {

// The message as JSON (field names as in control.proto), for --json.
std::string toJson(const google::protobuf::Message& m);

// Reports a failed call on stderr, with a hint for a missing key or an unreachable control
// plane; returns the exit code 1.
int fail(const std::string& what, const grpc::Status& status, const Options& o);

const char* healthName(herald::v1::NodeHealth h);
const char* policyName(herald::v1::SlowConsumerPolicy p);
// drop, disconnect or inherit (UNSPECIFIED); nullopt for anything else.
std::optional<herald::v1::SlowConsumerPolicy> parsePolicy(const std::string& text);

// 2026-01-02T03:04:05.678Z
std::string formatTime(int64_t unix_ms);

}  // namespace herald::ctl
