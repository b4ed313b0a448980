#pragma once
// The heaviest keys of a stream (the busiest channels) in bounded memory: the Space-Saving
// algorithm (Metwally, Agrawal, El Abbadi, 2005). It keeps `capacity` counters; a key not
// among them takes the smallest counter's place and inherits its count as its possible
// overcount (`error`). Every key counted more than total/capacity times is kept, and a kept
// key's true count is between count - error and count. Not thread-safe: its owner serialises.
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace herald::control {

class TopCounter {
 public:
  explicit TopCounter(size_t capacity) : capacity_(capacity) {}

  void add(std::string_view key, uint64_t n = 1);

  struct Entry {
    std::string key;
    uint64_t count = 0;  // an upper bound of the key's true count
    uint64_t error = 0;  // how much of `count` may belong to keys it replaced
  };
  // The `k` largest counters, largest first (ties by key).
  std::vector<Entry> top(size_t k) const;
  uint64_t total() const { return total_; }
  void clear() {
    counters_.clear();
    total_ = 0;
  }
  size_t size() const { return counters_.size(); }

 private:
  struct Counter {
    uint64_t count = 0;
    uint64_t error = 0;
  };
  const size_t capacity_;
  uint64_t total_ = 0;
  std::unordered_map<std::string, Counter> counters_;
};

}  // namespace herald::control
