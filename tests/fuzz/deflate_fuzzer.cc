// libFuzzer target: permessage-deflate as a client drives it. The input's first line is the
// Sec-WebSocket-Extensions offer (websocketpp's parser, then answerDeflateOffer); the rest is
// client frames through the node's processor with Herald's extension (deflate_extension.h),
// read in small chunks. The whole input is also inflated as one message. Crashes, output past
// a limit, and a message that does not survive re-compression are findings.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "common/deflate_codec.h"
#include "dataplane/transport/deflate_settings.h"
#include "dataplane/transport/ws_config.h"

namespace {

constexpr size_t kLimit = 4096;

void inflateWhole(std::string_view input) {
  std::string out = "x";
  const auto result = herald::inflateMessage(input, kLimit, &out);
  if (result != herald::InflateResult::kOk) {
    if (out != "x") {
      std::abort();  // a failed inflate appends nothing
    }
    return;
  }
  if (out.size() > kLimit + 1) {
    std::abort();
  }
  std::string again;
  std::string back;
  if (!herald::deflateMessage(std::string_view(out).substr(1), 1, &again) ||
      herald::inflateMessage(again, kLimit, &back) != herald::InflateResult::kOk ||
      back != out.substr(1)) {
    std::abort();
  }
}

void feedProcessor(std::string_view offer, std::string frames) {
  using herald::node::WsConfig;
  static auto manager = std::make_shared<WsConfig::con_msg_manager_type>();
  static WsConfig::rng_type rng;
  websocketpp::processor::hybi13<WsConfig> processor(false, true, manager, rng);
  processor.set_max_message_size(kLimit);
  WsConfig::request_type request;
  request.replace_header("Sec-WebSocket-Extensions", std::string(offer));
  processor.negotiate_extensions(request);
  websocketpp::lib::error_code ec;
  size_t at = 0;
  while (at < frames.size() && !ec) {
    const size_t chunk = std::min<size_t>(37, frames.size() - at);
    const size_t used =
        processor.consume(reinterpret_cast<uint8_t*>(frames.data() + at), chunk, ec);
    if (processor.ready()) {
      const auto message = processor.get_message();
      if (message->get_payload().size() > kLimit) {
        std::abort();  // the inbound limit holds for inflated messages too
      }
    }
    if (used == 0 && !ec) {
      break;
    }
    at += used;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  static const bool enabled = [] {
    herald::node::setDeflateSettings(herald::node::DeflateSettings{true, 64, 1});
    return true;
  }();
  (void)enabled;
  const std::string_view input(reinterpret_cast<const char*>(bytes), size);
  inflateWhole(input);
  const size_t cut = input.find('\n');
  if (cut == std::string_view::npos || cut > 512) {
    return 0;
  }
  feedProcessor(input.substr(0, cut), std::string(input.substr(cut + 1)));
  return 0;
}
