#include "dataplane/fanout/delivery_tally.h"

#include "common/top_entries.h"

namespace herald::node {

void DeliveryTally::merge(const DeliveryTally& other) {
  for (const auto& [ns, n] : other.namespaces_) {
    add(ns, nullptr, n);
  }
  for (const auto& [channel, n] : other.channels_) {
    countChannel(channel, n);
  }
}

void DeliveryTally::report(size_t top, herald::v1::NodeStats* stats) const {
  for (const auto& [ns, n] : namespaces_) {
    auto* entry = stats->add_namespace_deliveries();
    entry->set_name(ns);
    entry->set_deliveries(n);
  }
  for (const auto* channel : topEntries(channels_, top)) {
    auto* entry = stats->add_channel_deliveries();
    entry->set_name(channel->first);
    entry->set_deliveries(channel->second);
  }
}

}  // namespace herald::node
