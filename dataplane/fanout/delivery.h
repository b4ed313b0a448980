#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/tag_set.h"
#include "herald/v1/node_link.pb.h"

namespace herald::node {

// A WebSocket frame built once (header + payload) and written as-is to every recipient. The
// one name for prepared bytes on the node; defined in fanout/prepared_frame.h (websocketpp).
struct PreparedFrame;
using FramePtr = std::shared_ptr<const PreparedFrame>;

// Frames a text payload once, on the calling thread.
FramePtr prepareTextFrame(const std::string& payload);
// Several prepared frames back to back as one: one write (and one queue entry) per connection
// for a run of publications on the same channel.
FramePtr joinFrames(const std::vector<FramePtr>& frames);
// Bytes on the wire (header + payload).
size_t frameBytes(const PreparedFrame& frame);
// A delivery's `message` frame with `"prev":N` for a filtered subscription (frame_builder.h
// withPrev): built once per filter group and publication, on the shard's thread.
FramePtr withPrevFrame(const PreparedFrame& message, uint64_t prev, int64_t conflated = -1);

// One publication on its way to the shards: immutable, shared by all of them.
struct Delivery {
  herald::v1::DeliveryTarget target = herald::v1::DELIVERY_TARGET_CHANNEL;
  std::string channel;
  std::string user;
  uint64_t offset = 0;           // position in the channel's or user's stream; 0 for broadcasts
  int64_t accepted_unix_us = 0;  // when herald-control accepted it; 0 when it did not say
  std::string epoch;             // of `offset`
  TagSet tags;                   // the publication's, for subscriptions' filters
  FramePtr frame;
};
using DeliveryPtr = std::shared_ptr<const Delivery>;

// The `message` frame of docs/protocol.md for a publication, serialised and framed once: every
// shard and connection shares these bytes. On the NodeLink reader thread.
DeliveryPtr makeDelivery(const herald::v1::Deliver& deliver);

}  // namespace herald::node
