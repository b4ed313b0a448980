// ClientSession: what the backend's hooks decide for a connection (docs/hooks.md): who it is
// (connect), which channels under the `hook` rule it may read (subscribe), and how long it
// may stay (refresh). Each call leaves the shard's thread; its answer is posted back and finds
// the session by request id, so a session that closed meanwhile is never touched.
#include <algorithm>

#include "common/channel_name.h"
#include "common/clock.h"
#include "dataplane/session/client_session.h"
#include "dataplane/session/hook_frames.h"
#include "dataplane/session/hook_ops.h"
#include "dataplane/shard/shard_state.h"
#include "dataplane/transport/client_transport.h"

namespace herald::node {

namespace {

// Hook calls of one connection out at once, per hook: a connection cannot take every call
// slot of a node by itself (docs/hooks.md "Trust").
constexpr uint8_t kMaxSubscribeCalls = 16;
constexpr uint8_t kMaxPublishCalls = 16;
// How long before its expiry a connection's refresh hook is asked.
constexpr int64_t kRefreshAheadSeconds = 15;
// Close codes the hooks decide (docs/protocol.md "Close codes").
constexpr uint16_t kCloseConnectRefused = 4003;
constexpr uint16_t kCloseTryAgainLater = 1013;

// Runs `then` on the shard's thread with the hook's answer, if the session that asked (by
// request id) is still there.
template <typename Reply, typename Then>
HookDone<Reply> backOnShard(ShardState* shard, uint64_t id, Then then) {
  return [shard, id, then = std::move(then)](Result<Reply> r) {
    auto answer = std::make_shared<Result<Reply>>(std::move(r));
    shard->post([shard, id, then, answer] {
      if (auto entry = shard->hook_calls.take(id)) {
        then(*entry->con, std::move(*answer));
      }
    });
  };
}

// The URL's query string without its `token` (the backend gets what the client chose to
// say, not its credentials).
std::string queryWithoutToken(const std::string& target) {
  const size_t mark = target.find('?');
  if (mark == std::string::npos) {
    return {};
  }
  std::string out;
  size_t start = mark + 1;
  while (start <= target.size()) {
    size_t end = target.find('&', start);
    if (end == std::string::npos) {
      end = target.size();
    }
    const std::string_view part(target.data() + start, end - start);
    if (!part.empty() && part.substr(0, 6) != "token=" && part != "token") {
      if (!out.empty()) {
        out += '&';
      }
      out.append(part);
    }
    start = end + 1;
  }
  return out;
}

// A hook's failure as the client sees it: the endpoint a namespace names may be missing on
// this node (its config is older or newer): that is the backend being unavailable too.
Status failureSeenByClient(const Status& s, const std::string& what) {
  const ErrorCode code = s.code() == ErrorCode::kNotFound ? ErrorCode::kUnavailable : s.code();
  return Status(code, what + ": " + s.message());
}

}  // namespace

herald::v1::HookCaller ClientSession::hookCaller() const {
  herald::v1::HookCaller caller;
  caller.set_user(user_);
  caller.set_client(clientId());
  caller.set_node(*shard_->node.node_id);
  caller.set_ip(ip_);
  return caller;
}

uint64_t ClientSession::trackHookCall() {
  const uint64_t id = shard_->nextPublishId();  // one id space for the shard's requests
  ++hook_calls_;
  shard_->hook_calls.add(id, {this, std::nullopt, 0, steadyMicros()});
  return id;
}

// ---------------------------------------------------------------- subscribe

void ClientSession::askSubscribeHooks(std::shared_ptr<SubscribeHookOp> op) {
  if (subscribe_calls_ + op->hooked.size() > kMaxSubscribeCalls) {
    const Status busy(ErrorCode::kLimitExceeded,
                      "the backend would be asked about more than " +
                          std::to_string(kMaxSubscribeCalls) +
                          " channels of this connection at once; wait for the replies");
    countRefusal(busy);
    if (op->greeting) {
      shard_->counters.protocol_errors.fetch_add(1, std::memory_order_relaxed);
      finishGreeting(op->frame_id, op->subscribed, op->info,
                     buildErrorFrame(std::nullopt, busy.code(), busy.message()));
    } else {
      sendError(op->frame_id, busy);
    }
    return;
  }
  subscribe_calls_ += static_cast<uint8_t>(op->hooked.size());
  if (op->greeting) {
    waiting_for_backend_ = true;  // no frame is taken until `connected` is out
  }
  const uint64_t id = trackHookCall();
  op->answers.resize(op->hooked.size());
  op->waiting = op->hooked.size();
  const herald::v1::HookCaller caller = hookCaller();
  for (size_t i = 0; i < op->hooked.size(); ++i) {
    // The answers come one by one; the op (not the session) counts them, so answers for a
    // session that closed are simply dropped.
    ShardState* shard = shard_;
    auto done = [shard, id, op, i](Result<herald::v1::SubscribeHookReply> r) {
      auto answer = std::make_shared<Result<herald::v1::SubscribeHookReply>>(std::move(r));
      shard->post([shard, id, op, i, answer] {
        op->answers[i] = std::move(*answer);
        if (--op->waiting == 0) {
          if (auto entry = shard->hook_calls.take(id)) {
            entry->con->onSubscribeHooks(*op);
          }
        }
      });
    };
    if (shard_->node.hooks == nullptr) {
      done(Status(ErrorCode::kNotFound, "this server has no hooks"));
      continue;
    }
    auto name = checkChannelName(op->hooked[i]);
    const auto& ns = shard_->settings->namespaceFor(name.isOk() ? name->ns : std::string_view());
    herald::v1::SubscribeHookRequest request;
    *request.mutable_caller() = caller;
    request.set_channel(op->hooked[i]);
    shard_->node.hooks->subscribe(ns.subscribe_hook(), std::move(request), std::move(done));
  }
}

void ClientSession::onSubscribeHooks(const SubscribeHookOp& op) {
  subscribe_calls_ -= static_cast<uint8_t>(op.hooked.size());
  --hook_calls_;
  // A greeting's refusals answer no frame: the `connected` frame carries its id.
  const std::optional<uint64_t> refusal_id = op.greeting ? std::nullopt : op.frame_id;
  std::string refusal;  // the error frame that answers the frame instead, if any
  for (size_t i = 0; i < op.hooked.size() && refusal.empty(); ++i) {
    const auto& answer = *op.answers[i];
    if (!answer.isOk()) {
      const Status s = failureSeenByClient(answer.status(),
                                           "channel '" + op.hooked[i] + "': the subscribe hook");
      countRefusal(s);
      shard_->counters.protocol_errors.fetch_add(1, std::memory_order_relaxed);
      refusal = buildErrorFrame(refusal_id, s.code(), s.message());
    } else if (answer->has_error()) {
      countRefusal(Status(ErrorCode::kPermissionDenied, ""));
      shard_->counters.protocol_errors.fetch_add(1, std::memory_order_relaxed);
      refusal = buildHookRefusalFrame(refusal_id, ErrorCode::kPermissionDenied, op.hooked[i],
                                      answer->error());
    }
  }
  std::vector<std::string> fresh;
  if (refusal.empty()) {
    std::vector<std::string> accepted;
    Status s = subscribe(op.channels, &accepted, &fresh, &op.hooked, op.shape,
                         /*strict_shape=*/!op.greeting);
    if (!s.isOk()) {
      shard_->counters.protocol_errors.fetch_add(1, std::memory_order_relaxed);
      refusal = buildErrorFrame(refusal_id, s.code(), s.message());
    }
  }
  if (op.greeting) {
    waiting_for_backend_ = false;
    std::vector<std::string> subscribed = op.subscribed;
    if (refusal.empty()) {
      subscribed.insert(subscribed.end(), op.channels.begin(), op.channels.end());
    }
    finishGreeting(op.frame_id, subscribed, op.info, refusal);
    return;
  }
  if (!refusal.empty()) {
    send(refusal);
    return;
  }
  std::vector<std::pair<std::string, std::string>> infos;
  for (size_t i = 0; i < op.hooked.size(); ++i) {
    if (!(*op.answers[i])->info().empty()) {
      infos.emplace_back(op.hooked[i], (*op.answers[i])->info());
    }
  }
  send(buildSubscribeReplyFrame(op.frame_id, op.channels, infos));
  startRecoveries(op.since, fresh);
}

// ---------------------------------------------------------------- connect

bool ClientSession::askConnectHook(const std::string& token_user) {
  if (shard_->node.hooks == nullptr) {
    return false;
  }
  const ConnectHookPlan plan = shard_->node.hooks->connectPlan();
  if (!plan.configured || (!token_user.empty() && !plan.always)) {
    return false;
  }
  herald::v1::ConnectHookRequest request;
  request.set_client(clientId());
  request.set_node(*shard_->node.node_id);
  request.set_ip(ip_);
  request.set_query(queryWithoutToken(transport_->requestTarget()));
  request.set_user(token_user);
  for (const auto& header : plan.headers) {
    std::string value = transport_->requestHeader(header);
    if (!value.empty()) {
      auto* added = request.add_headers();
      added->set_name(header);
      added->set_value(std::move(value));
    }
  }
  const uint64_t id = trackHookCall();
  waiting_for_backend_ = true;  // no frame (not even `authenticate`) skips the answer
  shard_->node.hooks->connect(
      std::move(request),
      backOnShard<herald::v1::ConnectHookReply>(
          shard_, id, [](ClientSession& session, Result<herald::v1::ConnectHookReply> reply) {
            session.onConnectHook(std::move(reply));
          }));
  return true;
}

void ClientSession::onConnectHook(Result<herald::v1::ConnectHookReply> reply) {
  --hook_calls_;
  waiting_for_backend_ = false;
  if (greeted_ || !transport_->isOpen()) {
    return;  // closed by the handshake deadline meanwhile, or closing
  }
  if (!reply.isOk()) {
    shard_->counters.auth_failures.fetch_add(1, std::memory_order_relaxed);
    greeted_ = true;  // closed once, not again by the handshake deadline
    sendError(std::nullopt, failureSeenByClient(reply.status(), "the connect hook"));
    close(kCloseTryAgainLater, "backend unavailable");
    return;
  }
  if (reply->has_error()) {
    shard_->counters.auth_failures.fetch_add(1, std::memory_order_relaxed);
    greeted_ = true;
    shard_->counters.protocol_errors.fetch_add(1, std::memory_order_relaxed);
    send(buildHookRefusalFrame(std::nullopt, ErrorCode::kUnauthorized, std::string(),
                               reply->error()));
    close(kCloseConnectRefused, "connect refused");
    return;
  }
  if (user_.empty() && !reply->user().empty()) {
    auto claims = std::make_shared<TokenClaims>();
    claims->subject = reply->user();
    if (!setIdentity(std::move(claims))) {
      return;
    }
  }
  if (reply->expire_at() != 0) {
    // The backend's word, over a token's and without the tokens' leeway; anonymous too.
    expires_at_ = reply->expire_at();
    refresh_declined_ = false;
  }
  reportConnected();  // before the backend's channels: they are reported after it
  std::vector<std::string> subscribed;
  std::string refusal;
  if (reply->channels_size() > 0) {
    const std::vector<std::string> channels(reply->channels().begin(), reply->channels().end());
    std::vector<std::string> accepted;
    // The backend chose them: no rule is asked, the limits still hold.
    Status s = subscribe(channels, &accepted, nullptr, &channels);
    if (s.isOk()) {
      subscribed = std::move(accepted);
    } else {
      shard_->counters.protocol_errors.fetch_add(1, std::memory_order_relaxed);
      refusal =
          buildErrorFrame(std::nullopt, s.code(), "the connect hook's channels: " + s.message());
    }
  }
  greet(std::nullopt, std::move(subscribed), reply->info(), std::move(refusal));
}

// ---------------------------------------------------------------- publish

bool ClientSession::askPublishHook(std::optional<uint64_t> frame_id,
                                   const herald::v1::ClientPublish& publication) {
  if (shard_->node.hooks == nullptr) {
    return false;
  }
  auto name = checkChannelName(publication.channel());
  if (!name.isOk()) {
    return false;  // checked before: not reached
  }
  const auto& ns = shard_->settings->namespaceFor(name->ns);
  if (ns.publish_hook().empty()) {
    return false;
  }
  if (publish_calls_ >= kMaxPublishCalls) {
    onPublishHook(frame_id, publication,
                  Status(ErrorCode::kLimitExceeded,
                         "more than " + std::to_string(kMaxPublishCalls) +
                             " publications of this connection are with the backend; wait for "
                             "their replies"),
                  /*tracked=*/false);
    return true;
  }
  ++publish_calls_;
  herald::v1::PublishHookRequest request;
  *request.mutable_caller() = hookCaller();
  request.set_channel(publication.channel());
  request.set_data(publication.data().empty() ? std::string("null") : publication.data());
  *request.mutable_tags() = publication.tags();
  const uint64_t id = trackHookCall();
  shard_->node.hooks->publish(
      ns.publish_hook(), std::move(request),
      backOnShard<herald::v1::PublishHookReply>(
          shard_, id,
          [frame_id, publication](ClientSession& session,
                                  Result<herald::v1::PublishHookReply> reply) {
            session.onPublishHook(frame_id, publication, std::move(reply), true);
          }));
  return true;
}

void ClientSession::onPublishHook(std::optional<uint64_t> frame_id,
                                  herald::v1::ClientPublish publication,
                                  Result<herald::v1::PublishHookReply> reply, bool tracked) {
  if (tracked) {
    --hook_calls_;
    --publish_calls_;
  }
  if (!reply.isOk() || reply->has_error()) {
    --publishes_in_flight_;
    shard_->counters.publish_denied.fetch_add(1, std::memory_order_relaxed);
    if (!reply.isOk()) {
      sendError(frame_id, failureSeenByClient(reply.status(), "the publish hook"));
    } else {
      shard_->counters.protocol_errors.fetch_add(1, std::memory_order_relaxed);
      send(buildHookRefusalFrame(frame_id, ErrorCode::kPermissionDenied, publication.channel(),
                                 reply->error()));
    }
    return;
  }
  if (!reply->data().empty()) {
    publication.set_data(reply->data());  // the backend's version replaces the client's
  }
  forwardPublish(frame_id, std::move(publication));
}

// ---------------------------------------------------------------- refresh

void ClientSession::refreshIfDue(int64_t now_unix_s) {
  if (expires_at_ == 0 || refreshing_ || refresh_declined_ ||
      expires_at_ - now_unix_s > kRefreshAheadSeconds || shard_->node.hooks == nullptr ||
      !transport_->isOpen() || !shard_->node.hooks->hasRefresh()) {
    return;
  }
  refreshing_ = true;
  herald::v1::RefreshHookRequest request;
  *request.mutable_caller() = hookCaller();
  request.set_expire_at(expires_at_);
  const uint64_t id = trackHookCall();
  shard_->node.hooks->refresh(
      std::move(request),
      backOnShard<herald::v1::RefreshHookReply>(
          shard_, id,
          [asked_for = expires_at_](ClientSession& session,
                                    Result<herald::v1::RefreshHookReply> reply) {
            session.onRefreshHook(asked_for, std::move(reply));
          }));
}

void ClientSession::onRefreshHook(int64_t asked_for, Result<herald::v1::RefreshHookReply> reply) {
  --hook_calls_;
  refreshing_ = false;
  if (expires_at_ != asked_for) {
    return;  // a new token changed the expiry meanwhile: this answer is about the old one
  }
  if (!reply.isOk() || reply->has_error() ||
      (reply->expire_at() != 0 && reply->expire_at() <= unixSeconds())) {
    refresh_declined_ = true;  // the connection ends at its expiry (4002)
    return;
  }
  expires_at_ = reply->expire_at();
}

}  // namespace herald::node
