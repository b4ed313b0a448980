#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "herald/v1/control.pb.h"

namespace herald::node {

// The per-client limits a node enforces at upgrade and subscribe time (docs/security.md
// "Abuse limits"), as plain functions of the limits pushed by the control plane.

// Whether an upgrade whose Origin header is `origin` may proceed: any origin when
// allowed_origins is empty, else an exact match (no Origin header = "" = refused).
bool originAllowed(const herald::v1::Limits& limits, const std::string& origin);

// Whether the node takes another connection while `open` are open (max_connections_per_node).
bool nodeHasRoom(const herald::v1::Limits& limits, uint64_t open);

// Whether a connection holding `held` may add `fresh` (new, distinct channels):
// max_subscriptions_per_connection over all, max_subscriptions_per_namespace per namespace.
Status checkSubscriptionLimits(const herald::v1::Limits& limits,
                               const std::vector<std::string>& held,
                               const std::vector<std::string>& fresh);

// "ns" of "ns:rest"; "" for a bare channel name.
std::string_view namespaceOf(std::string_view channel);

}  // namespace herald::node
