#include "dataplane/fanout/delivery.h"

#include <websocketpp/processors/hybi13.hpp>

#include "dataplane/fanout/prepared_frame.h"
#include "dataplane/session/frame_builder.h"

namespace herald::node {

FramePtr prepareTextFrame(const std::string& payload) {
  // One processor per calling thread (the NodeLink reader): framing happens once here, and
  // every connection then queues the same prepared message without copying it.
  thread_local auto manager = std::make_shared<WsConfig::con_msg_manager_type>();
  thread_local WsConfig::rng_type rng;
  thread_local websocketpp::processor::hybi13<WsConfig> processor(false, true, manager, rng);
  auto in = manager->get_message(websocketpp::frame::opcode::text, payload.size());
  in->set_payload(payload);
  auto out = manager->get_message();
  processor.prepare_data_frame(in, out);
  auto frame = std::make_shared<PreparedFrame>();
  frame->message = out;
  return frame;
}

FramePtr joinFrames(const std::vector<const PreparedFrame*>& frames) {
  thread_local auto manager = std::make_shared<WsConfig::con_msg_manager_type>();
  size_t total = 0;
  for (const auto* f : frames) {
    total += frameBytes(*f);
  }
  std::string bytes;
  bytes.reserve(total);
  for (const auto* f : frames) {
    bytes.append(f->message->get_header());
    bytes.append(f->message->get_payload());
  }
  auto out = manager->get_message(websocketpp::frame::opcode::text, 0);
  out->set_payload(std::move(bytes));
  out->set_prepared(true);
  auto frame = std::make_shared<PreparedFrame>();
  frame->message = out;
  return frame;
}

size_t frameBytes(const PreparedFrame& frame) {
  return frame.message->get_header().size() + frame.message->get_payload().size();
}

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
