#include "dataplane/fanout/delivery.h"

#include "common/deflate_codec.h"
#include "dataplane/fanout/prepared_frame.h"
#include "dataplane/session/frame_builder.h"
#include "dataplane/transport/deflate_settings.h"

namespace herald::node {

namespace {

std::shared_ptr<WsConfig::con_msg_manager_type> messageManager() {
  thread_local auto manager = std::make_shared<WsConfig::con_msg_manager_type>();
  return manager;
}

// Header and payload as one prepared message, the form joinFrames() writes.
WsMessagePtr preparedMessage(std::string bytes) {
  auto out = messageManager()->get_message(websocketpp::frame::opcode::text, 0);
  out->set_payload(std::move(bytes));
  out->set_prepared(true);
  return out;
}

// The text frame (header and payload) of `payload` compressed, for every connection that
// agreed permessage-deflate; null when it does not come out smaller.
WsMessagePtr deflatedTextMessage(std::string_view payload) {
  std::string compressed;
  if (!deflateMessage(payload, deflateSettings().level, &compressed) ||
      compressed.size() >= payload.size()) {
    return nullptr;
  }
  // FIN, RSV1 (compressed, RFC 7692 6), text; a server's frames are not masked.
  const websocketpp::frame::basic_header header(websocketpp::frame::opcode::text, compressed.size(),
                                                true, false, true);
  const websocketpp::frame::extended_header extended(compressed.size());
  auto out = messageManager()->get_message(websocketpp::frame::opcode::text, 0);
  out->set_header(websocketpp::frame::prepare_header(header, extended));
  out->set_payload(std::move(compressed));
  out->set_prepared(true);
  return out;
}

}  // namespace

FramePtr prepareTextFrame(const std::string& payload) {
  // One processor per calling thread (the NodeLink reader): framing happens once here, and
  // every connection then queues the same prepared message without copying it.
  thread_local WsConfig::rng_type rng;
  thread_local websocketpp::processor::hybi13<WsConfig> processor(false, true, messageManager(),
                                                                  rng);
  auto in = messageManager()->get_message(websocketpp::frame::opcode::text, payload.size());
  in->set_payload(payload);
  auto out = messageManager()->get_message();
  processor.prepare_data_frame(in, out);
  auto frame = std::make_shared<PreparedFrame>();
  frame->message = out;
  return frame;
}

const WsMessagePtr& PreparedFrame::deflated() const {
  std::call_once(deflate_once_, [this] {
    const DeflateSettings& settings = deflateSettings();
    if (!settings.enabled) {
      return;
    }
    if (parts.empty()) {
      if (message->get_payload().size() >= settings.min_bytes) {
        deflated_ = deflatedTextMessage(message->get_payload());
      }
      return;
    }
    // A run: each message stays whole, compressed or not, back to back.
    const auto chosen = [](const FramePtr& part) -> const WsMessagePtr& {
      return part->deflated() != nullptr ? part->deflated() : part->message;
    };
    bool any = false;
    size_t total = 0;
    for (const auto& part : parts) {
      any = any || part->deflated() != nullptr;
      total += wireBytes(chosen(part));
    }
    if (!any) {
      return;
    }
    std::string mixed;
    mixed.reserve(total);
    for (const auto& part : parts) {
      mixed.append(chosen(part)->get_header());
      mixed.append(chosen(part)->get_payload());
    }
    deflated_ = preparedMessage(std::move(mixed));
  });
  return deflated_;
}

FramePtr joinFrames(const std::vector<FramePtr>& frames) {
  size_t total = 0;
  for (const auto& f : frames) {
    total += frameBytes(*f);
  }
  std::string bytes;
  bytes.reserve(total);
  for (const auto& f : frames) {
    bytes.append(f->message->get_header());
    bytes.append(f->message->get_payload());
  }
  auto frame = std::make_shared<PreparedFrame>();
  frame->message = preparedMessage(std::move(bytes));
  if (deflateSettings().enabled) {
    frame->parts = frames;  // compressed lazily, if a compressing connection writes it
  }
  return frame;
}

size_t frameBytes(const PreparedFrame& frame) { return wireBytes(frame.message); }

FramePtr withPrevFrame(const PreparedFrame& message, uint64_t prev, int64_t conflated) {
  return prepareTextFrame(withPrev(message.message->get_payload(), prev, conflated));
}

DeliveryPtr makeDelivery(const herald::v1::Deliver& deliver) {
  auto delivery = std::make_shared<Delivery>();
  delivery->target = deliver.target();
  delivery->channel = deliver.publication().channel();
  delivery->user = deliver.user();
  delivery->offset = deliver.publication().offset();
  delivery->accepted_unix_us = deliver.publication().accepted_unix_us();
  delivery->epoch = deliver.publication().epoch();
  delivery->tags = TagSet::of(deliver.publication().tags());
  delivery->frame = prepareTextFrame(buildMessageFrame(deliver));
  return delivery;
}

}  // namespace herald::node
