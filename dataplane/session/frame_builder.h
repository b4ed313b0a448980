#pragma once

#include <string>

#include "herald/v1/node_link.pb.h"

namespace herald::node {

// Serialises a delivered publication into the client `message` frame, once per publication
// per node; every recipient then gets the same bytes. `data` is embedded verbatim: the control
// plane only accepts valid JSON.
std::string buildMessageFrame(const herald::v1::Deliver& deliver);

// `{"type":"subscribed"|"unsubscribed","channel":…}`: the server (ControlService.Subscribe or
// Unsubscribe) changed this connection's subscriptions.
std::string buildServerSubscriptionFrame(const std::string& channel, bool subscribed);

// `{"type":"join"|"leave","channel":…,"node":…,"clients":[{"client":…,"user":…},…],
// "unlisted":N}` (docs/protocol.md "join and leave"): the joined (or left) entries of `change`;
// `unlisted` only when some were not listed; a leave of a lost node says `"all":true`. Empty
// when there is nothing of that kind.
std::string buildJoinLeaveFrame(const herald::v1::JoinLeave& change, bool join);

// Appends `text` as a JSON string literal (quotes included), escaping as RFC 8259 requires.
void appendJsonString(std::string* out, const std::string& text);

}  // namespace herald::node
