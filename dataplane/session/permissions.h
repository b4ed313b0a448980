#pragma once

#include <string>

#include "common/channel_name.h"
#include "common/jwt_verifier.h"
#include "common/status.h"
#include "herald/v1/control.pb.h"

namespace herald::node {

/**
 * Whether a connection may subscribe to a channel under its namespace's rule:
 *   public        anyone;
 *   authenticated any connection with a verified token;
 *   owner         the part after ':' equals the token subject, or the namespace's owner_claim
 *                 (compared without case when both look like hex addresses, "0x...");
 *   granted       the token's `channels` claim lists the channel, or a pattern "prefix*".
 * `claims` is null for anonymous connections.
 */
Status checkSubscribe(const herald::v1::Namespace& ns, const ChannelName& name,
                      const std::string& channel, const TokenClaims* claims);

// "0xAbC" and "0xabc" are the same address; anything else compares exactly.
bool sameOwner(const std::string& a, const std::string& b);

}  // namespace herald::node
