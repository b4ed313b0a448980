#pragma once
// How many distinct keys (active users) were seen, in 1 KiB whatever their number: a
// HyperLogLog (Flajolet et al., 2007) with 1,024 registers, about 3 % standard error, exact
// enough for "active users in the last hour". Sketches merge (the union of their keys), so
// per-minute sketches add up to any window and replicas' sketches to the cluster's. No Debian
// library offers one for C++; Redis' PFADD is the same idea and serves --engine redis.
// Not thread-safe: its owner serialises.
#include <array>
#include <cstdint>
#include <string_view>

namespace herald::control {

class DistinctCounter {
 public:
  static constexpr int kPrecision = 10;
  static constexpr size_t kRegisters = size_t{1} << kPrecision;

  void add(std::string_view key);
  // The union with `other`.
  void merge(const DistinctCounter& other);
  // The union with registers another process sent (registers().size() bytes; anything else
  // is ignored).
  void mergeRegisters(std::string_view bytes);
  uint64_t estimate() const;
  void clear() { registers_.fill(0); }

  const std::array<uint8_t, kRegisters>& registers() const { return registers_; }

 private:
  std::array<uint8_t, kRegisters> registers_{};
};

}  // namespace herald::control
