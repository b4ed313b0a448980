#include "dataplane/session/client_session.h"

#include <algorithm>
#include <chrono>

#include "common/clock.h"
#include "dataplane/session/frame_builder.h"
#include "dataplane/session/hook_frames.h"
#include "dataplane/session/hook_ops.h"
#include "dataplane/shard/shard_state.h"
#include "dataplane/sse/sse_events.h"
#include "dataplane/transport/client_transport.h"
#include "dataplane/transport/upgrade_request.h"

namespace herald::node {

namespace {

// The token's `jti` (a string claim) is revoked (ControlService.RevokeToken) now.
bool isRevoked(const NodeSettings& settings, const TokenClaims& claims) {
  if (settings.revoked_until.empty()) {
    return false;
  }
  auto jti = claims.claims.find("jti");
  if (jti == claims.claims.end()) {
    return false;
  }
  // RFC 7519 makes jti a string; an integer one is matched by its decimal form.
  const std::string id = jti->is_string()           ? jti->get<std::string>()
                         : jti->is_number_integer() ? jti->dump()
                                                    : std::string();
  return !id.empty() && settings.tokenRevoked(id, unixSeconds());
}

// Rate-limited frames in a row before the connection is closed with 4029.
constexpr uint16_t kMaxRateViolations = 50;

}  // namespace

std::string ClientSession::clientId() const {
  return *shard_->node.node_id + "-" + std::to_string(shard_->index) + "-" +
         std::to_string(client_seq_);
}

void ClientSession::send(const std::string& text) { shard_->outbox.sendText(*this, text); }

void ClientSession::sendError(std::optional<uint64_t> id, const Status& status) {
  shard_->counters.protocol_errors.fetch_add(1, std::memory_order_relaxed);
  send(buildErrorFrame(id, status.code(), status.message()));
}

void ClientSession::close(uint16_t code, const std::string& reason) {
  reportClosing(code, reason);
  shard_->outbox.close(*this, code, reason);
}

void ClientSession::open(ClientTransport& transport, ShardState& shard, std::string ip) {
  transport_ = &transport;
  shard_ = &shard;
  ip_ = std::move(ip);
  open_ = true;
  client_seq_ = shard.next_seq++;
  opened_ms_ = steadyMillis();
  last_ping_ms = opened_ms_;
  if (shard.shutting_down) {
    // Let in before the shutdown began, opened after: it gets the same 1012.
    greeted_ = true;
    close(kCloseServiceRestart, "service restart");
    return;
  }
  ConnectQuery query = parseConnectQuery(transport.requestTarget());
  if (query.user_since) {
    pending_user_since_ = std::make_unique<StreamPosition>(std::move(*query.user_since));
  }
  user_since_invalid_ = query.user_since_invalid;
  readLastEventId(query);
  const std::optional<std::string> token = connectToken(query);
  if (token && !token->empty()) {
    auto claims = verifyToken(*token);
    if (!claims.isOk()) {
      sendError(std::nullopt, claims.status());
      close(kCloseUnauthorized, "invalid token");
      return;
    }
    if (!setIdentity(std::make_shared<const TokenClaims>(std::move(claims.value())))) {
      return;
    }
    if (askConnectHook(user_)) {
      return;  // with connect_always: greeted once the backend answers
    }
  } else if (askConnectHook(std::string())) {
    return;  // the backend says who this is (session_hooks.cc)
  } else if (!shard.settings->allow_anonymous) {
    // No token yet: the first frame must be `authenticate` (before the handshake deadline).
    return;
  }
  greet(std::nullopt);
}

// Applies `?subscribe=` and sends `connected`; called once the connection may proceed.
void ClientSession::greet(std::optional<uint64_t> id, std::vector<std::string> subscribed,
                          std::string info, std::string error_frame) {
  greeted_ = true;
  reportConnected();  // before `?subscribe=`: its subscriptions are reported after it
  const ConnectQuery query = parseConnectQuery(transport_->requestTarget());
  if (error_frame.empty() && query.subscribe && !query.subscribe->empty()) {
    std::vector<std::string> hooked;
    SubscribePlan plan;
    Status s = planSubscribe(*query.subscribe, nullptr, &hooked, &plan);
    if (s.isOk() && !hooked.empty()) {
      auto op = std::make_shared<SubscribeHookOp>();
      op->frame_id = id;
      op->greeting = true;
      op->channels = *query.subscribe;
      op->hooked = std::move(hooked);
      op->subscribed = std::move(subscribed);
      op->info = std::move(info);
      askSubscribeHooks(std::move(op));  // finishGreeting() once the backend answered
      return;
    }
    if (s.isOk()) {
      s = applySubscribe(&plan);
    }
    countRefusal(s);
    if (s.isOk()) {
      subscribed.insert(subscribed.end(), query.subscribe->begin(), query.subscribe->end());
    } else {
      shard_->counters.protocol_errors.fetch_add(1, std::memory_order_relaxed);
      error_frame = buildErrorFrame(std::nullopt, s.code(), s.message());
    }
  } else if (error_frame.empty() && query.subscribe_malformed) {
    shard_->counters.protocol_errors.fetch_add(1, std::memory_order_relaxed);
    error_frame =
        buildErrorFrame(std::nullopt, ErrorCode::kBadRequest, "subscribe: malformed %-escape");
  }
  finishGreeting(id, subscribed, info, error_frame);
}

void ClientSession::finishGreeting(std::optional<uint64_t> id,
                                   const std::vector<std::string>& subscribed,
                                   const std::string& info, const std::string& error_frame) {
  std::string connected = buildConnectedFrame(clientId(), *shard_->node.node_id, user_,
                                              shard_->ping_interval_ms / 1000, subscribed, id);
  send(info.empty() ? connected : withRawMember(std::move(connected), "info", info));
  if (!error_frame.empty()) {
    send(error_frame);
  }
  if (user_since_invalid_) {
    user_since_invalid_ = false;
    sendError(std::nullopt,
              Status(ErrorCode::kBadRequest,
                     "user_since: expected OFFSET or OFFSET:EPOCH (epoch up to 64 letters and "
                     "digits)"));
  }
  if (last_event_id_invalid_) {
    last_event_id_invalid_ = false;
    sendError(std::nullopt,
              Status(ErrorCode::kBadRequest,
                     "Last-Event-ID: expected one entry for the personal stream, then one per "
                     "channel of subscribe=, each empty or OFFSET:EPOCH, separated by ','"));
  }
  if (pending_since_) {
    const auto since = std::move(*pending_since_);
    pending_since_.reset();
    startRecoveries(since, subscribed);  // only what the greeting subscribed
  }
  startUserRecovery();
}

std::optional<std::string> ClientSession::connectToken(const ConnectQuery& query) const {
  if (query.token) {
    return query.token;
  }
  if (auto bearer = bearerToken(transport_->requestHeader("Authorization"))) {
    return bearer;
  }
  return transport_->cookieToken();
}

void ClientSession::readLastEventId(const ConnectQuery& query) {
  // The header wins: EventSource sends the newest id there when it reconnects to the URL that
  // still names the first one.
  std::string text = transport_->requestHeader("Last-Event-ID");
  if (text.empty() && query.last_event_id) {
    text = *query.last_event_id;
  }
  if (text.empty()) {
    return;
  }
  const size_t channels = query.subscribe ? query.subscribe->size() : 0;
  const auto entries = parseLastEventId(text, 1 + channels);
  if (!entries) {
    last_event_id_invalid_ = true;
    return;
  }
  for (size_t i = 0; i < entries->size(); ++i) {
    if ((*entries)[i].empty()) {
      continue;
    }
    StreamPosition position = *parseStreamPosition((*entries)[i]);
    if (i == 0) {  // newer than a user_since= in the same URL
      pending_user_since_ = std::make_unique<StreamPosition>(std::move(position));
      continue;
    }
    if (!pending_since_) {
      pending_since_ = std::make_unique<std::vector<std::pair<std::string, StreamPosition>>>();
    }
    const std::string& channel = (*query.subscribe)[i - 1];
    const bool repeated =
        std::any_of(pending_since_->begin(), pending_since_->end(),
                    [&channel](const auto& entry) { return entry.first == channel; });
    if (!repeated) {  // a channel named twice in subscribe= recovers once
      pending_since_->emplace_back(channel, std::move(position));
    }
  }
}

// The personal stream recovers once the connection has a user and asked with user_since.
void ClientSession::startUserRecovery() {
  if (!pending_user_since_ || user_.empty()) {
    return;
  }
  StreamPosition since = std::move(*pending_user_since_);
  pending_user_since_.reset();
  startRecovery(std::string(), std::move(since));
}

Result<TokenClaims> ClientSession::verifyToken(const std::string& token) {
  const auto& settings = *shard_->settings;
  const bool too_long = token.size() > kMaxTokenBytes;
  if (too_long) {
    shard_->counters.tokens_too_long.fetch_add(1, std::memory_order_relaxed);
  }
  Result<TokenClaims> claims =
      too_long ? Result<TokenClaims>(
                     Status(ErrorCode::kUnauthorized,
                            "token is longer than " + std::to_string(kMaxTokenBytes) + " bytes"))
      : settings.verifier ? settings.verifier->verify(token)
                          : Result<TokenClaims>(Status(ErrorCode::kUnauthorized,
                                                       "token authentication is not configured"));
  if (!claims.isOk()) {
    shard_->counters.auth_failures.fetch_add(1, std::memory_order_relaxed);
    if (!too_long) {
      shard_->counters.tokens_invalid.fetch_add(1, std::memory_order_relaxed);
    }
    const std::string& why = claims.status().message();
    if (shard_->node.jwks != nullptr &&
        (why.rfind("unknown key id", 0) == 0 || why.rfind("no key configured", 0) == 0 ||
         why == "token authentication is not configured")) {
      shard_->node.jwks->unknownKid();  // the key set may have rotated: fetch it soon
    }
    if (shard_->node.ip_limiter->recordAuthFailure(
            ip_, steadyMillis(), settings.limits.failed_auth_per_ip_per_minute())) {
      // This address guesses tokens: stop talking to it (new connections get 429 too).
      close(kCloseTooManyRequests, "too many failed authentications");
    }
    return claims;
  }
  // Signed and current, but revoked (RevokeToken): not a guess, so not counted per address.
  if (isRevoked(settings, claims.value())) {
    shard_->counters.auth_failures.fetch_add(1, std::memory_order_relaxed);
    return Status(ErrorCode::kUnauthorized, "token revoked");
  }
  return claims;
}

// Attaches a verified identity; a connection's user never changes once set. False (and the
// connection closing with 4030) when the user is at its cluster-wide connection limit.
bool ClientSession::setIdentity(std::shared_ptr<const TokenClaims> claims) {
  const auto& settings = *shard_->settings;
  if (user_.empty()) {
    if (const int64_t until = settings.userBlockedUntil(claims->subject, unixSeconds())) {
      shard_->counters.auth_failures.fetch_add(1, std::memory_order_relaxed);
      sendError(std::nullopt,
                Status(ErrorCode::kUnauthorized, "user is blocked until " + std::to_string(until)));
      close(kCloseUserBlocked, "user blocked");
      return false;
    }
  }
  if (user_.empty() && shard_->node.blocked_users->contains(claims->subject)) {
    shard_->counters.refused_user_limit.fetch_add(1, std::memory_order_relaxed);
    sendError(std::nullopt, Status(ErrorCode::kLimitExceeded,
                                   "user has max_connections_per_user (" +
                                       std::to_string(settings.limits.max_connections_per_user()) +
                                       ") connections open across the cluster"));
    close(kCloseUserLimit, "too many connections for this user");
    return false;
  }
  // The same leeway as at verification: a token accepted late must not expire at once.
  expires_at_ = claims->expires_at == 0 ? 0 : claims->expires_at + settings.leeway_seconds;
  refresh_declined_ = false;  // a new expiry: the refresh hook may be asked about it
  if (user_.empty()) {
    user_ = claims->subject;
    shard_->node.interest->userConnections(user_, +1);
    reportIdentified();  // after the interest change, as every addition (ClientEventLog)
    auto& list = shard_->users[user_];
    list.push_back(this);
    if (list.size() == 1) {
      shard_->counters.users.fetch_add(1, std::memory_order_relaxed);
      shard_->node.interest->userAdded(user_);
    }
  }
  claims_ = std::move(claims);
  return true;
}

// First token on a waiting or anonymous connection, or a refresh before expiry.
// False when the token was refused.
bool ClientSession::authenticate(std::optional<uint64_t> id, const std::string& token) {
  auto claims = verifyToken(token);
  if (!claims.isOk()) {
    sendError(id, claims.status());
    return false;
  }
  if (!user_.empty() && claims->subject != user_) {
    sendError(id, Status(ErrorCode::kPermissionDenied,
                         "token is for another user than this connection's"));
    return false;
  }
  if (!setIdentity(std::make_shared<const TokenClaims>(std::move(claims.value())))) {
    return false;
  }
  if (!greeted_) {
    greet(id);
  } else {
    send(buildReplyFrame(id, {}));
    startUserRecovery();
  }
  return true;
}

// The inbound rate: over it, an error per frame and, after too many in a row, 4029.
bool ClientSession::rateLimited(const std::string& payload) {
  const auto& limits = shard_->settings->limits;
  if (bucket_.take(steadyMillis(), limits.client_messages_per_minute(),
                   limits.client_message_burst())) {
    rate_violations_ = 0;
    return false;
  }
  shard_->counters.rate_limited.fetch_add(1, std::memory_order_relaxed);
  if (++rate_violations_ >= kMaxRateViolations) {
    close(kCloseTooManyRequests, "too many messages");
    return true;
  }
  sendError(peekFrameId(payload),
            Status(ErrorCode::kRateLimited,
                   "at most " + std::to_string(limits.client_messages_per_minute()) +
                       " messages per minute (burst " +
                       std::to_string(limits.client_message_burst()) + ")"));
  return true;
}

void ClientSession::onFrame(const std::string& payload, bool text) {
  shard_->counters.messages_in.fetch_add(1, std::memory_order_relaxed);
  shard_->counters.bytes_in.fetch_add(payload.size(), std::memory_order_relaxed);
  if (rateLimited(payload)) {
    return;
  }
  if (!text) {
    sendError(std::nullopt,
              Status(ErrorCode::kBadRequest, "binary frames are not supported: send JSON text"));
    return;
  }
  if (waiting_for_backend_) {
    // Nothing skips the backend's answer, and nothing is answered before `connected`.
    sendError(peekFrameId(payload),
              Status(ErrorCode::kBadRequest,
                     "wait for the `connected` frame: the server is asking the application's "
                     "backend about this connection"));
    return;
  }
  ParsedFrame parsed =
      parseClientFrame(payload, greeted_ ? FrameScope::kAny : FrameScope::kAuthenticateOnly);
  if (!parsed.status.isOk()) {
    if (parsed.too_deep) {
      shard_->counters.json_too_deep.fetch_add(1, std::memory_order_relaxed);
    }
    sendError(parsed.id, parsed.status);
    return;
  }
  handle(parsed);
}

// One valid frame, by type (docs/protocol.md "Client frames").
void ClientSession::handle(const ParsedFrame& parsed) {
  const ClientCommand& cmd = parsed.command;
  switch (cmd.type) {
    case CommandType::kPing:
      send(buildPongFrame(parsed.id));
      break;
    case CommandType::kSubscribe:
      subscribeFrame(parsed.id, cmd);
      break;
    case CommandType::kUnsubscribe:
      unsubscribe(cmd.channels);
      send(buildReplyFrame(parsed.id, cmd.channels));
      break;
    case CommandType::kPublish:
      publish(parsed.id, cmd);
      break;
    case CommandType::kRpc:
      rpc(*parsed.id, cmd);
      break;
    case CommandType::kAuthenticate: {
      // The frame's position replaces the URL's for this attempt only.
      std::unique_ptr<StreamPosition> previous;
      if (cmd.user_since && user_.empty()) {
        previous = std::move(pending_user_since_);
        pending_user_since_ = std::make_unique<StreamPosition>(*cmd.user_since);
      }
      if (!authenticate(parsed.id, cmd.token) && user_.empty() && cmd.user_since) {
        pending_user_since_ = std::move(previous);
      }
      break;
    }
  }
}

void ClientSession::onSettingsChanged() {
  transport_->setInboundLimit(shard_->settings->limits.max_inbound_frame_bytes());
  // Bans that came with the config end the connections they name (those the Disconnect that
  // set a block reached are closed already, with the code it was given).
  if (claims_ != nullptr && transport_->isOpen() && isRevoked(*shard_->settings, *claims_)) {
    close(kCloseTokenRevoked, "token revoked");
    return;
  }
  if (!user_.empty() && transport_->isOpen()) {
    if (const int64_t until = shard_->settings->userBlockedUntil(user_, unixSeconds())) {
      sendError(std::nullopt,
                Status(ErrorCode::kUnauthorized, "user is blocked until " + std::to_string(until)));
      close(kCloseUserBlocked, "user blocked");
      return;
    }
  }
  if (!greeted_ && !waiting_for_backend_ && shard_->settings->allow_anonymous) {
    greet(std::nullopt);  // anonymous access was just turned on
  }
}

uint16_t ClientSession::deadlinePassed(int64_t now_unix_s, int64_t now_ms,
                                       uint32_t auth_timeout_ms) const {
  if (expires_at_ != 0 && expires_at_ <= now_unix_s) {
    return kCloseTokenExpired;
  }
  if (!greeted_ && now_ms - opened_ms_ >= auth_timeout_ms) {
    return kCloseUnauthorized;
  }
  return 0;
}

void ClientSession::closeForDeadline(uint16_t code) {
  if (!transport_->isOpen()) {
    return;
  }
  expires_at_ = 0;
  greeted_ = true;  // closed once, not again on the next sweep
  if (code == kCloseTokenExpired) {
    shard_->counters.tokens_expired.fetch_add(1, std::memory_order_relaxed);
    close(code, "token expired");
  } else {
    shard_->counters.auth_timeouts.fetch_add(1, std::memory_order_relaxed);
    close(code, "authentication required");
  }
}

void ClientSession::closed(uint16_t code, const std::string& reason) {
  open_ = false;
  reportClosed(code, reason);
  for (const auto& recovery : recovering_) {
    shard_->recoveries.erase(recovery->requestId());
  }
  recovering_.clear();
  if (publishes_in_flight_ > 0) {
    shard_->publishes.forget(this);
    publishes_in_flight_ = 0;
  }
  if (rpcs_in_flight_ > 0) {
    shard_->rpcs.forget(this);  // their answers find no one
    rpcs_in_flight_ = 0;
  }
  if (hook_calls_ > 0) {
    shard_->hook_calls.forget(this);
    hook_calls_ = 0;
  }
  shard_->outbox.forget(*this);
  for (const auto& channel : channels_) {
    reportJoinLeave(channel, false);
    shard_->node.subscribers->remove(channel);
    leaveIndex(channel);
  }
  shapes_.reset();
  recovered_marks_ = 0;
  shard_->counters.subscriptions.fetch_sub(channels_.size(), std::memory_order_relaxed);
  channels_.clear();
  if (!user_.empty()) {
    shard_->node.interest->userConnections(user_, -1);
    leaveUser();
  }
}

void ClientSession::leaveUser() {
  auto it = shard_->users.find(user_);
  if (it == shard_->users.end()) {
    return;
  }
  auto& list = it->second;
  list.erase(std::remove(list.begin(), list.end(), this), list.end());
  if (list.empty()) {
    shard_->users.erase(it);
    shard_->counters.users.fetch_sub(1, std::memory_order_relaxed);
    shard_->node.interest->userRemoved(user_);
  }
}

}  // namespace herald::node
