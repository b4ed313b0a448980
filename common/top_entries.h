#pragma once
// The entries of a map with the largest values, in one pass keeping a heap of k pointers: no
// copy of the map and no allocation beyond k, whatever its size.
#include <algorithm>
#include <cstddef>
#include <vector>

namespace herald {

// The `k` entries of `map` (key → number) with the largest values, largest first, ties by
// key. The pointers are into `map`: valid while it is not changed.
template <typename Map>
std::vector<const typename Map::value_type*> topEntries(const Map& map, size_t k) {
  using Entry = typename Map::value_type;
  const auto before = [](const Entry* a, const Entry* b) {
    return a->second != b->second ? a->second > b->second : a->first < b->first;
  };
  std::vector<const Entry*> heap;  // the best `k` so far; the worst of them on top
  if (k == 0) {
    return heap;
  }
  heap.reserve(std::min(k, map.size()));
  for (const Entry& entry : map) {
    if (heap.size() < k) {
      heap.push_back(&entry);
      std::push_heap(heap.begin(), heap.end(), before);
    } else if (before(&entry, heap.front())) {
      std::pop_heap(heap.begin(), heap.end(), before);
      heap.back() = &entry;
      std::push_heap(heap.begin(), heap.end(), before);
    }
  }
  std::sort(heap.begin(), heap.end(), before);
  return heap;
}

}  // namespace herald
