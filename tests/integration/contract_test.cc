// gRPC contract: every RPC of the v1 Control service, called on a running control plane, with
// valid and invalid input; checks status codes and response shapes. Access control (keys,
// roles) and the NodeLink service: contract_access_test.cc.
#include <map>
#include <string>

#include <gtest/gtest.h>

#include "integration/contract_fixture.h"
#include "integration/support/ws_client.h"

namespace herald::testing {
namespace {

TEST_F(ContractTest, NamespaceLifecycle) {
  herald::v1::CreateNamespaceRequest create;
  *create.mutable_namespace_() = ns("contract", herald::v1::SUBSCRIBE_RULE_PUBLIC);
  create.mutable_namespace_()->set_history_size(10);
  herald::v1::CreateNamespaceResponse created;
  ASSERT_TRUE(call(&Stub::CreateNamespace, create, &created).ok());
  EXPECT_EQ(created.namespace_().name(), "contract");
  EXPECT_EQ(created.namespace_().history_size(), 10u);
  EXPECT_GT(created.config_version(), 0u);

  herald::v1::CreateNamespaceResponse again;
  EXPECT_EQ(call(&Stub::CreateNamespace, create, &again).error_code(), StatusCode::ALREADY_EXISTS);

  herald::v1::GetNamespaceRequest get;
  get.set_name("contract");
  herald::v1::GetNamespaceResponse got;
  ASSERT_TRUE(call(&Stub::GetNamespace, get, &got).ok());
  EXPECT_EQ(got.namespace_().subscribe_rule(), herald::v1::SUBSCRIBE_RULE_PUBLIC);

  herald::v1::UpdateNamespaceRequest update;
  *update.mutable_namespace_() = ns("contract", herald::v1::SUBSCRIBE_RULE_AUTHENTICATED);
  herald::v1::UpdateNamespaceResponse updated;
  ASSERT_TRUE(call(&Stub::UpdateNamespace, update, &updated).ok());
  EXPECT_GT(updated.config_version(), created.config_version());

  herald::v1::ListNamespacesRequest list;
  herald::v1::ListNamespacesResponse listed;
  ASSERT_TRUE(call(&Stub::ListNamespaces, list, &listed).ok());
  bool found = false;
  for (const auto& n : listed.namespaces()) {
    found |=
        n.name() == "contract" && n.subscribe_rule() == herald::v1::SUBSCRIBE_RULE_AUTHENTICATED;
  }
  EXPECT_TRUE(found);

  herald::v1::DeleteNamespaceRequest del;
  del.set_name("contract");
  herald::v1::DeleteNamespaceResponse deleted;
  ASSERT_TRUE(call(&Stub::DeleteNamespace, del, &deleted).ok());
  EXPECT_EQ(call(&Stub::GetNamespace, get, &got).error_code(), StatusCode::NOT_FOUND);
  EXPECT_EQ(call(&Stub::DeleteNamespace, del, &deleted).error_code(), StatusCode::NOT_FOUND);
  herald::v1::UpdateNamespaceResponse missing;
  EXPECT_EQ(call(&Stub::UpdateNamespace, update, &missing).error_code(), StatusCode::NOT_FOUND);
}

TEST_F(ContractTest, NamespaceValidation) {
  herald::v1::CreateNamespaceRequest bad;
  *bad.mutable_namespace_() = ns("Bad Name", herald::v1::SUBSCRIBE_RULE_PUBLIC);
  herald::v1::CreateNamespaceResponse resp;
  auto s = call(&Stub::CreateNamespace, bad, &resp);
  EXPECT_EQ(s.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_FALSE(s.error_message().empty());
  *bad.mutable_namespace_() = ns("x", static_cast<herald::v1::SubscribeRule>(42));
  EXPECT_EQ(call(&Stub::CreateNamespace, bad, &resp).error_code(), StatusCode::INVALID_ARGUMENT);
}

TEST_F(ContractTest, ListNamespacesPages) {
  for (const char* name : {"page-a", "page-b", "page-c"}) {
    herald::v1::CreateNamespaceRequest req;
    *req.mutable_namespace_() = ns(name, herald::v1::SUBSCRIBE_RULE_PUBLIC);
    herald::v1::CreateNamespaceResponse resp;
    ASSERT_TRUE(call(&Stub::CreateNamespace, req, &resp).ok());
  }
  herald::v1::ListNamespacesRequest req;
  req.set_page_size(1);
  std::vector<std::string> seen;
  for (int page = 0; page < 20; ++page) {
    herald::v1::ListNamespacesResponse resp;
    ASSERT_TRUE(call(&Stub::ListNamespaces, req, &resp).ok());
    ASSERT_LE(resp.namespaces_size(), 1);
    for (const auto& n : resp.namespaces()) {
      seen.push_back(n.name());
    }
    if (resp.next_page_token().empty()) {
      break;
    }
    req.set_page_token(resp.next_page_token());
  }
  EXPECT_NE(std::find(seen.begin(), seen.end(), "page-c"), seen.end());
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));

  // The default namespace has the empty name; paging must not stop at it.
  herald::v1::CreateNamespaceRequest def;
  *def.mutable_namespace_() = ns("", herald::v1::SUBSCRIBE_RULE_PUBLIC);
  herald::v1::CreateNamespaceResponse created;
  ASSERT_TRUE(call(&Stub::CreateNamespace, def, &created).ok());
  herald::v1::ListNamespacesRequest first;
  first.set_page_size(1);
  herald::v1::ListNamespacesResponse page;
  ASSERT_TRUE(call(&Stub::ListNamespaces, first, &page).ok());
  ASSERT_EQ(page.namespaces_size(), 1);
  EXPECT_EQ(page.namespaces(0).name(), "");
  EXPECT_FALSE(page.next_page_token().empty()) << "more namespaces follow the default one";
  herald::v1::ListNamespacesRequest bogus;
  bogus.set_page_token("not-a-token");
  EXPECT_EQ(call(&Stub::ListNamespaces, bogus, &page).error_code(), StatusCode::INVALID_ARGUMENT);
  herald::v1::DeleteNamespaceRequest del;
  herald::v1::DeleteNamespaceResponse deleted;
  ASSERT_TRUE(call(&Stub::DeleteNamespace, del, &deleted).ok());
}

TEST_F(ContractTest, LimitsGetAndSet) {
  herald::v1::GetLimitsResponse before;
  ASSERT_TRUE(call(&Stub::GetLimits, herald::v1::GetLimitsRequest(), &before).ok());
  EXPECT_EQ(before.limits().max_connections_per_node(), 10000u);
  EXPECT_EQ(before.limits().max_subscriptions_per_connection(), 50u);
  EXPECT_EQ(before.limits().max_inbound_frame_bytes(), 65536u);
  EXPECT_EQ(before.limits().max_connections_per_user(), 10u);
  EXPECT_EQ(before.limits().client_messages_per_minute(), 60u);
  EXPECT_EQ(before.limits().client_message_burst(), 10u);

  herald::v1::SetLimitsRequest set;
  set.mutable_limits()->set_max_subscriptions_per_connection(25);
  herald::v1::SetLimitsResponse after;
  ASSERT_TRUE(call(&Stub::SetLimits, set, &after).ok());
  EXPECT_EQ(after.limits().max_subscriptions_per_connection(), 25u);
  EXPECT_EQ(after.limits().max_connections_per_node(), 10000u);
  EXPECT_GT(after.config_version(), before.config_version());

  set.mutable_limits()->set_max_inbound_frame_bytes(10);
  EXPECT_EQ(call(&Stub::SetLimits, set, &after).error_code(), StatusCode::INVALID_ARGUMENT);
  herald::v1::SetLimitsRequest reset;
  ASSERT_TRUE(call(&Stub::SetLimits, reset, &after).ok());
}

TEST_F(ContractTest, PublishValidatesInput) {
  herald::v1::PublishRequest req;
  herald::v1::PublishResponse resp;
  req.set_channel("contract:ok");
  req.set_data(R"({"a":1})");
  ASSERT_TRUE(call(&Stub::Publish, req, &resp).ok());
  EXPECT_EQ(resp.offset(), 1u);
  EXPECT_EQ(resp.epoch().size(), 16u);
  EXPECT_FALSE(resp.duplicate());

  struct Case {
    std::string channel, data, event;
  };
  for (const Case& c : std::vector<Case>{{"", "1", ""},
                                         {"bad channel", "1", ""},
                                         {"contract:ok", "", ""},
                                         {"contract:ok", "{not json", ""},
                                         {"contract:ok", std::string(2 << 20, '1'), ""},
                                         {"contract:ok", "1", "bad event!"}}) {
    herald::v1::PublishRequest bad;
    bad.set_channel(c.channel);
    bad.set_data(c.data);
    bad.set_event(c.event);
    auto s = call(&Stub::Publish, bad, &resp);
    EXPECT_EQ(s.error_code(), StatusCode::INVALID_ARGUMENT) << c.channel << " / " << c.event;
    EXPECT_FALSE(s.error_message().empty());
  }
}

TEST_F(ContractTest, PublishIdempotencyKey) {
  herald::v1::PublishRequest req;
  req.set_channel("contract:idem");
  req.set_data("1");
  req.set_idempotency_key("order-77");
  herald::v1::PublishResponse first, retry;
  ASSERT_TRUE(call(&Stub::Publish, req, &first).ok());
  ASSERT_TRUE(call(&Stub::Publish, req, &retry).ok());
  EXPECT_TRUE(retry.duplicate());
  EXPECT_EQ(retry.offset(), first.offset());
}

TEST_F(ContractTest, PublishStreamPublishesEachAsItComesAndStopsAtTheFirstInvalid) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 10s);
  herald::v1::PublishStreamResponse resp;
  auto writer = cluster_->api().PublishStream(&ctx, &resp);
  for (int i = 0; i < 3; ++i) {
    herald::v1::PublishRequest p;
    p.set_channel("stream:a");
    p.set_data("{\"i\":" + std::to_string(i) + "}");
    p.set_idempotency_key(i == 2 ? "k0" : "k" + std::to_string(i));  // the third repeats k0
    ASSERT_TRUE(writer->Write(p));
  }
  writer->WritesDone();
  ASSERT_TRUE(writer->Finish().ok());
  EXPECT_EQ(resp.published(), 3u);
  EXPECT_EQ(resp.duplicates(), 1u);
  herald::v1::HistoryRequest h;
  h.set_channel("stream:a");
  herald::v1::HistoryResponse hr;
  ASSERT_TRUE(call(&Stub::History, h, &hr).ok());
  EXPECT_EQ(hr.offset(), 2u) << "the repeated key was not published again";

  grpc::ClientContext bad_ctx;
  bad_ctx.set_deadline(std::chrono::system_clock::now() + 10s);
  herald::v1::PublishStreamResponse bad_resp;
  auto bad = cluster_->api().PublishStream(&bad_ctx, &bad_resp);
  herald::v1::PublishRequest ok;
  ok.set_channel("stream:a");
  ok.set_data("1");
  herald::v1::PublishRequest invalid;
  invalid.set_channel("bad channel");
  invalid.set_data("1");
  bad->Write(ok);
  bad->Write(invalid);
  bad->WritesDone();
  auto status = bad->Finish();
  EXPECT_EQ(status.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("after 1 accepted"), std::string::npos)
      << status.error_message();
}

TEST_F(ContractTest, PublishBatchIsAllOrNothing) {
  herald::v1::PublishBatchRequest req;
  for (int i = 0; i < 3; ++i) {
    auto* p = req.add_publications();
    p->set_channel("contract:batch");
    p->set_data(std::to_string(i));
  }
  herald::v1::PublishBatchResponse resp;
  ASSERT_TRUE(call(&Stub::PublishBatch, req, &resp).ok());
  ASSERT_EQ(resp.results_size(), 3);
  EXPECT_EQ(resp.results(0).offset() + 2, resp.results(2).offset());

  req.mutable_publications(1)->set_data("{oops");
  herald::v1::PublishBatchResponse bad;
  auto s = call(&Stub::PublishBatch, req, &bad);
  EXPECT_EQ(s.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("publications[1]"), std::string::npos);
  herald::v1::PublishResponse next;
  herald::v1::PublishRequest probe = req.publications(0);
  ASSERT_TRUE(call(&Stub::Publish, probe, &next).ok());
  EXPECT_EQ(next.offset(), resp.results(2).offset() + 1) << "a refused batch assigned offsets";
  EXPECT_EQ(call(&Stub::PublishBatch, herald::v1::PublishBatchRequest(), &bad).error_code(),
            StatusCode::INVALID_ARGUMENT);

  // A bad idempotency key late in the batch refuses the whole batch too.
  req.mutable_publications(1)->set_data("1");
  req.mutable_publications(2)->set_idempotency_key(std::string(300, 'k'));
  EXPECT_EQ(call(&Stub::PublishBatch, req, &bad).error_code(), StatusCode::INVALID_ARGUMENT);
  herald::v1::PublishResponse after;
  ASSERT_TRUE(call(&Stub::Publish, probe, &after).ok());
  EXPECT_EQ(after.offset(), next.offset() + 1) << "a refused batch assigned offsets";
}

TEST_F(ContractTest, BroadcastSendToUserDisconnect) {
  herald::v1::BroadcastRequest b;
  b.set_data("1");
  herald::v1::BroadcastResponse br;
  ASSERT_TRUE(call(&Stub::Broadcast, b, &br).ok());
  EXPECT_EQ(br.nodes(), 1u);
  EXPECT_EQ(br.results_size(), 0);
  b.add_channels("contract:b1");
  b.add_channels("contract:b2");
  ASSERT_TRUE(call(&Stub::Broadcast, b, &br).ok());
  ASSERT_EQ(br.results_size(), 2);
  EXPECT_EQ(br.results(1).offset(), 1u);
  b.add_channels("bad channel");
  EXPECT_EQ(call(&Stub::Broadcast, b, &br).error_code(), StatusCode::INVALID_ARGUMENT);
  herald::v1::BroadcastRequest no_data;
  EXPECT_EQ(call(&Stub::Broadcast, no_data, &br).error_code(), StatusCode::INVALID_ARGUMENT);

  herald::v1::SendToUserRequest u;
  u.set_user("alice");
  u.set_data(R"({"hello":1})");
  herald::v1::SendToUserResponse ur;
  ASSERT_TRUE(call(&Stub::SendToUser, u, &ur).ok());
  EXPECT_EQ(ur.nodes(), 0u) << "no node holds alice";
  u.clear_user();
  EXPECT_EQ(call(&Stub::SendToUser, u, &ur).error_code(), StatusCode::INVALID_ARGUMENT);

  herald::v1::DisconnectRequest d;
  herald::v1::DisconnectResponse dr;
  EXPECT_EQ(call(&Stub::Disconnect, d, &dr).error_code(), StatusCode::INVALID_ARGUMENT);
  d.set_user("alice");
  d.set_code(1000);
  EXPECT_EQ(call(&Stub::Disconnect, d, &dr).error_code(), StatusCode::INVALID_ARGUMENT);
  d.set_code(4200);
  ASSERT_TRUE(call(&Stub::Disconnect, d, &dr).ok());
}

TEST_F(ContractTest, DisconnectByClientClosesThatConnectionWithTheCode) {
  WsClient ws(cluster_->wsUrl(0));
  ASSERT_TRUE(ws.waitOpen(10s));
  auto connected = ws.nextOfType("connected", 10s);
  ASSERT_TRUE(connected.has_value());
  herald::v1::DisconnectRequest d;
  d.set_client((*connected)["client"].get<std::string>());
  d.set_code(4321);
  d.set_reason("bye from test");
  herald::v1::DisconnectResponse dr;
  ASSERT_TRUE(call(&Stub::Disconnect, d, &dr).ok());
  EXPECT_EQ(ws.waitClosed(10s), 4321);
}

TEST_F(ContractTest, ReadingRpcs) {
  herald::v1::ListNodesResponse nodes;
  ASSERT_TRUE(call(&Stub::ListNodes, herald::v1::ListNodesRequest(), &nodes).ok());
  const herald::v1::NodeInfo* found = nullptr;
  for (const auto& candidate : nodes.nodes()) {
    if (candidate.address() == cluster_->nodeAddress(0)) {
      found = &candidate;
    }
  }
  ASSERT_NE(found, nullptr) << "the running node is not listed";
  const auto& n = *found;
  EXPECT_FALSE(n.node_id().empty());
  EXPECT_EQ(n.health(), herald::v1::NODE_HEALTH_HEALTHY);
  EXPECT_GT(n.last_heartbeat_unix_ms(), 0);
  EXPECT_NE(n.build().find("herald-node"), std::string::npos);

  herald::v1::ListChannelsRequest lc;
  lc.set_prefix("contract:");
  herald::v1::ListChannelsResponse channels;
  ASSERT_TRUE(call(&Stub::ListChannels, lc, &channels).ok());
  for (const auto& c : channels.channels()) {
    EXPECT_EQ(c.channel().rfind("contract:", 0), 0u);
  }

  herald::v1::ClusterStatsResponse stats;
  ASSERT_TRUE(call(&Stub::ClusterStats, herald::v1::ClusterStatsRequest(), &stats).ok());
  EXPECT_GE(stats.nodes(), 1u);
  EXPECT_GE(stats.healthy_nodes(), 1u);
  EXPECT_GT(stats.config_version(), 0u);

  herald::v1::InfoResponse info;
  ASSERT_TRUE(call(&Stub::Info, herald::v1::InfoRequest(), &info).ok());
  EXPECT_EQ(info.engine(), "memory");
  EXPECT_EQ(info.grpc_listen(), cluster_->controlAddress());
  EXPECT_FALSE(info.version().empty());
  EXPECT_GT(info.started_unix_ms(), 0);
}

TEST_F(ContractTest, HistoryValidatesItsArguments) {
  auto code = [&](const herald::v1::HistoryRequest& req) {
    herald::v1::HistoryResponse resp;
    return call(&Stub::History, req, &resp).error_code();
  };
  herald::v1::HistoryRequest neither;
  EXPECT_EQ(code(neither), StatusCode::INVALID_ARGUMENT);
  herald::v1::HistoryRequest both;
  both.set_channel("a");
  both.set_user("alice");
  EXPECT_EQ(code(both), StatusCode::INVALID_ARGUMENT);
  herald::v1::HistoryRequest bad_name;
  bad_name.set_channel("bad name");
  EXPECT_EQ(code(bad_name), StatusCode::INVALID_ARGUMENT);
  herald::v1::HistoryRequest too_many;
  too_many.set_channel("a");
  too_many.set_limit(10001);
  EXPECT_EQ(code(too_many), StatusCode::INVALID_ARGUMENT);
}

TEST_F(ContractTest, HistoryReturnsWhatTheNamespaceRetains) {
  herald::v1::CreateNamespaceRequest create;
  *create.mutable_namespace_() = ns("kept", herald::v1::SUBSCRIBE_RULE_PUBLIC);
  create.mutable_namespace_()->set_history_size(3);
  create.mutable_namespace_()->set_history_ttl_seconds(3600);
  herald::v1::CreateNamespaceResponse created;
  ASSERT_TRUE(call(&Stub::CreateNamespace, create, &created).ok());
  std::string epoch;
  for (int i = 1; i <= 5; ++i) {
    herald::v1::PublishRequest pub;
    pub.set_channel("kept:a");
    pub.set_data("{\"n\":" + std::to_string(i) + "}");
    herald::v1::PublishResponse out;
    ASSERT_TRUE(call(&Stub::Publish, pub, &out).ok());
    epoch = out.epoch();
  }
  herald::v1::HistoryRequest all;
  all.set_channel("kept:a");
  herald::v1::HistoryResponse resp;
  ASSERT_TRUE(call(&Stub::History, all, &resp).ok());
  EXPECT_EQ(resp.offset(), 5u);
  EXPECT_EQ(resp.epoch(), epoch);
  EXPECT_FALSE(resp.recovered()) << "offsets 1 and 2 are no longer retained";
  ASSERT_EQ(resp.publications_size(), 3);
  EXPECT_EQ(resp.publications(0).offset(), 3u);
  EXPECT_EQ(resp.publications(2).data(), "{\"n\":5}");

  herald::v1::HistoryRequest since;
  since.set_channel("kept:a");
  since.set_since_offset(3);
  since.set_epoch(epoch);
  since.set_limit(1);
  herald::v1::HistoryResponse page;
  ASSERT_TRUE(call(&Stub::History, since, &page).ok());
  EXPECT_TRUE(page.recovered());
  ASSERT_EQ(page.publications_size(), 1);
  EXPECT_EQ(page.publications(0).offset(), 4u);

  since.set_epoch("0000000000000000");
  herald::v1::HistoryResponse other_epoch;
  ASSERT_TRUE(call(&Stub::History, since, &other_epoch).ok());
  EXPECT_FALSE(other_epoch.recovered());
}

TEST_F(ContractTest, PresenceValidatesTheChannelAndAnswersForAnEmptyOne) {
  herald::v1::PresenceRequest bad;
  herald::v1::PresenceResponse resp;
  EXPECT_EQ(call(&Stub::Presence, bad, &resp).error_code(), StatusCode::INVALID_ARGUMENT);
  herald::v1::PresenceRequest empty;
  empty.set_channel("nobody:here");
  ASSERT_TRUE(call(&Stub::Presence, empty, &resp).ok());
  EXPECT_EQ(resp.entries_size(), 0);
  EXPECT_EQ(resp.connections(), 0u);
  EXPECT_EQ(resp.nodes_unanswered(), 0u);
}

}  // namespace
}  // namespace herald::testing
