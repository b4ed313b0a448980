#pragma once

#include "common/status.h"
#include "herald/v1/control.pb.h"

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

}  // namespace herald::control
