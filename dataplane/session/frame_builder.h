#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "herald/v1/node_link.pb.h"

namespace herald::node {

// Serialises a delivered publication into the client `message` frame, once per publication
// per node; every recipient then gets the same bytes. `data` is embedded verbatim: the control
// plane only accepts valid JSON.
std::string buildMessageFrame(const herald::v1::Deliver& deliver);

// A `message` frame (as buildMessageFrame made it) for a filtered or conflated subscription:
// with `"prev":N`, the offset of the last earlier publication sent to it (0: unknown), so the
// client tells filtered or conflated offsets from lost ones; and, when `conflated` >= 0,
// `"conflated":K`, how many publications this one replaced (docs/protocol.md "Conflation").
std::string withPrev(std::string_view message_frame, uint64_t prev, int64_t conflated = -1);

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
