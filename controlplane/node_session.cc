#include "controlplane/node_session.h"

#include <set>
#include <string_view>

#include "common/channel_name.h"
#include "common/clock.h"
#include "common/logging.h"
#include "common/stream_keys.h"

namespace herald::control {

NodeSession::NodeSession(grpc::ServerContext* context, Stream* stream,
                         const herald::v1::Hello& hello, size_t queue_limit)
    : context_(context),
      stream_(stream),
      node_id_(hello.node_id()),
      instance_(hello.instance()),
      queue_limit_(queue_limit),
      channels_(hello.channels().begin(), hello.channels().end()) {
  info_.set_node_id(hello.node_id());
  info_.set_address(hello.listen_address());
  info_.set_build(hello.build());
  info_.set_capacity(hello.capacity());
  info_.set_health(herald::v1::NODE_HEALTH_HEALTHY);
  info_.set_connected_since_unix_ms(unixMillis());
  info_.set_last_heartbeat_unix_ms(unixMillis());
  last_heartbeat_ = std::chrono::steady_clock::now();
}

NodeSession::~NodeSession() { stop(); }

bool NodeSession::send(ControlMessagePtr message) {
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    if (closed_) {
      return false;
    }
    if (queue_.size() >= queue_limit_) {
      closed_ = true;
      queue_.clear();
    } else {
      queue_.push_back(std::move(message));
      queue_cv_.notify_one();
      return true;
    }
  }
  componentLogger("link")->warn("node {} fell {} messages behind: cutting it off to resync",
                                node_id_, queue_limit_);
  queue_cv_.notify_one();
  cancelContext();
  return false;
}

void NodeSession::startWriter() {
  writer_ = std::thread([this] { writerLoop(); });
}

void NodeSession::writerLoop() {
  std::deque<ControlMessagePtr> batch;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(queue_mu_);
      queue_cv_.wait(lock, [this] { return closed_ || !queue_.empty(); });
      if (closed_) {
        return;
      }
      batch.swap(queue_);
    }
    while (!batch.empty()) {
      // buffer_hint lets gRPC coalesce a burst into fewer writes.
      grpc::WriteOptions options;
      if (batch.size() > 1) {
        options.set_buffer_hint();
      }
      if (!stream_->Write(*batch.front(), options)) {
        std::lock_guard<std::mutex> lock(queue_mu_);
        closed_ = true;
        return;
      }
      batch.pop_front();
    }
  }
}

void NodeSession::cancel(const std::string& why) {
  componentLogger("link")->warn("closing link to node {}: {}", node_id_, why);
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    closed_ = true;
  }
  queue_cv_.notify_one();
  cancelContext();
}

void NodeSession::cancelContext() {
  std::lock_guard<std::mutex> lock(context_mu_);
  if (context_live_) {
    context_->TryCancel();
  }
}

void NodeSession::stop() {
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    closed_ = true;
  }
  queue_cv_.notify_one();
  if (writer_.joinable()) {
    writer_.join();
  }
  std::lock_guard<std::mutex> lock(context_mu_);
  context_live_ = false;
}

void NodeSession::sendConfig(const std::shared_ptr<const herald::v1::ConfigSnapshot>& snapshot) {
  auto message = std::make_shared<herald::v1::ControlMessage>();
  *message->mutable_config() = *snapshot;
  const std::string nonce = herald::newRandomEpoch();
  message->mutable_config()->set_nonce(nonce);
  // The Hello push and a change announcement can race: queue only newer versions, and queue
  // under the same lock so the queue order is the version order.
  std::lock_guard<std::mutex> lock(info_mu_);
  if (snapshot->version() < last_sent_version_) {
    return;
  }
  last_sent_version_ = snapshot->version();
  pending_nonce_ = nonce;
  send(std::move(message));
}

NodeSession::StatsReport NodeSession::recordStats(const herald::v1::NodeStats& stats) {
  std::lock_guard<std::mutex> lock(info_mu_);
  StatsReport report;
  report.follows_previous = stats_seen_;
  report.delivered = stats_seen_ && stats.messages_out() >= info_.messages_out()
                         ? stats.messages_out() - info_.messages_out()
                         : 0;
  stats_seen_ = true;
  report.became_draining = stats.draining() && info_.health() != herald::v1::NODE_HEALTH_DRAINING;
  info_.set_connections(stats.connections());
  info_.set_users(stats.users());
  info_.set_subscriptions(stats.subscriptions());
  info_.set_channels(stats.channels());
  info_.set_messages_in(stats.messages_in());
  info_.set_messages_out(stats.messages_out());
  info_.set_last_heartbeat_unix_ms(unixMillis());
  // A node that does not report it (an older build) keeps an empty histogram.
  if (static_cast<size_t>(stats.publish_to_write_counts_size()) == LatencyHistogram::kBuckets) {
    for (size_t i = 0; i < LatencyHistogram::kBuckets; ++i) {
      publish_to_write_.counts[i] = stats.publish_to_write_counts(static_cast<int>(i));
    }
    publish_to_write_.sum_micros = stats.publish_to_write_sum_us();
  }
  if (info_.health() != herald::v1::NODE_HEALTH_UNHEALTHY) {
    info_.set_health(stats.draining() ? herald::v1::NODE_HEALTH_DRAINING
                                      : herald::v1::NODE_HEALTH_HEALTHY);
  }
  // A node names its biggest channels; kept only if they are channel names, each once, and
  // at most 20.
  info_.clear_top_channels();
  std::set<std::string_view> seen;
  for (const auto& entry : stats.top_channels()) {
    if (info_.top_channels_size() == kMaxTopChannels) {
      break;
    }
    if (checkChannelName(entry.channel()).isOk() && seen.insert(entry.channel()).second) {
      auto* kept = info_.add_top_channels();
      kept->set_channel(entry.channel());
      kept->set_subscribers(entry.subscribers());
    }
  }
  last_heartbeat_ = std::chrono::steady_clock::now();
  return report;
}

void NodeSession::recordAck(const herald::v1::Ack& ack) {
  std::lock_guard<std::mutex> lock(info_mu_);
  if (ack.version() > info_.config_version_acked()) {
    info_.set_config_version_acked(ack.version());
  }
  if (ack.nonce() == pending_nonce_) {
    info_.clear_last_nack_error();
  }
}

void NodeSession::recordNack(const herald::v1::Nack& nack) {
  componentLogger("link")->error("node {} refused config version {}: {}", node_id_, nack.version(),
                                 nack.error());
  std::lock_guard<std::mutex> lock(info_mu_);
  info_.set_last_nack_error("version " + std::to_string(nack.version()) + ": " + nack.error());
}

void NodeSession::markUnhealthy() {
  std::lock_guard<std::mutex> lock(info_mu_);
  info_.set_health(herald::v1::NODE_HEALTH_UNHEALTHY);
}

herald::v1::NodeInfo NodeSession::info() const {
  std::lock_guard<std::mutex> lock(info_mu_);
  return info_;
}

std::chrono::steady_clock::time_point NodeSession::lastHeartbeat() const {
  std::lock_guard<std::mutex> lock(info_mu_);
  return last_heartbeat_;
}

bool NodeSession::healthy() const {
  std::lock_guard<std::mutex> lock(info_mu_);
  return info_.health() != herald::v1::NODE_HEALTH_UNHEALTHY;
}

void NodeSession::applyInterest(const herald::v1::InterestDelta& delta) {
  if (delta.channels_added_size() == 0 && delta.channels_removed_size() == 0) {
    return;
  }
  std::lock_guard<std::mutex> lock(channels_mu_);
  for (const auto& channel : delta.channels_added()) {
    channels_.insert(channel);
  }
  for (const auto& channel : delta.channels_removed()) {
    channels_.erase(channel);
  }
}

std::vector<std::string> NodeSession::channels() const {
  std::lock_guard<std::mutex> lock(channels_mu_);
  return std::vector<std::string>(channels_.begin(), channels_.end());
}

}  // namespace herald::control
