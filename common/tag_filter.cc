#include "common/tag_filter.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <functional>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/publication_tags.h"

namespace herald {

namespace {

// JSON's number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
bool jsonNumberText(std::string_view t) {
  size_t i = 0;
  auto digits = [&] {
    const size_t start = i;
    while (i < t.size() && t[i] >= '0' && t[i] <= '9') {
      ++i;
    }
    return i > start;
  };
  if (i < t.size() && t[i] == '-') {
    ++i;
  }
  if (i < t.size() && t[i] == '0') {
    ++i;
  } else if (!digits()) {
    return false;
  }
  if (i < t.size() && t[i] == '.') {
    ++i;
    if (!digits()) {
      return false;
    }
  }
  if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
    ++i;
    if (i < t.size() && (t[i] == '+' || t[i] == '-')) {
      ++i;
    }
    if (!digits()) {
      return false;
    }
  }
  return i == t.size();
}

}  // namespace

bool parseTagNumber(std::string_view text, double* out) {
  // Exactly JSON's numbers (not "inf", "0x10", "01" or "1."), read as doubles: exact up to
  // 2^53; a value too small to represent reads as 0, one too large is refused.
  if (text.size() > 64 || !jsonNumberText(text)) {
    return false;
  }
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec == std::errc::result_out_of_range) {
    // Under- or overflow: from_chars leaves `value` alone. A negative exponent underflows.
    const size_t e = text.find_first_of("eE");
    if (e == std::string_view::npos || text[e + 1] != '-') {
      return false;
    }
    value = 0;
  } else if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(value)) {
    return false;
  }
  *out = value;
  return true;
}

namespace {

using nlohmann::json;
using Op = TagFilter::Op;

struct OperatorName {
  std::string_view name;
  Op op;
};

constexpr OperatorName kOperators[] = {
    {"eq", Op::kEq},
    {"ne", Op::kNe},
    {"in", Op::kIn},
    {"nin", Op::kNin},
    {"exists", Op::kExists},
    {"gt", Op::kGt},
    {"gte", Op::kGte},
    {"lt", Op::kLt},
    {"lte", Op::kLte},
    {"starts_with", Op::kStartsWith},
    {"ends_with", Op::kEndsWith},
    {"contains", Op::kContains},
};

Status bad(const std::string& path, const std::string& what) {
  return Status(ErrorCode::kBadRequest, path + ": " + what);
}

bool operandString(const json& v) {
  return v.is_string() && v.get_ref<const std::string&>().size() <= kMaxFilterOperandBytes;
}

}  // namespace

// Builds TagFilter::nodes_ from a JSON value, depth-first with the depth checked before
// each descent, so hostile nesting costs at most kMaxFilterDepth frames.
class TagFilterCompiler {
 public:
  explicit TagFilterCompiler(std::vector<TagFilter::Node>* nodes) : nodes_(nodes) {}

  Status compile(const json& v, size_t depth, const std::string& path) {
    if (depth > kMaxFilterDepth) {
      return bad(path, "nested deeper than " + std::to_string(kMaxFilterDepth) + " levels");
    }
    if (nodes_->size() >= kMaxFilterNodes) {
      return bad(path, "more than " + std::to_string(kMaxFilterNodes) + " conditions");
    }
    if (!v.is_object()) {
      return bad(path,
                 "must be an object: {\"key\":K,\"eq\":V}, {\"and\":[…]}, {\"or\":[…]} "
                 "or {\"not\":{…}}");
    }
    const size_t index = nodes_->size();
    nodes_->emplace_back();
    if (v.size() == 1 && (v.contains("and") || v.contains("or"))) {
      const bool is_and = v.contains("and");
      const json& list = is_and ? v["and"] : v["or"];
      const std::string name = is_and ? "and" : "or";
      if (!list.is_array() || list.empty() || list.size() > kMaxFilterList) {
        return bad(path, "'" + name + "' must be an array of 1.." + std::to_string(kMaxFilterList) +
                             " filters");
      }
      (*nodes_)[index].op = is_and ? Op::kAnd : Op::kOr;
      (*nodes_)[index].children = static_cast<uint16_t>(list.size());
      for (size_t i = 0; i < list.size(); ++i) {
        Status s = compile(list[i], depth + 1, path + "." + name + "[" + std::to_string(i) + "]");
        if (!s.isOk()) {
          return s;
        }
      }
    } else if (v.size() == 1 && v.contains("not")) {
      (*nodes_)[index].op = Op::kNot;
      (*nodes_)[index].children = 1;
      Status s = compile(v["not"], depth + 1, path + ".not");
      if (!s.isOk()) {
        return s;
      }
    } else {
      Status s = leaf(v, path, &(*nodes_)[index]);
      if (!s.isOk()) {
        return s;
      }
    }
    (*nodes_)[index].size = static_cast<uint16_t>(nodes_->size() - index);
    return Status::ok();
  }

 private:
  static Status leaf(const json& v, const std::string& path, TagFilter::Node* node) {
    auto key = v.find("key");
    if (key == v.end()) {
      return bad(path, "needs 'key' and one operator, or is one of 'and', 'or', 'not'");
    }
    if (!key->is_string() || !validTagKey(key->get_ref<const std::string&>())) {
      return bad(path, "'key' must be a tag key: 1..64 of A-Z a-z 0-9 _ - . :");
    }
    node->key = key->get<std::string>();
    const OperatorName* found = nullptr;
    for (const auto& item : v.items()) {
      const std::string& name = item.key();  // a plain reference: lambdas may capture it
      if (name == "key") {
        continue;
      }
      const auto it = std::find_if(std::begin(kOperators), std::end(kOperators),
                                   [&](const OperatorName& o) { return o.name == name; });
      if (it == std::end(kOperators)) {
        return bad(path, "unknown operator '" + name.substr(0, 64) +
                             "' (expected eq, ne, in, nin, exists, gt, gte, lt, lte, "
                             "starts_with, ends_with or contains)");
      }
      if (found != nullptr) {
        return bad(path, "one operator per condition (has '" + std::string(found->name) +
                             "' and '" + name + "'); combine with 'and'");
      }
      found = &*it;
    }
    if (found == nullptr) {
      return bad(path, "needs an operator besides 'key', e.g. {\"key\":\"" + node->key +
                           "\",\"eq\":\"…\"}");
    }
    node->op = found->op;
    const json& operand = v[std::string(found->name)];
    const std::string op_path = path + "." + std::string(found->name);
    switch (found->op) {
      case Op::kIn:
      case Op::kNin:
        if (!operand.is_array() || operand.empty() || operand.size() > kMaxFilterList) {
          return bad(op_path,
                     "must be an array of 1.." + std::to_string(kMaxFilterList) + " strings");
        }
        for (const auto& item : operand) {
          if (!operandString(item)) {
            return bad(op_path, "must hold strings of at most " +
                                    std::to_string(kMaxFilterOperandBytes) + " bytes");
          }
          node->values.push_back(item.get<std::string>());
        }
        std::sort(node->values.begin(), node->values.end());
        break;
      case Op::kExists:
        if (!operand.is_boolean()) {
          return bad(op_path, "must be true or false");
        }
        node->flag = operand.get<bool>();
        break;
      case Op::kGt:
      case Op::kGte:
      case Op::kLt:
      case Op::kLte: {
        // A number or a numeric string ("1000"), as tag values are strings.
        bool ok = false;
        if (operand.is_number()) {
          node->number = operand.get<double>();
          ok = std::isfinite(node->number);
        } else if (operand.is_string()) {
          ok = parseTagNumber(operand.get_ref<const std::string&>(), &node->number);
        }
        if (!ok) {
          return bad(op_path, "must be a number or a numeric string, e.g. \"1000\"");
        }
        break;
      }
      default:
        if (!operandString(operand)) {
          return bad(op_path, "must be a string of at most " +
                                  std::to_string(kMaxFilterOperandBytes) + " bytes");
        }
        node->text = operand.get<std::string>();
        break;
    }
    return Status::ok();
  }

  std::vector<TagFilter::Node>* nodes_;
};

Result<std::shared_ptr<const TagFilter>> TagFilter::compile(const json& value) {
  auto filter = std::make_shared<TagFilter>();
  TagFilterCompiler compiler(&filter->nodes_);
  if (Status s = compiler.compile(value, 1, "filter"); !s.isOk()) {
    return s;
  }
  // Checked after the structure: by then the value is bounded (64 nodes of bounded size).
  filter->canonical_ = value.dump(-1, ' ', false, json::error_handler_t::replace);
  if (filter->canonical_.size() > kMaxFilterBytes) {
    return bad("filter", "longer than " + std::to_string(kMaxFilterBytes) + " bytes as JSON");
  }
  filter->hash_ = std::hash<std::string>{}(filter->canonical_);
  return std::shared_ptr<const TagFilter>(std::move(filter));
}

bool TagFilter::eval(size_t index, const TagSet& tags) const {
  const Node& node = nodes_[index];
  switch (node.op) {
    case Op::kAnd:
    case Op::kOr: {
      const bool is_and = node.op == Op::kAnd;
      size_t child = index + 1;
      for (uint16_t i = 0; i < node.children; ++i) {
        if (eval(child, tags) != is_and) {
          return !is_and;
        }
        child += nodes_[child].size;
      }
      return is_and;
    }
    case Op::kNot:
      return !eval(index + 1, tags);
    default:
      break;
  }
  const TagEntry* tag = tags.find(node.key);
  switch (node.op) {
    case Op::kEq:
      return tag != nullptr && tag->value == node.text;
    case Op::kNe:
      return tag == nullptr || tag->value != node.text;
    case Op::kIn:
      return tag != nullptr &&
             std::binary_search(node.values.begin(), node.values.end(), tag->value);
    case Op::kNin:
      return tag == nullptr ||
             !std::binary_search(node.values.begin(), node.values.end(), tag->value);
    case Op::kExists:
      return (tag != nullptr) == node.flag;
    case Op::kGt:
      return tag != nullptr && tag->numeric && tag->number > node.number;
    case Op::kGte:
      return tag != nullptr && tag->numeric && tag->number >= node.number;
    case Op::kLt:
      return tag != nullptr && tag->numeric && tag->number < node.number;
    case Op::kLte:
      return tag != nullptr && tag->numeric && tag->number <= node.number;
    case Op::kStartsWith:
      return tag != nullptr && tag->value.compare(0, node.text.size(), node.text) == 0 &&
             tag->value.size() >= node.text.size();
    case Op::kEndsWith:
      return tag != nullptr && tag->value.size() >= node.text.size() &&
             tag->value.compare(tag->value.size() - node.text.size(), node.text.size(),
                                node.text) == 0;
    case Op::kContains:
      // memmem (two-way in glibc) is linear in both lengths, so a hostile operand cannot make
      // one evaluation quadratic (std::string::find may be).
      return tag != nullptr &&
             (node.text.empty() || memmem(tag->value.data(), tag->value.size(), node.text.data(),
                                          node.text.size()) != nullptr);
    default:
      return false;
  }
}

}  // namespace herald
