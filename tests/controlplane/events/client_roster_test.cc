// What the backend is told about connections and their subscriptions (docs/hooks.md
// "Events"): each once, in order, across full lists and node losses.
#include "controlplane/events/client_roster.h"

#include <gtest/gtest.h>

namespace herald::control {
namespace {

herald::v1::ClientEvent event(herald::v1::ClientEvent::Kind kind, const char* client,
                              const char* user, const char* channel = "", uint32_t code = 0,
                              const char* reason = "") {
  herald::v1::ClientEvent e;
  e.set_kind(kind);
  e.set_client(client);
  e.set_user(user);
  e.set_channel(channel);
  e.set_code(code);
  e.set_reason(reason);
  return e;
}

// "type client user channel [code reason]" of each transition.
std::vector<std::string> describe(const std::vector<PresenceTransition>& ts) {
  std::vector<std::string> out;
  for (const auto& t : ts) {
    std::string line = std::string(presenceChangeName(t.change)) + " " + t.client + " " + t.user;
    if (!t.channel.empty()) {
      line += " " + t.channel;
    }
    if (t.change == PresenceChange::kClientDisconnected) {
      line += " " + std::to_string(t.code) + " " + t.reason;
    }
    out.push_back(line);
  }
  return out;
}

using V = std::vector<std::string>;
using herald::v1::ClientEvent;

TEST(ClientRosterTest, EventsBecomeTransitionsOnceAndInOrder) {
  ClientRoster roster(100);
  std::vector<PresenceTransition> out;
  roster.apply(event(ClientEvent::KIND_CONNECTED, "c1", "alice"), "n1", &out);
  roster.apply(event(ClientEvent::KIND_CONNECTED, "c1", "alice"), "n1", &out);  // again
  roster.apply(event(ClientEvent::KIND_SUBSCRIBED, "c1", "alice", "chat:1"), "n1", &out);
  roster.apply(event(ClientEvent::KIND_SUBSCRIBED, "c9", "bob", "chat:1"), "n1", &out);
  roster.apply(event(ClientEvent::KIND_SUBSCRIBED, "c1", "alice", "chat:2"), "n1", &out);
  roster.apply(event(ClientEvent::KIND_UNSUBSCRIBED, "c1", "alice", "chat:1"), "n1", &out);
  roster.apply(event(ClientEvent::KIND_UNSUBSCRIBED, "c1", "alice", "chat:1"), "n1", &out);
  roster.apply(event(ClientEvent::KIND_DISCONNECTED, "c1", "", "", 4100, "bye"), "n1", &out);
  roster.apply(event(ClientEvent::KIND_DISCONNECTED, "c1", "", "", 4100, "bye"), "n1", &out);
  EXPECT_EQ(describe(out),
            (V{"client.connected c1 alice", "subscription.added c1 alice chat:1",
               "subscription.added c1 alice chat:2", "subscription.removed c1 alice chat:1",
               "subscription.removed c1 alice chat:2", "client.disconnected c1 alice 4100 bye"}))
      << "repeats and unknown connections say nothing; a close ends its subscriptions first";
  EXPECT_EQ(roster.clients(), 0u);
}

TEST(ClientRosterTest, AFullListChangesOnlyWhatChanged) {
  ClientRoster roster(100);
  std::vector<PresenceTransition> out;
  roster.apply(event(ClientEvent::KIND_CONNECTED, "c1", "alice"), "n1", &out);
  roster.apply(event(ClientEvent::KIND_SUBSCRIBED, "c1", "alice", "a"), "n1", &out);
  roster.apply(event(ClientEvent::KIND_CONNECTED, "c2", "bob"), "n1", &out);
  out.clear();
  // After a link flap: c2 closed meanwhile, c1 left `a` for `b`, c3 arrived.
  google::protobuf::RepeatedPtrField<herald::v1::ClientState> now;
  auto* c1 = now.Add();
  c1->set_client("c1");
  c1->set_user("alice");
  c1->add_channels("b");
  auto* c3 = now.Add();
  c3->set_client("c3");
  c3->set_user("");
  // In two parts, as a node sends a long list.
  google::protobuf::RepeatedPtrField<herald::v1::ClientState> first, second;
  *first.Add() = now[0];
  *second.Add() = now[1];
  roster.beginFull();
  roster.addFull(first);
  EXPECT_TRUE(out.empty()) << "nothing changes before the list ends";
  roster.addFull(second);
  roster.endFull("n1", "gone while the link was down", &out);
  EXPECT_EQ(describe(out), (V{"client.disconnected c2 bob 0 gone while the link was down",
                              "subscription.removed c1 alice a", "subscription.added c1 alice b",
                              "client.connected c3 "}));
  out.clear();
  roster.beginFull();
  roster.addFull(now);
  roster.endFull("n1", "x", &out);
  EXPECT_TRUE(out.empty()) << "the same list again changes nothing";
  roster.addFull(now);
  roster.endFull("n1", "x", &out);
  EXPECT_TRUE(out.empty()) << "parts without a start are ignored";
}

TEST(ClientRosterTest, AConnectionThatAuthenticatesCarriesItsUserFromThen) {
  ClientRoster roster(100);
  std::vector<PresenceTransition> out;
  roster.apply(event(ClientEvent::KIND_CONNECTED, "c1", ""), "n1", &out);
  roster.apply(event(ClientEvent::KIND_SUBSCRIBED, "c1", "", "a"), "n1", &out);
  roster.apply(event(ClientEvent::KIND_IDENTIFIED, "c1", "alice"), "n1", &out);
  roster.apply(event(ClientEvent::KIND_DISCONNECTED, "c1", "", "", 1000, "bye"), "n1", &out);
  EXPECT_EQ(describe(out),
            (V{"client.connected c1 ", "subscription.added c1  a",
               "subscription.removed c1 alice a", "client.disconnected c1 alice 1000 bye"}));
  EXPECT_TRUE(out[2].reason.empty()) << "a subscription ended by a close has no reason of its own";
}

TEST(ClientRosterTest, ALostNodeEndsEverythingWithCode1006) {
  ClientRoster roster(100);
  std::vector<PresenceTransition> out;
  roster.apply(event(ClientEvent::KIND_CONNECTED, "c1", "alice"), "n1", &out);
  roster.apply(event(ClientEvent::KIND_SUBSCRIBED, "c1", "alice", "a"), "n1", &out);
  out.clear();
  roster.clear("n1", ClientRoster::kCodeNodeLost, "node n1 stopped sending heartbeats", &out);
  EXPECT_EQ(describe(out),
            (V{"subscription.removed c1 alice a",
               "client.disconnected c1 alice 1006 node n1 stopped sending heartbeats"}));
  out.clear();
  roster.clear("n1", ClientRoster::kCodeNodeLost, "again", &out);
  EXPECT_TRUE(out.empty()) << "each loss is reported once";
}

TEST(ClientRosterTest, ANodeCannotMakeItHoldMoreThanItsBound) {
  ClientRoster roster(3);
  std::vector<PresenceTransition> out;
  for (const char* id : {"c1", "c2", "c3", "c4"}) {
    roster.apply(event(ClientEvent::KIND_CONNECTED, id, "u"), "n1", &out);
  }
  roster.apply(event(ClientEvent::KIND_SUBSCRIBED, "c1", "u", "a"), "n1", &out);
  EXPECT_EQ(roster.clients(), 3u);
  EXPECT_EQ(out.size(), 3u) << "past the bound nothing is held, so nothing is reported";
  roster.apply(event(ClientEvent::KIND_DISCONNECTED, "c4", "u"), "n1", &out);
  EXPECT_EQ(out.size(), 3u) << "a connection never held has no close to report";
}

TEST(ClientRosterTest, ReconcilingWithWhatRedisKeptReportsOnlyTheDifference) {
  ClientRoster roster(100);
  std::vector<PresenceTransition> out;
  roster.apply(event(ClientEvent::KIND_CONNECTED, "c1", "alice"), "n1", &out);
  roster.apply(event(ClientEvent::KIND_SUBSCRIBED, "c1", "alice", "chat:1"), "n1", &out);
  roster.apply(event(ClientEvent::KIND_CONNECTED, "c2", "bob"), "n1", &out);
  out.clear();
  // Redis kept c1 (without its subscription) and a c3 that closed meanwhile here.
  herald::v1::ClientState c1;
  c1.set_client("c1");
  c1.set_user("alice");
  herald::v1::ClientState c3;
  c3.set_client("c3");
  c3.set_user("carol");
  roster.reconcile({c1, c3}, "n1", "cut off", &out);
  EXPECT_EQ(describe(out), (V{"client.disconnected c3 carol 0 cut off", "client.connected c2 bob",
                              "subscription.added c1 alice chat:1"}));
  EXPECT_EQ(roster.clients(), 2u);
}

}  // namespace
}  // namespace herald::control
