#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/jwt_verifier.h"
#include "common/rate_limiter.h"
#include "common/status.h"
#include "common/tag_filter.h"
#include "dataplane/fanout/delivery.h"
#include "dataplane/fanout/outbound_queue.h"
#include "dataplane/session/client_protocol.h"
#include "dataplane/session/stream_recovery.h"
#include "herald/v1/hooks.pb.h"

namespace herald::node {

class ClientTransport;
struct ConnectQuery;
struct ShardState;
struct SubscribeHookOp;

// Close codes of docs/protocol.md that a session decides.
constexpr uint16_t kCloseUnauthorized = 4001;
constexpr uint16_t kCloseTokenExpired = 4002;
constexpr uint16_t kCloseTooManyRequests = 4029;
constexpr uint16_t kCloseUserLimit = 4030;
constexpr uint16_t kClosePingTimeout = 4015;
constexpr uint16_t kCloseServiceRestart = 1012;
constexpr uint16_t kCloseTokenRevoked = 4004;  // its jti was revoked (RevokeToken)
constexpr uint16_t kCloseUserBlocked = 4005;   // Disconnect with block_until

/**
 * The protocol of one client (docs/protocol.md): greeting, authentication and token refresh,
 * subscribe/unsubscribe with permissions and limits, ping, client publish, recovery with
 * `since`, and the reasons it is closed. Transport-agnostic: it writes through the shard's
 * Outbox to its ClientTransport, so it is unit-tested with a mock transport
 * (tests/dataplane/session/client_session_test.cc).
 *
 * Lives inside its connection (one allocation per client) and is touched only on its
 * shard's thread. Its behaviour is spread by area: client_session.cc (open, frames,
 * authentication, deadlines, close), session_subscriptions.cc, session_recovery.cc,
 * session_publish.cc, session_rpc.cc, session_hooks.cc (the backend's hooks) and
 * session_server_control.cc (the server's Subscribe/Unsubscribe/Refresh, client events).
 */
class ClientSession {
 public:
  ClientSession() = default;
  ClientSession(const ClientSession&) = delete;
  ClientSession& operator=(const ClientSession&) = delete;

  // ---- client_session.cc
  // The connection is up: registers with the shard, authenticates a `?token=`, greets.
  void open(ClientTransport& transport, ShardState& shard, std::string ip);
  // One frame from the client.
  void onFrame(const std::string& payload, bool text);
  // New settings reached the shard: new frame limit; anonymous access may greet the waiting.
  void onSettingsChanged();
  // Token expiry and the authentication deadline, checked by the shard's sweep each second:
  // the close code of the deadline that passed (kCloseTokenExpired, kCloseUnauthorized), or 0.
  uint16_t deadlinePassed(int64_t now_unix_s, int64_t now_ms, uint32_t auth_timeout_ms) const;
  void closeForDeadline(uint16_t code);
  // Closes after what is queued (code and reason reach the client).
  void close(uint16_t code, const std::string& reason);
  // The transport is gone (with this close code and reason): leaves every index of the
  // shard. Last call on this session.
  void closed(uint16_t code = 1006, const std::string& reason = std::string());

  // ---- session_subscriptions.cc
  // All-or-nothing: a list with one bad channel subscribes to none of them. `fresh` gets the
  // channels this call added (not those already subscribed). Channels in `approved` are not
  // checked against their namespace's rule (the backend chose or allowed them); a channel
  // under the hook rule that is not is refused. `shape` applies to the fresh channels;
  // `strict_shape` (a client's frame) refuses a held channel asked with another shape.
  Status subscribe(const std::vector<std::string>& channels, std::vector<std::string>* accepted,
                   std::vector<std::string>* fresh = nullptr,
                   const std::vector<std::string>* approved = nullptr,
                   const SubscriptionShape& shape = {}, bool strict_shape = false);
  void unsubscribe(const std::vector<std::string>& channels);

  // ---- session_hooks.cc
  // The answers of the backend's hooks for this session (docs/hooks.md).
  void onSubscribeHooks(const SubscribeHookOp& op);
  void onConnectHook(Result<herald::v1::ConnectHookReply> reply);
  void onRefreshHook(int64_t asked_for, Result<herald::v1::RefreshHookReply> reply);
  // Asks the refresh hook when the expiry is near (the shard's sweep, once a second).
  void refreshIfDue(int64_t now_unix_s);

  // ---- session_server_control.cc
  // ControlService.Subscribe / Unsubscribe / Refresh for this connection (docs/api.md).
  void serverSubscribe(const std::string& channel, const StreamPosition* since);
  void serverUnsubscribe(const std::string& channel);
  void serverRefresh(int64_t expire_at);

  // ---- session_recovery.cc
  // Starts recovering a channel this session is subscribed to (empty: its personal stream).
  void startRecovery(std::string channel, StreamPosition since);
  // A page of history for one of this session's recoveries.
  void onRecoveryPage(const herald::v1::RecoverResponse& page);
  // A live delivery for a stream being recovered: `frame` (its frame for this session) is held
  // until the history is out (true).
  bool holdForRecovery(const std::string* channel, const Delivery& delivery, const FramePtr& frame);
  bool recovering() const { return !recovering_.empty(); }
  // The outbox drained: recoveries paced to the client ask for their next page.
  void resumeRecoveries();
  // The NodeLink started a new session: requests in flight on the old one may be lost, so
  // every recovery waiting for a page asks for it again under a new request id.
  void reissueRecoveries();
  // A filtered or conflated group's frame of `d` that this session must not get: at or below
  // where its recovery of the channel ended (a publication the group held back meanwhile).
  bool recoveredPast(const std::string& channel, const Delivery& d) {
    return recovered_marks_ != 0 && checkRecoveredPast(channel, d);
  }
  // Forgets a channel's recovery (it was unsubscribed): its pages, if they still come, find
  // no one, and no `recovery` frame is sent.
  void dropRecovery(const std::string& channel);
  // A recovery past its deadline reports recovered:false ("timeout").
  bool recoveryOverdue(uint64_t request_id, int64_t now_ms);
  void failRecovery(uint64_t request_id, const std::string& reason);

  // ---- session_publish.cc
  void onPublishResult(const herald::v1::ClientPublishResult& result,
                       std::optional<uint64_t> frame_id);
  void onPublishTimeout(std::optional<uint64_t> frame_id);

  // ---- session_rpc.cc
  // The backend's answer to one of this session's `rpc` frames (its `id`).
  void onRpcReply(uint64_t frame_id, const Result<herald::v1::RpcHookReply>& reply);

  // ---- read by the shard, the fan-out and the outbox
  ClientTransport& transport() const { return *transport_; }
  bool isOpen() const { return open_; }
  bool greeted() const { return greeted_; }
  // Opened without a token it must have, waiting for an `authenticate` frame (which an SSE
  // stream or a POST cannot send).
  bool awaitingAuthenticate() const { return open_ && !greeted_ && !waiting_for_backend_; }
  const std::string& user() const { return user_; }
  std::string clientId() const;
  const std::vector<std::string>& channels() const { return channels_; }
  // The peer's address, noted by the transport when it admits the client (before open()).
  void setPeerAddress(std::string ip) { ip_ = std::move(ip); }
  const std::string& peerAddress() const { return ip_; }

  // Frames the transport could not take yet; allocated only while the client lags behind.
  // Owned by the shard's Outbox.
  std::unique_ptr<OutboundQueue<FramePtr>> backlog;
  uint32_t shard_slot = UINT32_MAX;  // position in ShardState::sessions
  int64_t last_ping_ms = 0;          // steady clock, last keepalive (the shard's sweep)

 private:
  using Recovery = StreamRecovery<FramePtr>;

  // Sends `connected` (once `?subscribe=` is settled, which may wait for the subscribe hook):
  // `subscribed` and `info` from the connect hook; `error_frame` (if any) after it.
  void greet(std::optional<uint64_t> id, std::vector<std::string> subscribed = {},
             std::string info = {}, std::string error_frame = {});
  void finishGreeting(std::optional<uint64_t> id, const std::vector<std::string>& subscribed,
                      const std::string& info, const std::string& error_frame);
  void startUserRecovery();
  // The token of `?token=`, else of `Authorization: Bearer`, else of the herald_token cookie
  // (where the transport takes one: ClientTransport::cookieToken).
  std::optional<std::string> connectToken(const ConnectQuery& query) const;
  // Reads a Last-Event-ID (header or ?last_event_id=) into the recoveries due once greeted.
  void readLastEventId(const ConnectQuery& query);
  // ---- session_server_control.cc: what herald-control's client events hear of.
  void reportConnected();
  void reportSubscription(const std::string& channel, bool added);
  // A join or leave of a channel whose namespace has join_leave, for its other subscribers.
  void reportJoinLeave(const std::string& channel, bool joined);
  void reportClosed(uint16_t code, const std::string& reason);
  void reportIdentified();
  void reportClosing(uint16_t code, const std::string& reason);
  Result<TokenClaims> verifyToken(const std::string& token);
  bool setIdentity(std::shared_ptr<const TokenClaims> claims);
  bool authenticate(std::optional<uint64_t> id, const std::string& token);
  void handle(const ParsedFrame& parsed);
  void send(const std::string& text);
  void sendError(std::optional<uint64_t> id, const Status& status);
  bool rateLimited(const std::string& payload);
  void leaveUser();
  struct SubscribePlan {
    std::vector<std::string> fresh;  // not yet held
    std::vector<uint32_t> caps;      // each fresh channel's namespace max_subscribers
    SubscriptionShape shape;         // as asked, for the fresh channels
    bool strict_shape = false;       // a held channel with another shape is refused (frames)
    std::vector<uint32_t> conflate;  // each fresh channel's namespace pace (conflation.h)
  };
  // Checks names, rules (channels under the hook rule go to `hooked`, when given) and limits.
  Status planSubscribe(const std::vector<std::string>& channels,
                       const std::vector<std::string>* approved, std::vector<std::string>* hooked,
                       SubscribePlan* plan);
  Status applySubscribe(SubscribePlan* plan);
  void countRefusal(const Status& s);
  void subscribeFrame(std::optional<uint64_t> frame_id, const ClientCommand& cmd);
  void startRecoveries(const std::vector<std::pair<std::string, StreamPosition>>& since,
                       const std::vector<std::string>& fresh);
  herald::v1::HookCaller hookCaller() const;
  uint64_t trackHookCall();
  void askSubscribeHooks(std::shared_ptr<SubscribeHookOp> op);
  // True when the connect hook was asked (the greeting waits for its answer).
  bool askConnectHook(const std::string& token_user);
  void publish(std::optional<uint64_t> frame_id, const ClientCommand& cmd);
  void forwardPublish(std::optional<uint64_t> frame_id, herald::v1::ClientPublish request);
  // True when the channel's namespace has a publish hook, which was asked.
  bool askPublishHook(std::optional<uint64_t> frame_id, const herald::v1::ClientPublish& request);
  // `tracked`: the answer of a call made (false: refused before asking).
  void onPublishHook(std::optional<uint64_t> frame_id, herald::v1::ClientPublish request,
                     Result<herald::v1::PublishHookReply> reply, bool tracked);
  void rpc(uint64_t frame_id, const ClientCommand& cmd);
  Status checkPublish(const std::string& channel) const;
  Recovery* findRecovery(uint64_t request_id);
  // The filter and conflation of a subscribed channel; plain (the usual case) when none.
  SubscriptionShape shapeFor(const std::string& channel) const;
  bool checkRecoveredPast(const std::string& channel, const Delivery& d);
  // Leaves the shard's index for `channel` (its shape forgotten).
  void leaveIndex(const std::string& channel);
  void requestNextPage(Recovery* recovery);
  bool applyRecoveryStep(Recovery* recovery, Recovery::Step& step);

  // Laid out to pack: this object is inside every connection (see docs/benchmarks.md).
  ClientTransport* transport_ = nullptr;
  ShardState* shard_ = nullptr;
  uint64_t client_seq_ = 0;
  int64_t opened_ms_ = 0;                      // steady clock, for the authentication deadline
  int64_t expires_at_ = 0;                     // token `exp` (Unix seconds); 0 = none
  std::string user_;                           // empty: anonymous
  std::shared_ptr<const TokenClaims> claims_;  // null: anonymous
  std::vector<std::string> channels_;          // subscribed, small (limit 50 by default)
  // Subscribed channels with a filter or conflation; allocated only for a connection that has
  // one.
  struct ShapedChannel {
    std::string channel;
    SubscriptionShape shape;
    // Where its last recovery left the client: a group's held-back publication at or below
    // it (same epoch) is not sent after the `recovery` frame.
    uint64_t recovered_upto = 0;
    std::string recovered_epoch;
  };
  std::unique_ptr<std::vector<ShapedChannel>> shapes_;
  uint32_t recovered_marks_ = 0;  // entries of shapes_ with recovered_upto set
  std::string ip_;                // remote address (fits the small-string buffer for IPv4)
  TokenBucket bucket_;            // inbound message rate
  // Streams being recovered (usually none: an empty vector allocates nothing).
  std::vector<std::unique_ptr<Recovery>> recovering_;
  // Until the user stream can recover; rare, so kept out of line.
  std::unique_ptr<StreamPosition> pending_user_since_;
  // Channels of `?subscribe=` to recover once greeted (a Last-Event-ID); rare, out of line.
  std::unique_ptr<std::vector<std::pair<std::string, StreamPosition>>> pending_since_;
  uint16_t rate_violations_ = 0;      // rate-limited frames in a row
  uint16_t publishes_in_flight_ = 0;  // client publications waiting for the control plane
  uint16_t rpcs_in_flight_ = 0;       // rpc frames waiting for the backend
  uint16_t hook_calls_ = 0;           // connect/subscribe/publish/refresh hook answers due
  uint8_t subscribe_calls_ = 0;       // channels the subscribe hook is being asked about
  uint8_t publish_calls_ = 0;         // publications the publish hook is being asked about
  bool refreshing_ = false;           // the refresh hook was asked
  bool refresh_declined_ = false;     // ...and would not extend this expiry
  bool waiting_for_backend_ = false;  // connect hook or greeting subscriptions undecided
  bool open_ = false;
  bool greeted_ = false;                // `connected` sent; false while waiting for a token
  bool user_since_invalid_ = false;     // reported after `connected`
  bool last_event_id_invalid_ = false;  // reported after `connected`
  bool reported_ = false;               // in the node's ClientEventLog (client events on)
};

}  // namespace herald::node
