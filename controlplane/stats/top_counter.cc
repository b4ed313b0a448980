#include "controlplane/stats/top_counter.h"

#include <algorithm>

namespace herald::control {

void TopCounter::add(std::string_view key, uint64_t n) {
  total_ += n;
  auto it = counters_.find(std::string(key));
  if (it != counters_.end()) {
    it->second.count += n;
    return;
  }
  if (counters_.size() < capacity_) {
    counters_.emplace(std::string(key), Counter{n, 0});
    return;
  }
  if (capacity_ == 0) {
    return;
  }
  // Replace the smallest counter. A linear scan: capacities are small (tens to a few hundred)
  // and the map stays the only allocation.
  auto smallest = counters_.begin();
  for (auto c = counters_.begin(); c != counters_.end(); ++c) {
    if (c->second.count < smallest->second.count) {
      smallest = c;
    }
  }
  const uint64_t inherited = smallest->second.count;
  counters_.erase(smallest);
  counters_.emplace(std::string(key), Counter{inherited + n, inherited});
}

std::vector<TopCounter::Entry> TopCounter::top(size_t k) const {
  std::vector<Entry> all;
  all.reserve(counters_.size());
  for (const auto& [key, c] : counters_) {
    all.push_back(Entry{key, c.count, c.error});
  }
  std::sort(all.begin(), all.end(), [](const Entry& a, const Entry& b) {
    return a.count != b.count ? a.count > b.count : a.key < b.key;
  });
  if (all.size() > k) {
    all.resize(k);
  }
  return all;
}

}  // namespace herald::control
