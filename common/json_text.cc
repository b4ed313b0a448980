#include "common/json_text.h"

#include <string>

#include <nlohmann/json.hpp>

namespace herald {
namespace {

bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// `text[i]` is the opening quote of a string: returns the index just past its closing quote
// (text.size() when unterminated).
size_t skipString(std::string_view text, size_t i) {
  for (++i; i < text.size(); ++i) {
    if (text[i] == '\\') {
      ++i;  // the escaped character, whatever it is
    } else if (text[i] == '"') {
      return i + 1;
    }
  }
  return text.size();
}

// `text[i]` starts a value of valid JSON: returns the index just past it.
size_t skipValue(std::string_view text, size_t i) {
  if (text[i] == '"') {
    return skipString(text, i);
  }
  if (text[i] == '[' || text[i] == '{') {
    size_t depth = 0;
    for (; i < text.size(); ++i) {
      const char c = text[i];
      if (c == '"') {
        i = skipString(text, i) - 1;
      } else if (c == '[' || c == '{') {
        ++depth;
      } else if (c == ']' || c == '}') {
        if (--depth == 0) {
          return i + 1;
        }
      }
    }
    return text.size();
  }
  // Number, true, false, null: up to the next delimiter.
  while (i < text.size() && text[i] != ',' && text[i] != '}' && text[i] != ']' &&
         !isSpace(text[i])) {
    ++i;
  }
  return i;
}

size_t skipSpace(std::string_view text, size_t i) {
  while (i < text.size() && isSpace(text[i])) {
    ++i;
  }
  return i;
}

// A member name as written (quotes included) equals `name` once decoded.
bool nameEquals(std::string_view quoted, std::string_view name) {
  const std::string_view raw = quoted.substr(1, quoted.size() - 2);
  if (raw.find('\\') == std::string_view::npos) {
    return raw == name;
  }
  // Rare: an escaped name. Decode it with the real parser (a string: no nesting).
  auto decoded = nlohmann::json::parse(quoted.begin(), quoted.end(), nullptr, false);
  return decoded.is_string() && decoded.get_ref<const std::string&>() == name;
}

// Rejects documents nested deeper than the limit while nlohmann's acceptor walks them.
class DepthBoundedAcceptor : public nlohmann::json_sax<nlohmann::json> {
 public:
  explicit DepthBoundedAcceptor(size_t max_depth) : max_depth_(max_depth) {}
  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override { return ++depth_ <= max_depth_; }
  bool key(string_t&) override { return true; }
  bool end_object() override {
    --depth_;
    return true;
  }
  bool start_array(std::size_t) override { return ++depth_ <= max_depth_; }
  bool end_array() override {
    --depth_;
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    return false;
  }

 private:
  const size_t max_depth_;
  size_t depth_ = 0;
};

}  // namespace

size_t jsonNestingDepth(std::string_view text, size_t limit) {
  size_t depth = 0;
  size_t deepest = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '"') {
      i = skipString(text, i) - 1;
    } else if (c == '[' || c == '{') {
      if (++depth > deepest) {
        deepest = depth;
        if (deepest > limit) {
          return limit + 1;
        }
      }
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

bool acceptJson(std::string_view text, size_t max_depth) {
  if (jsonNestingDepth(text, max_depth) > max_depth) {
    return false;
  }
  DepthBoundedAcceptor acceptor(max_depth);
  return nlohmann::json::sax_parse(text.begin(), text.end(), &acceptor,
                                   nlohmann::json::input_format_t::json, /*strict=*/true);
}

bool findMembers(std::string_view text, const std::string_view* names, size_t count,
                 std::string_view* values) {
  for (size_t n = 0; n < count; ++n) {
    values[n] = std::string_view();
  }
  size_t i = skipSpace(text, 0);
  if (i >= text.size() || text[i] != '{') {
    return false;
  }
  i = skipSpace(text, i + 1);
  while (i < text.size() && text[i] == '"') {
    const size_t name_end = skipString(text, i);
    const std::string_view quoted = text.substr(i, name_end - i);
    i = skipSpace(text, name_end);
    if (i >= text.size() || text[i] != ':') {
      return true;  // not valid JSON: the caller promised it was; stop safely
    }
    i = skipSpace(text, i + 1);
    if (i >= text.size()) {
      return true;
    }
    const size_t value_end = skipValue(text, i);
    for (size_t n = 0; n < count; ++n) {
      if (nameEquals(quoted, names[n])) {
        values[n] = text.substr(i, value_end - i);
      }
    }
    i = skipSpace(text, value_end);
    if (i < text.size() && text[i] == ',') {
      i = skipSpace(text, i + 1);
    }
  }
  return true;
}

bool arrayElements(std::string_view text, std::vector<std::string_view>* elements) {
  elements->clear();
  size_t i = skipSpace(text, 0);
  if (i >= text.size() || text[i] != '[') {
    return false;
  }
  i = skipSpace(text, i + 1);
  while (i < text.size() && text[i] != ']') {
    const size_t end = skipValue(text, i);
    if (end <= i) {
      return true;  // not valid JSON: the caller promised it was; stop safely
    }
    elements->push_back(text.substr(i, end - i));
    i = skipSpace(text, end);
    if (i < text.size() && text[i] == ',') {
      i = skipSpace(text, i + 1);
    }
  }
  return true;
}

}  // namespace herald
