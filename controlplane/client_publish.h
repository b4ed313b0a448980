#pragma once

#include "controlplane/config_store.h"
#include "controlplane/stream_engine.h"
#include "herald/v1/node_link.pb.h"

namespace herald::control {

// The idempotency key stored for a client's `key`: scoped to its user, or, for an anonymous
// sender, to its connection. Never equal to a backendIdempotencyKey().
std::string clientIdempotencyKey(const std::string& user, const std::string& client,
                                 const std::string& key);
// The idempotency key stored for a Control API publish ("" stays "": no key).
std::string backendIdempotencyKey(const std::string& key);

// The answer refusing client publication `request_id` with `code` (sent as its name).
herald::v1::ClientPublishResult refusedClientPublish(uint64_t request_id, ErrorCode code,
                                                     const std::string& message);

/**
 * Publishes what a node's client sent in a `publish` frame, under the same rules as the
 * Control API's Publish: the namespace must allow client publish (checked again here, as the
 * node's config may be older), the data must be JSON, the event and key short. The
 * publication records who sent it. Idempotency keys are scoped to the sender's user (its
 * connection when anonymous), so one client cannot claim a key a backend or another user
 * relies on. Failures of the stream store reach the client as `unavailable`, without detail.
 */
herald::v1::ClientPublishResult publishForClient(const ConfigStore& store, StreamEngine& engine,
                                                 const herald::v1::ClientPublish& request);

}  // namespace herald::control
