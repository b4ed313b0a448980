// ClientSession: recovery with `since` (docs/protocol.md "Recovery"). History pages come from
// herald-control through the ControlUplink, paced to the client; live frames of the stream
// are held meanwhile and released after the history, each offset once (StreamRecovery).
#include <algorithm>

#include "common/clock.h"
#include "common/conflation.h"
#include "dataplane/session/client_session.h"
#include "dataplane/session/frame_builder.h"
#include "dataplane/shard/shard_state.h"
#include "dataplane/transport/client_transport.h"

namespace herald::node {

namespace {

// A recovery that has not finished by then reports recovered:false ("timeout").
constexpr int64_t kRecoveryTimeoutMs = 10000;

}  // namespace

void ClientSession::startRecovery(std::string channel, StreamPosition since) {
  const uint64_t id = shard_->nextRecoveryId();
  std::string user = channel.empty() ? user_ : std::string();
  const auto& limits = shard_->settings->limits;
  auto owned = std::make_unique<Recovery>(id, std::move(channel), std::move(user), std::move(since),
                                          steadyMillis() + kRecoveryTimeoutMs,
                                          limits.outbound_queue_messages());
  Recovery* recovery = owned.get();
  if (!recovery->isUserStream()) {
    SubscriptionShape shape = shapeFor(recovery->channel());
    if (!shape.plain()) {
      // Conflated: only the latest; smoothed: everything, paced only when live.
      recovery->setShape(std::move(shape.filter), isConflation(shape.conflate_ms));
    }
  }
  recovery->setPageSize(std::max<uint32_t>(limits.outbound_queue_bytes() / 2, 1),
                        std::max<uint32_t>(limits.outbound_queue_messages() / 2, 1));
  recovering_.push_back(std::move(owned));
  shard_->recoveries[id] = this;
  if (!shard_->node.uplink || !shard_->node.uplink->recover(recovery->nextRequest())) {
    auto failed = recovery->fail("unavailable");
    applyRecoveryStep(recovery, failed);
  }
}

ClientSession::Recovery* ClientSession::findRecovery(uint64_t request_id) {
  for (auto& r : recovering_) {
    if (r->requestId() == request_id) {
      return r.get();
    }
  }
  return nullptr;
}

void ClientSession::onRecoveryPage(const herald::v1::RecoverResponse& page) {
  Recovery* recovery = findRecovery(page.request_id());
  if (recovery == nullptr) {
    return;
  }
  auto step = recovery->onPage(page);
  if (applyRecoveryStep(recovery, step)) {
    return;
  }
  recovery->extendDeadline(steadyMillis() + kRecoveryTimeoutMs);
  if (backlog) {
    // Pace the history to the client: the next page once this one has left the queue.
    recovery->setWaitingForDrain(true);
    return;
  }
  requestNextPage(recovery);
}

void ClientSession::requestNextPage(Recovery* recovery) {
  recovery->setWaitingForDrain(false);
  if (!shard_->node.uplink || !shard_->node.uplink->recover(recovery->nextRequest())) {
    auto failed = recovery->fail("unavailable");
    applyRecoveryStep(recovery, failed);
  }
}

void ClientSession::resumeRecoveries() {
  std::vector<Recovery*> waiting;
  for (auto& r : recovering_) {
    if (r->waitingForDrain()) {
      waiting.push_back(r.get());
    }
  }
  for (auto* r : waiting) {
    if (transport_->isOpen()) {
      requestNextPage(r);
    }
  }
}

void ClientSession::reissueRecoveries() {
  std::vector<Recovery*> in_flight;
  for (auto& r : recovering_) {
    if (!r->waitingForDrain()) {  // one waiting for the drain has no request out
      in_flight.push_back(r.get());
    }
  }
  for (auto* r : in_flight) {
    shard_->recoveries.erase(r->requestId());
    r->setRequestId(shard_->nextRecoveryId());
    shard_->recoveries[r->requestId()] = this;
    requestNextPage(r);
  }
}

bool ClientSession::holdForRecovery(const std::string* channel, const Delivery& delivery,
                                    const FramePtr& frame) {
  for (auto& r : recovering_) {
    const bool match = channel == nullptr ? r->isUserStream() : r->channel() == *channel;
    if (match) {
      if (!r->hold(delivery.offset, frame)) {
        shard_->counters.messages_dropped.fetch_add(1, std::memory_order_relaxed);
      }
      return true;
    }
  }
  return false;
}

void ClientSession::dropRecovery(const std::string& channel) {
  for (auto it = recovering_.begin(); it != recovering_.end();) {
    if (!(*it)->isUserStream() && (*it)->channel() == channel) {
      shard_->recoveries.erase((*it)->requestId());
      it = recovering_.erase(it);
    } else {
      ++it;
    }
  }
}

bool ClientSession::recoveryOverdue(uint64_t request_id, int64_t now_ms) {
  Recovery* r = findRecovery(request_id);
  return r != nullptr && r->deadlineMs() <= now_ms;
}

void ClientSession::failRecovery(uint64_t request_id, const std::string& reason) {
  if (Recovery* r = findRecovery(request_id)) {
    auto failed = r->fail(reason);
    applyRecoveryStep(r, failed);
  }
}

// Sends what a recovery step produced; true when the recovery is over (and destroyed).
bool ClientSession::applyRecoveryStep(Recovery* recovery, Recovery::Step& step) {
  Outbox& outbox = shard_->outbox;
  const std::string& channel = recovery->channel();
  const bool drop = outbox.dropsOldest(recovery->isUserStream() ? nullptr : &channel);
  for (size_t i = 0; i < step.send.size(); ++i) {
    const herald::v1::Publication* pub = step.send[i];
    herald::v1::Deliver deliver;
    if (recovery->isUserStream()) {
      deliver.set_target(herald::v1::DELIVERY_TARGET_USER);
      deliver.set_user(user_);
    } else {
      deliver.set_target(herald::v1::DELIVERY_TARGET_CHANNEL);
    }
    *deliver.mutable_publication() = *pub;
    std::string text = buildMessageFrame(deliver);
    if (!step.prev.empty()) {  // a filtered or conflated subscription's
      text = withPrev(text, step.prev[i], step.conflated.empty() ? -1 : step.conflated[i]);
    }
    outbox.send(*this, prepareTextFrame(text), drop);
    shard_->counters.messages_recovered.fetch_add(1, std::memory_order_relaxed);
  }
  if (!step.finished) {
    return false;
  }
  if (!recovery->isUserStream() && shapes_) {
    // A conflated group may hold back a publication this recovery already covered.
    for (auto& entry : *shapes_) {
      if (entry.channel == channel) {
        recovered_marks_ += entry.recovered_upto == 0 ? 1 : 0;
        entry.recovered_upto = std::max<uint64_t>(step.outcome.offset, 1);
        entry.recovered_epoch = step.outcome.epoch;
      }
    }
  }
  if (transport_->isOpen()) {
    send(buildRecoveryFrame(step.outcome));
    for (const auto& frame : step.release) {
      outbox.send(*this, frame, drop);
    }
  }
  shard_->counters.recoveries.fetch_add(1, std::memory_order_relaxed);
  if (step.outcome.recovered) {
    shard_->counters.recoveries_recovered.fetch_add(1, std::memory_order_relaxed);
  } else {
    shard_->counters.recoveries_failed.fetch_add(1, std::memory_order_relaxed);
  }
  shard_->recoveries.erase(recovery->requestId());
  recovering_.erase(std::remove_if(recovering_.begin(), recovering_.end(),
                                   [&](const auto& r) { return r.get() == recovery; }),
                    recovering_.end());
  return true;
}

}  // namespace herald::node
