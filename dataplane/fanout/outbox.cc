#include "dataplane/fanout/outbox.h"

#include <algorithm>

#include "dataplane/session/client_limits.h"
#include "dataplane/session/client_session.h"
#include "dataplane/transport/client_transport.h"

namespace herald::node {

namespace {

// Most bytes handed to the transport (and the kernel behind it) per connection; beyond it
// frames wait in the connection's own bounded queue, where the slow-consumer policy applies.
constexpr size_t kSocketWindowBytes = 256 * 1024;

}  // namespace

Outbox::Outbox(const NodeSettingsPtr& settings, ShardCounters& counters,
               std::function<void()> arm_flush)
    : settings_(settings), counters_(counters), arm_flush_(std::move(arm_flush)) {}

size_t Outbox::socketWindow() const {
  return std::min<size_t>(kSocketWindowBytes, settings_->limits.outbound_queue_bytes());
}

bool Outbox::dropsOldest(const std::string* channel) const {
  auto policy = herald::v1::SLOW_CONSUMER_POLICY_UNSPECIFIED;
  if (channel != nullptr) {
    policy = settings_->namespaceFor(namespaceOf(*channel)).slow_consumer_policy();
  }
  if (policy == herald::v1::SLOW_CONSUMER_POLICY_UNSPECIFIED) {
    policy = settings_->limits.slow_consumer_policy();
  }
  return policy != herald::v1::SLOW_CONSUMER_POLICY_DISCONNECT;
}

// The fast path: straight to the transport while the client keeps up.
void Outbox::send(ClientSession& session, const FramePtr& frame, bool drop_oldest, uint32_t count) {
  ClientTransport& transport = session.transport();
  if (!transport.isOpen()) {
    return;  // closing: neither a delivery nor another slow-consumer close
  }
  if (!session.backlog && transport.bufferedBytes() < socketWindow()) {
    if (const size_t written = transport.writeFrame(frame); written > 0) {
      counters_.messages_out.fetch_add(count, std::memory_order_relaxed);
      counters_.bytes_out.fetch_add(written, std::memory_order_relaxed);
    }
    return;
  }
  enqueue(session, frame, drop_oldest, false, count);
}

void Outbox::sendText(ClientSession& session, const std::string& text) {
  ClientTransport& transport = session.transport();
  if (session.backlog || transport.bufferedBytes() >= socketWindow()) {
    enqueue(session, prepareTextFrame(text), true, /*kept=*/true, 1);
    return;
  }
  counters_.bytes_out.fetch_add(transport.writeText(text), std::memory_order_relaxed);
}

void Outbox::enqueue(ClientSession& session, const FramePtr& frame, bool drop_oldest, bool kept,
                     uint32_t count) {
  if (!session.backlog) {
    session.backlog = std::make_unique<OutboundQueue<FramePtr>>();
    backlogged_.push_back(&session);
    counters_.backlogged_connections.fetch_add(1, std::memory_order_relaxed);
    arm_flush_();
  }
  auto& queue = *session.backlog;
  const auto& limits = settings_->limits;
  const size_t bytes = frameBytes(*frame);
  const uint64_t dropped_before = queue.dropped();
  const size_t bytes_before = queue.bytes();
  const auto result = queue.push(frame, bytes, limits.outbound_queue_messages(),
                                 limits.outbound_queue_bytes(), drop_oldest, kept, count);
  countQueued(bytes_before, queue.bytes());
  if (result == OutboundQueue<FramePtr>::PushResult::kOverflow) {
    counters_.slow_consumers_closed.fetch_add(1, std::memory_order_relaxed);
    clear(session);  // cut off: what it did not read is not sent
    close(session, kCloseSlowConsumer, "slow consumer: outbound queue full");
  } else if (result == OutboundQueue<FramePtr>::PushResult::kDropped) {
    counters_.messages_dropped.fetch_add(queue.dropped() - dropped_before,
                                         std::memory_order_relaxed);
  }
}

void Outbox::flushOne(ClientSession& session, bool everything) {
  auto& queue = *session.backlog;
  ClientTransport& transport = session.transport();
  const size_t window = socketWindow();
  const size_t bytes_before = queue.bytes();
  while (!queue.empty() && (everything || transport.bufferedBytes() < window)) {
    auto entry = queue.pop();
    if (const size_t written = transport.writeFrame(entry.frame); written > 0) {
      counters_.bytes_out.fetch_add(written, std::memory_order_relaxed);
      if (!entry.kept) {
        counters_.messages_out.fetch_add(entry.count, std::memory_order_relaxed);
      }
    }
  }
  countQueued(bytes_before, queue.bytes());
}

bool Outbox::flush() {
  for (size_t i = 0; i < backlogged_.size();) {
    ClientSession& session = *backlogged_[i];
    if (session.transport().isOpen()) {
      flushOne(session, false);
    } else {
      clear(session);
    }
    if (session.backlog->empty()) {
      forget(session);  // swaps the last entry into i
      session.resumeRecoveries();
    } else {
      ++i;
    }
  }
  return !backlogged_.empty();
}

void Outbox::close(ClientSession& session, uint16_t code, const std::string& reason) {
  ClientTransport& transport = session.transport();
  if (session.backlog && code != kCloseSlowConsumer && transport.isOpen()) {
    flushOne(session, true);  // what was queued goes out before the close frame
  }
  if (transport.isOpen()) {
    auto& counter = code >= 4000 && code < 4100 ? counters_.server_closes_4xxx[code - 4000]
                                                : counters_.server_closes_other;
    counter.fetch_add(1, std::memory_order_relaxed);
  }
  transport.closeWith(code, reason);
}

void Outbox::forget(ClientSession& session) {
  if (!session.backlog) {
    return;
  }
  auto it = std::find(backlogged_.begin(), backlogged_.end(), &session);
  if (it != backlogged_.end()) {
    *it = backlogged_.back();
    backlogged_.pop_back();
    counters_.backlogged_connections.fetch_sub(1, std::memory_order_relaxed);
  }
  clear(session);
  session.backlog.reset();
}

void Outbox::clear(ClientSession& session) {
  countQueued(session.backlog->bytes(), 0);
  session.backlog->clear();
}

// Keeps the /stats gauge of queued bytes in step with the queues.
void Outbox::countQueued(size_t before, size_t after) {
  if (after >= before) {
    counters_.outbound_queued_bytes.fetch_add(after - before, std::memory_order_relaxed);
  } else {
    counters_.outbound_queued_bytes.fetch_sub(before - after, std::memory_order_relaxed);
  }
}

}  // namespace herald::node
