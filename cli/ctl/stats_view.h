#pragma once
// `heraldctl stats`: ClusterStats' activity windows and biggest channels as tables.
#include "herald/v1/control.pb.h"

namespace herald::ctl {

// Per window: publications, deliveries, active users; then per namespace and the busiest
// channels (publications/deliveries). A window longer than the replica has run is marked *,
// the day "n/a" until it has run a day.
void printStatsWindows(const herald::v1::ClusterStatsResponse& resp);
// The channels with most subscribers now.
void printTopSubscribed(const herald::v1::ClusterStatsResponse& resp);

}  // namespace herald::ctl
