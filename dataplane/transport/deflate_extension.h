#pragma once

// Herald's permessage-deflate for websocketpp: the config's permessage_deflate_type. Unlike
// websocketpp's own extension (a zlib window of ~130 KB kept per connection), it agrees no
// context takeover both ways and keeps no zlib state: a connection holds one flag. Outbound
// frames are compressed once per node (PreparedFrame::deflated); an inbound message is read
// whole in its compressed form (bounded by the inbound limit like any message), then inflated
// once, bounded by the same limit, by the thread's decompressor. Included by ws_config.h only.

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
  // Not reached: the processor's payload handling is specialised (below) to call finish().
  error_code decompress(const uint8_t*, size_t, std::string&) {
    return websocketpp::processor::error::make_error_code(websocketpp::processor::error::general);
  }

  // ---- what the specialised processor calls

  // Inflates a whole message read in compressed form, in place: more than `limit` bytes is
  // 1009, a bad stream 1007.
  static error_code finish(size_t limit, std::string& payload) {
    std::string inflated;
    const InflateResult result = inflateMessage(payload, limit, &inflated);
    switch (result) {
      case InflateResult::kOk:
        payload.swap(inflated);
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
  bool enabled_ = false;
};

// The bodies of the hybi13 processor's payload and end-of-message steps for Herald's configs
// (ws_config.h specialises them). websocketpp inflates as frames arrive, checking its limit
// against compressed sizes only; these keep a compressed message's bytes as they came, so
// websocketpp's own limit bounds them, and inflate it once at its end, bounded by the same
// limit. RSV1 on a continuation frame fails the connection (RFC 7692 6.1).
namespace deflate_processor {

template <typename Metadata>
size_t consumePayload(uint8_t* buf, size_t len, websocketpp::frame::basic_header header,
                      Metadata& msg, const DeflateExtension& deflate, size_t& bytes_needed,
                      websocketpp::lib::error_code& ec) {
  namespace wpp = websocketpp;
  if (wpp::frame::get_rsv1(header) &&
      wpp::frame::get_opcode(header) == wpp::frame::opcode::CONTINUATION) {
    ec = wpp::processor::error::make_error_code(wpp::processor::error::invalid_rsv_bit);
    return 0;
  }
  if (wpp::frame::get_masked(header)) {
    msg.prepared_key = wpp::frame::byte_mask_circ(buf, len, msg.prepared_key);
  }
  std::string& out = msg.msg_ptr->get_raw_payload();
  const size_t offset = out.size();
  out.append(reinterpret_cast<char*>(buf), len);
  // Compressed bytes are checked for UTF-8 once inflated (finishMessage).
  const bool compressed = deflate.is_enabled() && msg.msg_ptr->get_compressed();
  if (!compressed && msg.msg_ptr->get_opcode() == wpp::frame::opcode::TEXT &&
      !msg.validator.decode(out.begin() + offset, out.end())) {
    ec = wpp::processor::error::make_error_code(wpp::processor::error::invalid_utf8);
    return 0;
  }
  bytes_needed -= len;
  return len;
}

template <typename Metadata>
websocketpp::lib::error_code finishMessage(Metadata& msg, const DeflateExtension& deflate,
                                           size_t limit,
                                           websocketpp::frame::basic_header last_header) {
  namespace wpp = websocketpp;
  if (wpp::frame::get_rsv1(last_header) &&
      wpp::frame::get_opcode(last_header) == wpp::frame::opcode::CONTINUATION) {
    return wpp::processor::error::make_error_code(wpp::processor::error::invalid_rsv_bit);
  }
  // The message's opcode, not the last frame's (a continuation in a fragmented message).
  const bool text = msg.msg_ptr->get_opcode() == wpp::frame::opcode::TEXT;
  std::string& out = msg.msg_ptr->get_raw_payload();
  if (deflate.is_enabled() && msg.msg_ptr->get_compressed()) {
    if (auto ec = DeflateExtension::finish(limit, out)) {
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
        buf, len, m_basic_header, *m_current_msg, m_permessage_deflate, m_bytes_needed, ec);       \
  }                                                                                                \
  template <>                                                                                      \
  inline websocketpp::lib::error_code websocketpp::processor::hybi13<Config>::finalize_message() { \
    const lib::error_code ec = herald::node::deflate_processor::finishMessage(                     \
        *m_current_msg, m_permessage_deflate, base::m_max_message_size, m_basic_header);           \
    if (!ec) {                                                                                     \
      m_state = READY;                                                                             \
    }                                                                                              \
    return ec;                                                                                     \
  }
