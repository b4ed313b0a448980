#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "common/status.h"
#include "common/tag_set.h"

namespace herald {

// Bounds of a subscription's filter (docs/protocol.md "Tags and filters").
inline constexpr size_t kMaxFilterDepth = 8;     // objects nested, the outermost counting 1
inline constexpr size_t kMaxFilterNodes = 64;    // conditions and combinators in all
inline constexpr size_t kMaxFilterBytes = 2048;  // of its canonical JSON text
inline constexpr size_t kMaxFilterList = 64;     // items of and/or, values of in/nin
inline constexpr size_t kMaxFilterOperandBytes = 256;

/**
 * A subscription's filter over publication tags, validated and compiled once at subscribe:
 * `{"key":K,"eq":V}` (also ne, in, nin, exists, gt, gte, lt, lte, starts_with, ends_with,
 * contains) combined with `{"and":[…]}`, `{"or":[…]}` and `{"not":{…}}`. Immutable, so
 * one compiled filter is shared by every subscription with the same canonical text.
 * Evaluation allocates nothing; its recursion is bounded by kMaxFilterDepth.
 */
class TagFilter {
 public:
  // Validates and compiles `value` (a parsed JSON member); bad_request says what is wrong,
  // naming the path (e.g. "filter.and[1]: unknown operator 'eqq'").
  static Result<std::shared_ptr<const TagFilter>> compile(const nlohmann::json& value);

  bool matches(const TagSet& tags) const { return eval(0, tags); }
  // The filter as sorted, whitespace-free JSON: equal filters have equal texts.
  const std::string& canonical() const { return canonical_; }
  // Of canonical(): groups compare it first, so finding a group is not a string scan each.
  size_t hash() const { return hash_; }
  bool sameAs(const TagFilter& other) const {
    return hash_ == other.hash_ && canonical_ == other.canonical_;
  }

  enum class Op : uint8_t {
    kAnd,
    kOr,
    kNot,
    kEq,
    kNe,
    kIn,
    kNin,
    kExists,
    kGt,
    kGte,
    kLt,
    kLte,
    kStartsWith,
    kEndsWith,
    kContains
  };

  // Compiled form: nodes in pre-order, each knowing its subtree's size (to skip it).
  struct Node {
    Op op = Op::kAnd;
    uint16_t children = 0;
    uint16_t size = 1;  // this node and its descendants
    bool flag = false;  // exists: true/false
    double number = 0;  // gt/gte/lt/lte
    std::string key;
    std::string text;                 // eq, ne, starts_with, ends_with, contains
    std::vector<std::string> values;  // in, nin: sorted
  };

 private:
  bool eval(size_t index, const TagSet& tags) const;

  std::vector<Node> nodes_;
  std::string canonical_;
  size_t hash_ = 0;

  friend class TagFilterCompiler;
};

using TagFilterPtr = std::shared_ptr<const TagFilter>;

}  // namespace herald
