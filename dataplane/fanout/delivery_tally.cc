#include "dataplane/fanout/delivery_tally.h"

#include <algorithm>
#include <vector>

namespace herald::node {

void DeliveryTally::merge(const DeliveryTally& other) {
  for (const auto& [ns, n] : other.namespaces_) {
    add(ns, nullptr, n);
  }
  for (const auto& [channel, n] : other.channels_) {
    if (auto it = channels_.find(channel); it != channels_.end()) {
      it->second += n;
    } else if (channels_.size() < kMaxChannels) {
      channels_.emplace(channel, n);
    }
  }
}

void DeliveryTally::report(size_t top, herald::v1::NodeStats* stats) const {
  for (const auto& [ns, n] : namespaces_) {
    auto* entry = stats->add_namespace_deliveries();
    entry->set_name(ns);
    entry->set_deliveries(n);
  }
  using Entry = std::unordered_map<std::string, uint64_t>::value_type;
  std::vector<const Entry*> order;
  order.reserve(channels_.size());
  for (const auto& entry : channels_) {
    order.push_back(&entry);
  }
  const size_t k = std::min(top, order.size());
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k), order.end(),
                    [](const Entry* a, const Entry* b) {
                      return a->second != b->second ? a->second > b->second : a->first < b->first;
                    });
  for (size_t i = 0; i < k; ++i) {
    auto* entry = stats->add_channel_deliveries();
    entry->set_name(order[i]->first);
    entry->set_deliveries(order[i]->second);
  }
}

}  // namespace herald::node
