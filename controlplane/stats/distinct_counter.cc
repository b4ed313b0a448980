#include "controlplane/stats/distinct_counter.h"

#include <algorithm>
#include <cmath>

#include "common/hash.h"

namespace herald::control {

void DistinctCounter::add(std::string_view key) {
  // Every bit of the hash depends on every byte: the register takes the top bits, the rank
  // the rest.
  const uint64_t h = fnv1a64(key);
  const size_t index = static_cast<size_t>(h >> (64 - kPrecision));
  const uint64_t rest = h << kPrecision;
  // Position of the first 1 bit in the remaining 54 bits (54 + 1 when they are all 0).
  const uint8_t rank = rest == 0 ? static_cast<uint8_t>(64 - kPrecision + 1)
                                 : static_cast<uint8_t>(__builtin_clzll(rest) + 1);
  registers_[index] = std::max(registers_[index], rank);
}

void DistinctCounter::merge(const DistinctCounter& other) {
  for (size_t i = 0; i < kRegisters; ++i) {
    registers_[i] = std::max(registers_[i], other.registers_[i]);
  }
}

void DistinctCounter::mergeRegisters(std::string_view bytes) {
  if (bytes.size() != kRegisters) {
    return;
  }
  for (size_t i = 0; i < kRegisters; ++i) {
    // A rank is at most 64 - kPrecision + 1; a larger byte is not ours.
    const auto r = static_cast<uint8_t>(
        std::min<unsigned>(static_cast<unsigned char>(bytes[i]), 64 - kPrecision + 1));
    registers_[i] = std::max(registers_[i], r);
  }
}

uint64_t DistinctCounter::estimate() const {
  constexpr double m = static_cast<double>(kRegisters);
  const double alpha = 0.7213 / (1 + 1.079 / m);
  double sum = 0;
  size_t zeros = 0;
  for (uint8_t r : registers_) {
    sum += std::ldexp(1.0, -static_cast<int>(r));
    zeros += r == 0 ? 1 : 0;
  }
  double e = alpha * m * m / sum;
  // Few keys: linear counting of the empty registers is the better estimate.
  if (e <= 2.5 * m && zeros > 0) {
    e = m * std::log(m / static_cast<double>(zeros));
  }
  return static_cast<uint64_t>(std::llround(e));
}

}  // namespace herald::control
