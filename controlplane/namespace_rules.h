#pragma once

#include "common/status.h"
#include "herald/v1/control.pb.h"

namespace herald::control {

// Checks one namespace definition (name syntax, rule values, owner_claim only with OWNER).
Status validateNamespace(const herald::v1::Namespace& ns);

// Checks limits a node could not apply (zero means "default" and is always fine).
Status validateLimits(const herald::v1::Limits& limits);

// Fills zero limits with the documented defaults (docs/operations.md).
herald::v1::Limits withLimitDefaults(const herald::v1::Limits& limits);

// Subscribe rule names as used in config files and heraldctl: public, authenticated, owner,
// granted. Returns false for anything else.
bool parseSubscribeRule(const std::string& text, herald::v1::SubscribeRule* out);
const char* subscribeRuleName(herald::v1::SubscribeRule rule);

}  // namespace herald::control
