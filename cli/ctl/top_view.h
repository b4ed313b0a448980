#pragma once
// What `heraldctl top` shows, from two samples of the cluster taken `seconds` apart: rates are
// differences of the counters the API reports. Pure (no I/O), so it is unit-tested.
#include <string>

#include "herald/v1/control.pb.h"

namespace herald::ctl {

struct TopSample {
  herald::v1::ClusterStatsResponse stats;
  herald::v1::ListNodesResponse nodes;
  herald::v1::ListChannelsResponse channels;
  herald::v1::InfoResponse info;
  double at_seconds = 0;  // monotonic time of the sample
};

// How many channels the view lists, by subscribers.
inline constexpr size_t kTopChannels = 10;

// The frame: a summary line, nodes with deliveries/s, and the top channels by subscribers (of
// `channels` and the stats' top_subscribed_channels) with publications/s (from their offsets).
// Without `previous`, rates show as "-".
std::string renderTop(const TopSample* previous, const TopSample& current,
                      const std::string& control_address);

}  // namespace herald::ctl
