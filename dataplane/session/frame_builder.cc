#include "dataplane/session/frame_builder.h"

#include <algorithm>
#include <vector>

namespace herald::node {

namespace {

// `,"tags":{…}` with keys sorted (a protobuf map has no order), so equal tags read alike.
void appendTags(std::string* out, const google::protobuf::Map<std::string, std::string>& tags) {
  std::vector<const google::protobuf::MapPair<std::string, std::string>*> sorted;
  sorted.reserve(tags.size());
  for (const auto& entry : tags) {
    sorted.push_back(&entry);
  }
  std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->first < b->first; });
  out->append(",\"tags\":{");
  for (size_t i = 0; i < sorted.size(); ++i) {
    if (i > 0) {
      out->push_back(',');
    }
    appendJsonString(out, sorted[i]->first);
    out->push_back(':');
    appendJsonString(out, sorted[i]->second);
  }
  out->push_back('}');
}

}  // namespace

void appendJsonString(std::string* out, const std::string& text) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  for (char raw : text) {
    const auto c = static_cast<unsigned char>(raw);
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(raw);
    } else if (c < 0x20) {
      out->append("\\u00");
      out->push_back(kHex[c >> 4]);
      out->push_back(kHex[c & 0xf]);
    } else {
      out->push_back(raw);
    }
  }
  out->push_back('"');
}

std::string buildServerSubscriptionFrame(const std::string& channel, bool subscribed) {
  std::string out(subscribed ? R"({"type":"subscribed","channel":)"
                             : R"({"type":"unsubscribed","channel":)");
  appendJsonString(&out, channel);
  out.push_back('}');
  return out;
}

std::string buildJoinLeaveFrame(const herald::v1::JoinLeave& change, bool join) {
  const auto& entries = join ? change.joined() : change.left();
  const uint32_t unlisted = join ? change.joined_unlisted() : change.left_unlisted();
  const bool all = !join && change.node_lost();
  if (entries.empty() && unlisted == 0 && !all) {
    return {};
  }
  std::string out(join ? R"({"type":"join","channel":)" : R"({"type":"leave","channel":)");
  appendJsonString(&out, change.channel());
  out.append(",\"node\":");
  appendJsonString(&out, change.node_id());
  if (all) {
    out.append(",\"all\":true");
  }
  out.append(",\"clients\":[");
  for (int i = 0; i < entries.size(); ++i) {
    out.append(i == 0 ? "{\"client\":" : ",{\"client\":");
    appendJsonString(&out, entries[i].client());
    out.append(",\"user\":");
    appendJsonString(&out, entries[i].user());
    out.push_back('}');
  }
  out.push_back(']');
  if (unlisted > 0) {
    out.append(",\"unlisted\":").append(std::to_string(unlisted));
  }
  out.push_back('}');
  return out;
}

std::string buildMessageFrame(const herald::v1::Deliver& deliver) {
  const auto& pub = deliver.publication();
  std::string out;
  out.reserve(pub.data().size() + pub.channel().size() + 128);
  out.append("{\"type\":\"message\"");
  switch (deliver.target()) {
    case herald::v1::DELIVERY_TARGET_USER:
      out.append(",\"user\":");
      appendJsonString(&out, deliver.user());
      break;
    case herald::v1::DELIVERY_TARGET_ALL:
      out.append(",\"broadcast\":true");
      break;
    default:
      out.append(",\"channel\":");
      appendJsonString(&out, pub.channel());
      break;
  }
  if (!pub.event().empty()) {
    out.append(",\"event\":");
    appendJsonString(&out, pub.event());
  }
  // Channel and personal publications have a stream position; broadcasts to all do not.
  if (deliver.target() != herald::v1::DELIVERY_TARGET_ALL && pub.offset() != 0) {
    out.append(",\"offset\":");
    out.append(std::to_string(pub.offset()));
    out.append(",\"epoch\":");
    appendJsonString(&out, pub.epoch());
  }
  if (!pub.publisher_client().empty()) {  // sent by a WebSocket client: say who
    out.append(",\"publisher\":{");
    if (!pub.publisher_user().empty()) {
      out.append("\"user\":");
      appendJsonString(&out, pub.publisher_user());
      out.push_back(',');
    }
    out.append("\"client\":");
    appendJsonString(&out, pub.publisher_client());
    out.push_back('}');
  }
  if (!pub.tags().empty()) {
    appendTags(&out, pub.tags());
  }
  out.append(",\"data\":");
  out.append(pub.data());
  out.append(",\"ts\":");
  out.append(std::to_string(pub.ts_unix_ms()));
  out.push_back('}');
  return out;
}

std::string withPrev(std::string_view message_frame, uint64_t prev, int64_t conflated) {
  std::string out;
  out.reserve(message_frame.size() + 48);
  out.append(message_frame.substr(0, message_frame.size() - 1));  // without the closing '}'
  out.append(",\"prev\":").append(std::to_string(prev));
  if (conflated >= 0) {
    out.append(",\"conflated\":").append(std::to_string(conflated));
  }
  out.push_back('}');
  return out;
}

}  // namespace herald::node
