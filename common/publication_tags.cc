#include "common/publication_tags.h"

namespace herald {

bool validTagKey(std::string_view key) {
  if (key.empty() || key.size() > kMaxTagKeyBytes) {
    return false;
  }
  for (char c : key) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-' || c == '.' || c == ':';
    if (!ok) {
      return false;
    }
  }
  return true;
}

Status tagError(std::string message) { return Status(ErrorCode::kBadRequest, std::move(message)); }

}  // namespace herald
