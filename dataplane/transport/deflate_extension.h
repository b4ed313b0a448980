#pragma once

// Herald's permessage-deflate for websocketpp: the config's permessage_deflate_type. Unlike
// websocketpp's own extension (a zlib window of ~130 KB kept per connection), it negotiates
// no context takeover both ways and keeps no zlib state: a connection holds a flag and, while
// a compressed message is arriving, its compressed bytes (bounded by the inbound limit).
// Outbound frames are compressed once per node (PreparedFrame::deflated); inbound messages
// are inflated whole, with the thread's decompressor, when their last frame is in. Included by
// ws_config.h only.

#include <string>
#include <utility>

#include <websocketpp/common/system_error.hpp>
#include <websocketpp/extensions/extension.hpp>
#include <websocketpp/frame.hpp>
#include <websocketpp/http/constants.hpp>
#include <websocketpp/processors/base.hpp>
#include <websocketpp/utf8_validator.hpp>

#include "common/deflate_codec.h"
#include "dataplane/transport/deflate_negotiation.h"
#include "dataplane/transport/deflate_settings.h"

namespace herald::node {

// The slack a compressed message may have over the inflated limit (stored blocks add 5 bytes
// per 64 KiB, and a flush a few more): larger compressed input is refused before inflating.
constexpr size_t kDeflateSlackBytes = 1024;

class DeflateExtension {
  using error_code = websocketpp::lib::error_code;

 public:
  // ---- websocketpp's extension interface (processors/hybi13.hpp)

  std::pair<error_code, std::string> negotiate(const websocketpp::http::attribute_list& offer) {
    auto answer = answerDeflateOffer(offer);
    if (!answer) {
      return {
          websocketpp::extensions::error::make_error_code(websocketpp::extensions::error::general),
          std::string()};
    }
    enabled_ = true;
    return {error_code(), std::move(*answer)};
  }
  error_code init(bool /*is_server*/) { return error_code(); }
  // Offers are considered only while the node has compression on.
  bool is_implemented() const { return deflateSettings().enabled; }
  bool is_enabled() const { return enabled_; }
  std::string generate_offer() const { return std::string(); }  // servers do not offer

  // websocketpp's per-connection framing (a message sent unprepared and marked compressed):
  // the node prepares its frames itself, but this stays correct if something does call it.
  // websocketpp strips the 00 00 ff ff itself, so it is put back here.
  error_code compress(const std::string& in, std::string& out) {
    if (!deflateMessage(in, deflateSettings().level, &out)) {
      return websocketpp::processor::error::make_error_code(websocketpp::processor::error::general);
    }
    out.append("\x00\x00\xff\xff", 4);
    return error_code();
  }
  // Not reached: the processor's payload handling is specialised (below) to call take().
  error_code decompress(const uint8_t*, size_t, std::string&) {
    return websocketpp::processor::error::make_error_code(websocketpp::processor::error::general);
  }

  // ---- what the specialised processor calls

  // Holds a compressed message's bytes until its last frame; too many for `limit`: 1009.
  error_code take(const uint8_t* bytes, size_t len, size_t limit) {
    if (pending_.size() + len > limit + kDeflateSlackBytes) {
      release();
      return websocketpp::processor::error::make_error_code(
          websocketpp::processor::error::message_too_big);
    }
    pending_.append(reinterpret_cast<const char*>(bytes), len);
    return error_code();
  }

  // Inflates the held message into `out`: larger than `limit` is 1009, a bad stream 1007.
  error_code finish(size_t limit, std::string& out) {
    const InflateResult result = inflateMessage(pending_, limit, &out);
    release();
    switch (result) {
      case InflateResult::kOk:
        return error_code();
      case InflateResult::kTooLarge:
        return websocketpp::processor::error::make_error_code(
            websocketpp::processor::error::message_too_big);
      case InflateResult::kCorrupt:
        break;
    }
    return websocketpp::processor::error::make_error_code(
        websocketpp::processor::error::invalid_payload);
  }

 private:
  void release() {
    if (pending_.capacity() > 1024) {
      std::string().swap(pending_);  // a large message's buffer does not stay with the client
    } else {
      pending_.clear();
    }
  }

  bool enabled_ = false;
  std::string pending_;
};

// The bodies of the hybi13 processor's payload and end-of-message steps for Herald's configs
// (ws_config.h specialises them): websocketpp inflates as frames arrive and checks the limit
// against compressed sizes only; these hold a compressed message whole and inflate it once,
// bounded by the connection's inbound limit.
namespace deflate_processor {

template <typename Metadata>
size_t consumePayload(uint8_t* buf, size_t len, bool masked, Metadata& msg,
                      DeflateExtension& deflate, size_t limit, size_t& bytes_needed,
                      websocketpp::lib::error_code& ec) {
  namespace wpp = websocketpp;
  if (masked) {
    msg.prepared_key = wpp::frame::byte_mask_circ(buf, len, msg.prepared_key);
  }
  if (deflate.is_enabled() && msg.msg_ptr->get_compressed()) {
    ec = deflate.take(buf, len, limit);
    if (ec) {
      return 0;
    }
  } else {
    std::string& out = msg.msg_ptr->get_raw_payload();
    const size_t offset = out.size();
    out.append(reinterpret_cast<char*>(buf), len);
    if (msg.msg_ptr->get_opcode() == wpp::frame::opcode::TEXT &&
        !msg.validator.decode(out.begin() + offset, out.end())) {
      ec = wpp::processor::error::make_error_code(wpp::processor::error::invalid_utf8);
      return 0;
    }
  }
  bytes_needed -= len;
  return len;
}

template <typename Metadata>
websocketpp::lib::error_code finishMessage(Metadata& msg, DeflateExtension& deflate, size_t limit,
                                           bool text) {
  namespace wpp = websocketpp;
  std::string& out = msg.msg_ptr->get_raw_payload();
  if (deflate.is_enabled() && msg.msg_ptr->get_compressed()) {
    if (auto ec = deflate.finish(limit, out)) {
      return ec;
    }
    if (text && !msg.validator.decode(out.begin(), out.end())) {
      return wpp::processor::error::make_error_code(wpp::processor::error::invalid_utf8);
    }
  }
  if (text && !msg.validator.complete()) {
    return wpp::processor::error::make_error_code(wpp::processor::error::invalid_utf8);
  }
  return wpp::lib::error_code();
}

}  // namespace deflate_processor

}  // namespace herald::node

// websocketpp's processor, specialised for a Herald config: the payload and end-of-message
// steps above. Member specialisations need the exact class, hence a macro for the two configs.
#define HERALD_DEFLATE_PROCESSOR(Config)                                                           \
  template <>                                                                                      \
  inline size_t websocketpp::processor::hybi13<Config>::process_payload_bytes(                     \
      uint8_t* buf, size_t len, lib::error_code& ec) {                                             \
    return herald::node::deflate_processor::consumePayload(                                        \
        buf, len, frame::get_masked(m_basic_header), *m_current_msg, m_permessage_deflate,         \
        base::m_max_message_size, m_bytes_needed, ec);                                             \
  }                                                                                                \
  template <>                                                                                      \
  inline websocketpp::lib::error_code websocketpp::processor::hybi13<Config>::finalize_message() { \
    const lib::error_code ec = herald::node::deflate_processor::finishMessage(                     \
        *m_current_msg, m_permessage_deflate, base::m_max_message_size,                            \
        frame::get_opcode(m_basic_header) == frame::opcode::TEXT);                                 \
    if (!ec) {                                                                                     \
      m_state = READY;                                                                             \
    }                                                                                              \
    return ec;                                                                                     \
  }
