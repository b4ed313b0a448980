#pragma once

#include "common/status.h"
#include "controlplane/channel_history.h"
#include "herald/v1/control.pb.h"
#include "herald/v1/node_link.pb.h"

namespace herald::control {

// Checks one namespace definition (name syntax, rule values, owner_claim only with OWNER).
Status validateNamespace(const herald::v1::Namespace& ns);

// Checks limits a node could not apply (zero means "default" and is always fine).
Status validateLimits(const herald::v1::Limits& limits);

// Checks client-auth settings: every key parses for its algorithm, kids are unique.
Status validateAuthSettings(const herald::v1::AuthSettings& auth);

// A copy fit to show: secrets replaced by "<redacted>" (public keys are kept).
herald::v1::AuthSettings redactAuthSettings(const herald::v1::AuthSettings& auth);

// Fills zero limits with the documented defaults (docs/operations.md).
herald::v1::Limits withLimitDefaults(const herald::v1::Limits& limits);

// Subscribe rule names as used in config files and heraldctl: public, authenticated, owner,
// granted. Returns false for anything else.
bool parseSubscribeRule(const std::string& text, herald::v1::SubscribeRule* out);
const char* subscribeRuleName(herald::v1::SubscribeRule rule);
// The settings of namespace `ns`, else of the default namespace (empty name), else null.
const herald::v1::Namespace* namespaceFor(const herald::v1::ConfigSnapshot& config,
                                          std::string_view ns);
// The history kept for channels of namespace `ns` (falling back to the default namespace).
HistoryPolicy historyPolicyFor(const herald::v1::ConfigSnapshot& config, std::string_view ns);
// The history kept for each user's personal stream.
HistoryPolicy userHistoryPolicy(const herald::v1::Limits& limits);

// "drop" / "disconnect" (the names heraldctl and config files use).
bool parseSlowConsumerPolicy(const std::string& text, herald::v1::SlowConsumerPolicy* out);
const char* slowConsumerPolicyName(herald::v1::SlowConsumerPolicy policy);

}  // namespace herald::control
