#include "cli/ctl/stats_view.h"

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "cli/table.h"

namespace herald::ctl {

namespace {

std::string windowName(uint32_t seconds) {
  return seconds < 60      ? std::to_string(seconds) + " s"
         : seconds < 3600  ? std::to_string(seconds / 60) + " min"
         : seconds < 86400 ? std::to_string(seconds / 3600) + " h"
                           : std::to_string(seconds / 86400) + " day";
}

// Whether a window is shown at all: the day only once the replica has run a whole day (n/a
// rather than a guess); shorter windows not yet full show what was counted, marked *.
bool shown(const herald::v1::StatsWindow& w) { return w.complete() || w.seconds() < 86400; }

}  // namespace

void printStatsWindows(const herald::v1::ClusterStatsResponse& resp) {
  if (resp.windows_size() == 0) {
    return;
  }
  bool partial = false;
  auto value = [&partial](const herald::v1::StatsWindow& w, const std::string& text) {
    if (!shown(w)) {
      return std::string("n/a");
    }
    partial = partial || !w.complete();
    return text + (w.complete() ? "" : "*");
  };
  std::printf("\n");
  herald::cli::Table summary({"WINDOW", "PUBLICATIONS", "DELIVERIES", "ACTIVE USERS"});
  std::vector<std::string> header = {"NAMESPACE"};
  std::vector<std::string> busiest_header = {"#"};
  std::vector<std::string> namespaces;
  for (const auto& w : resp.windows()) {
    summary.add({windowName(w.seconds()), value(w, std::to_string(w.publications())),
                 value(w, std::to_string(w.deliveries())),
                 value(w, std::to_string(w.active_users()))});
    header.push_back(windowName(w.seconds()));
    busiest_header.push_back("BUSIEST " + windowName(w.seconds()));
    for (const auto& ns : w.namespaces()) {
      if (std::find(namespaces.begin(), namespaces.end(), ns.namespace_()) == namespaces.end()) {
        namespaces.push_back(ns.namespace_());
      }
    }
  }
  summary.print(stdout);
  if (!namespaces.empty()) {
    std::printf("\npublications/deliveries by namespace\n");
    herald::cli::Table by_ns(header);
    for (const auto& name : namespaces) {
      std::vector<std::string> row = {name};
      for (const auto& w : resp.windows()) {
        uint64_t publications = 0;
        uint64_t deliveries = 0;
        for (const auto& ns : w.namespaces()) {
          if (ns.namespace_() == name) {
            publications += ns.publications();
            deliveries += ns.deliveries();
          }
        }
        row.push_back(value(w, std::to_string(publications) + "/" + std::to_string(deliveries)));
      }
      by_ns.add(row);
    }
    by_ns.print(stdout);
  }
  size_t ranks = 0;
  for (const auto& w : resp.windows()) {
    ranks = std::max(ranks, static_cast<size_t>(w.top_channels_size()));
  }
  if (ranks > 0) {
    std::printf("\nbusiest channels (publications/deliveries)\n");
    herald::cli::Table busiest(busiest_header);
    for (size_t i = 0; i < ranks; ++i) {
      std::vector<std::string> row = {std::to_string(i + 1)};
      for (const auto& w : resp.windows()) {
        if (!shown(w)) {
          row.push_back("n/a");
        } else if (i < static_cast<size_t>(w.top_channels_size())) {
          const auto& c = w.top_channels(static_cast<int>(i));
          row.push_back(c.channel() + " (" + std::to_string(c.publications()) + "/" +
                        std::to_string(c.deliveries()) + ")");
        } else {
          row.push_back("-");
        }
      }
      busiest.add(row);
    }
    busiest.print(stdout);
  }
  if (partial) {
    std::printf("\n* the window is longer than this control plane has run: counted since start\n");
  }
}

void printTopSubscribed(const herald::v1::ClusterStatsResponse& resp) {
  if (resp.top_subscribed_channels_size() == 0) {
    return;
  }
  std::printf("\nchannels with most subscribers\n");
  herald::cli::Table t({"CHANNEL", "SUBSCRIBERS", "NODES"});
  for (const auto& c : resp.top_subscribed_channels()) {
    t.add({c.channel(), std::to_string(c.subscribers()), std::to_string(c.nodes())});
  }
  t.print(stdout);
}

}  // namespace herald::ctl
