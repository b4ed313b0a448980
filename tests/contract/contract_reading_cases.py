"""Contract cases: the reading RPCs (nodes, stats, history, channels, presence) and NodeLink."""

import base64
import json
import re
import threading
import time

import grpc

import contract_support as S
from contract_support import *  # noqa: F401,F403 (constants, helpers, ContractCase)
from contract_support import _short  # noqa: F401


# --------------------------------------------------------------------------- reading


class TestReading(ContractCase):
    def test_list_nodes(self):
        nodes = self.ok("ListNodes").nodes
        self.assertEqual([n.node_id for n in nodes], sorted(n.node_id for n in nodes))
        mine = [n for n in nodes if n.address == S.CLUSTER.node_address]
        self.assertEqual(len(mine), 1, f"the running node is not listed once: {nodes}")
        n = mine[0]
        self.assertEqual(n.node_id, S.CLUSTER.node_id)
        self.assertEqual(n.health, S.pb.NODE_HEALTH_HEALTHY)
        self.assertIn("herald-node", n.build)
        self.assertGreater(n.config_version_acked, 0)
        self.assertEqual(n.last_nack_error, "")
        self.assertEqual(n.capacity, 10000)
        now_ms = time.time() * 1000
        self.assertGreater(n.connected_since_unix_ms, 0)
        self.assertLessEqual(n.connected_since_unix_ms, n.last_heartbeat_unix_ms)
        self.assertLess(abs(n.last_heartbeat_unix_ms - now_ms), 60_000)

    def test_info_and_cluster_stats(self):
        info = self.ok("Info")
        self.assertRegex(info.version, r"^\d+\.\d+\.\d+")
        self.assertEqual(info.build, f"herald-control {info.version}")
        self.assertEqual(info.engine, "memory")
        self.assertEqual(info.grpc_listen, S.CLUSTER.control_address)
        self.assertGreater(info.config_version, 0)
        self.assertGreater(info.started_unix_ms, 1_600_000_000_000)
        self.assertLessEqual(info.started_unix_ms, time.time() * 1000 + 1000)

        stats = self.ok("ClusterStats")
        self.assertEqual(stats.nodes, 1)
        self.assertEqual(stats.healthy_nodes, 1)
        self.assertEqual(stats.config_version, info.config_version)
        self.publish("py:stats", "1")
        self.ok("SendToUser", S.pb.SendToUserRequest(user="py-stats", data="1"))
        self.ok("Broadcast", S.pb.BroadcastRequest(data="1"))  # not counted: no channel
        after = self.ok("ClusterStats")
        self.assertEqual(after.publications, stats.publications + 2)

    def test_history(self):
        self.ok("CreateNamespace", S.pb.CreateNamespaceRequest(namespace=S.pb.Namespace(
            name="py-kept", history_size=3, history_ttl_seconds=3600)))
        try:
            epoch = None
            for i in range(1, 6):
                out = self.publish("py-kept:a", f'{{"n":{i}}}', event="tick")
                self.assertEqual(out.offset, i)
                epoch = out.epoch
            everything = self.ok("History", S.pb.HistoryRequest(channel="py-kept:a"))
            self.assertEqual((everything.offset, everything.epoch), (5, epoch))
            self.assertFalse(everything.recovered, "offsets 1 and 2 are no longer retained")
            self.assertEqual([p.offset for p in everything.publications], [3, 4, 5])
            p = everything.publications[2]
            self.assertEqual((p.channel, p.epoch, p.event, p.data), ("py-kept:a", epoch, "tick",
                                                                     '{"n":5}'))
            self.assertGreater(p.ts_unix_ms, 1_600_000_000_000)

            page = self.ok("History", S.pb.HistoryRequest(channel="py-kept:a", since_offset=3,
                                                        epoch=epoch, limit=1))
            self.assertTrue(page.recovered)
            self.assertEqual([p.offset for p in page.publications], [4])
            other = self.ok("History", S.pb.HistoryRequest(channel="py-kept:a", since_offset=3,
                                                         epoch="0000000000000000"))
            self.assertFalse(other.recovered)
            self.assertEqual([p.offset for p in other.publications], [3, 4, 5])
            beyond = self.ok("History", S.pb.HistoryRequest(channel="py-kept:a", since_offset=9,
                                                          epoch=epoch))
            self.assertFalse(beyond.recovered)
            self.assertEqual(len(beyond.publications), 0)

            # No history kept (default namespace), and a channel nobody published to.
            self.publish("py:nohist", "1")
            nohist = self.ok("History", S.pb.HistoryRequest(channel="py:nohist"))
            self.assertEqual((nohist.offset, len(nohist.publications)), (1, 0))
            fresh = self.ok("History", S.pb.HistoryRequest(channel="py:never"))
            self.assertEqual((fresh.offset, fresh.epoch, len(fresh.publications)), (0, "", 0))
            self.ok("History", S.pb.HistoryRequest(channel="py:never", limit=10000))
        finally:
            self.ok("DeleteNamespace", S.pb.DeleteNamespaceRequest(name="py-kept"))

        for req, message in [
            (S.pb.HistoryRequest(), "give either channel or user"),
            (S.pb.HistoryRequest(channel="a", user="alice"), "give either channel or user"),
            (S.pb.HistoryRequest(channel="bad name"), "channel 'bad name'"),
            (S.pb.HistoryRequest(user="u" * 257), "user must be 1..256 bytes"),
            (S.pb.HistoryRequest(channel="a", limit=10001), "limit is at most 10000"),
        ]:
            with self.subTest(message=message):
                self.fails("History", req, INVALID_ARGUMENT, message)

    def test_list_channels(self):
        for name in ("py-lc:a", "py-lc:b", "py-lc:c", "py-lcx"):
            self.publish(name, "1")
        self.publish("py-lc:b", "2")
        listed = self.ok("ListChannels", S.pb.ListChannelsRequest(prefix="py-lc:"))
        self.assertEqual([c.channel for c in listed.channels], ["py-lc:a", "py-lc:b", "py-lc:c"])
        self.assertEqual(listed.next_page_token, "")
        b = listed.channels[1]
        self.assertEqual((b.offset, b.nodes, b.subscribers, b.history), (2, 0, 0, 0))
        assert_epoch(self, b.epoch)
        self.assertEqual(b.epoch, self.ok("History", S.pb.HistoryRequest(channel="py-lc:b")).epoch)

        seen, token = [], ""
        for _ in range(10):  # bounded: three channels, one per page
            page = self.ok("ListChannels", S.pb.ListChannelsRequest(prefix="py-lc", page_size=1,
                                                                  page_token=token))
            self.assertLessEqual(len(page.channels), 1)
            seen += [c.channel for c in page.channels]
            token = page.next_page_token
            if not token:
                break
        self.assertEqual(seen, ["py-lc:a", "py-lc:b", "py-lc:c", "py-lcx"])
        self.fails("ListChannels", S.pb.ListChannelsRequest(page_token="bogus"), INVALID_ARGUMENT,
                   "page_token")

    def test_presence_validation(self):
        self.fails("Presence", S.pb.PresenceRequest(), INVALID_ARGUMENT,
                   "channel '': channel name is empty")
        self.fails("Presence", S.pb.PresenceRequest(channel="bad name"), INVALID_ARGUMENT,
                   "channel 'bad name'")
        empty = self.ok("Presence", S.pb.PresenceRequest(channel="py:nobody-here"))
        self.assertEqual((len(empty.entries), empty.connections, empty.users, empty.truncated,
                          empty.nodes_unanswered), (0, 0, 0, False, 0))

    def test_subscribers_show_in_presence_channels_and_stats(self):
        channel = "py-room:lobby"
        anon = WsClient(S.CLUSTER.ws_url("subscribe=" + channel))
        alice = WsClient(S.CLUSTER.ws_url(f"token={make_jwt('py-bob')}&subscribe={channel}"))
        try:
            a = anon.next_of_type("connected")
            b = alice.next_of_type("connected")
            self.assertEqual(a["subscribed"], [channel])
            self.assertEqual(b["user"], "py-bob")

            def both_present():
                r = self.ok("Presence", S.pb.PresenceRequest(channel=channel))
                return r if r.connections == 2 else None
            presence = eventually(both_present)
            self.assertTrue(presence, "the node's interest never reached herald-control")
            self.assertEqual(presence.users, 1)
            self.assertEqual(presence.nodes_unanswered, 0)
            self.assertFalse(presence.truncated)
            self.assertEqual([(e.user, e.client, e.node_id) for e in presence.entries],
                             [("", a["client"], S.CLUSTER.node_id),
                              ("py-bob", b["client"], S.CLUSTER.node_id)],
                             "sorted by user, then client")

            info = self.ok("ListChannels", S.pb.ListChannelsRequest(prefix=channel)).channels
            self.assertEqual([(c.channel, c.offset, c.epoch, c.nodes, c.subscribers)
                              for c in info], [(channel, 0, "", 1, 2)])

            out = self.publish(channel, '{"price":1}', event="tick")
            self.assertEqual((out.offset, out.nodes), (1, 1))
            for ws in (anon, alice):
                m = ws.next_of_type("message", channel=channel)
                self.assertEqual((m["channel"], m["offset"], m["epoch"], m["data"], m["event"]),
                                 (channel, 1, out.epoch, {"price": 1}, "tick"))

            stats = poll(lambda: self.ok("ClusterStats"), lambda s: s.connections >= 2)
            self.assertTrue(stats, "heartbeats never reported the connections")
            self.assertGreaterEqual(stats.channels, 1)
            self.assertGreaterEqual(stats.subscriptions, 2)
        finally:
            anon.close()
            alice.close()
        gone = eventually(lambda: self.ok("Presence", S.pb.PresenceRequest(
            channel=channel)).connections == 0)
        self.assertTrue(gone, "closed connections still present")


# --------------------------------------------------------------------------- NodeLink


class TestNodeLink(ContractCase):
    def session(self, messages, node_secret=NODE_SECRET):
        """Sends `messages`, half-closes; returns (status code, details, messages received).
        `node_secret` goes in the call's metadata, where herald-control checks it before it
        reads any message."""
        stub = S.nl_grpc.NodeLinkStub(S.CLUSTER.channel)
        metadata = (("x-herald-node-secret", node_secret),) if node_secret else None
        call = stub.Session(iter(messages), timeout=CALL_TIMEOUT, metadata=metadata)
        received = []
        try:
            for msg in call:
                received.append(msg)
            return OK, "", received
        except grpc.RpcError as e:
            return e.code(), e.details(), received

    def test_first_message_must_be_hello(self):
        for first in (S.nl.NodeMessage(stats=S.nl.NodeStats(connections=1)),
                      S.nl.NodeMessage(ack=S.nl.Ack(version=1)),
                      S.nl.NodeMessage()):
            with self.subTest(first=first.WhichOneof("kind")):
                code, details, received = self.session([first])
                self.assertEqual(code, INVALID_ARGUMENT, details)
                self.assertIn("the first NodeLink message must be Hello", details)
                self.assertEqual(received, [])

    def test_hello_needs_node_id_and_secret(self):
        code, details, received = self.session([S.nl.NodeMessage(hello=S.nl.Hello(
            node_id="", secret=NODE_SECRET))])
        self.assertEqual((code, received), (INVALID_ARGUMENT, []), details)
        code, details, received = self.session([S.nl.NodeMessage(hello=S.nl.Hello(
            node_id="n" * 129, secret=NODE_SECRET))])
        self.assertEqual((code, received), (INVALID_ARGUMENT, []), details)
        for secret in ("", NODE_SECRET[:-1] + "X", NODE_SECRET + "x"):
            with self.subTest(secret=secret[-4:]):
                code, details, received = self.session([S.nl.NodeMessage(hello=S.nl.Hello(
                    node_id="py-intruder", secret=secret))])
                self.assertEqual(code, UNAUTHENTICATED, details)
                self.assertIn("wrong or missing node secret", details)
                self.assertEqual(received, [], "an unknown node received messages")
        # The metadata secret is checked before the Hello is read: a right Hello is not enough.
        for secret in (None, NODE_SECRET[:-1] + "X"):
            with self.subTest(metadata_secret=(secret or "")[-4:]):
                code, details, received = self.session([S.nl.NodeMessage(hello=S.nl.Hello(
                    node_id="py-intruder", secret=NODE_SECRET))], node_secret=secret)
                self.assertEqual(code, UNAUTHENTICATED, details)
                self.assertIn("wrong or missing node secret", details)
                self.assertEqual(received, [])
        # Node ids reach logs and tables: control characters are refused.
        code, details, received = self.session([S.nl.NodeMessage(hello=S.nl.Hello(
            node_id="py\n[info] forged line", secret=NODE_SECRET))])
        self.assertEqual((code, received), (INVALID_ARGUMENT, []), details)
        names = [n.node_id for n in self.ok("ListNodes").nodes]
        self.assertNotIn("py-intruder", names)

    def test_valid_hello_gets_a_config_snapshot(self):
        # The refusals above only mean something if a correct Hello is accepted.
        outbox = []
        cond = threading.Condition()

        def requests():
            yield S.nl.NodeMessage(hello=S.nl.Hello(node_id="py-fake-node", build="py",
                                                listen_address="127.0.0.1:1", capacity=5,
                                                secret=NODE_SECRET))
            while True:
                with cond:
                    if not cond.wait_for(lambda: outbox, timeout=CALL_TIMEOUT):
                        return
                    msg = outbox.pop(0)
                if msg is None:
                    return  # half-close: the server ends the session with OK
                yield msg

        def send(msg):
            with cond:
                outbox.append(msg)
                cond.notify_all()

        stub = S.nl_grpc.NodeLinkStub(S.CLUSTER.channel)
        call = stub.Session(requests(), timeout=CALL_TIMEOUT,
                            metadata=(("x-herald-node-secret", NODE_SECRET),))
        try:
            first = next(call)
            self.assertEqual(first.WhichOneof("kind"), "config")
            config = first.config
            self.assertGreater(config.version, 0)
            self.assertTrue(config.nonce)
            self.assertEqual(config.heartbeat_interval_ms, 200)
            self.assertEqual(config.limits.max_connections_per_node, 10000)
            self.assertTrue(config.auth.allow_anonymous)
            self.assertEqual(config.auth.keys[0].secret, JWT_SECRET, "nodes get the secrets")
            send(S.nl.NodeMessage(ack=S.nl.Ack(version=config.version, nonce=config.nonce)))

            def fake_node():
                for n in self.ok("ListNodes").nodes:
                    if n.node_id == "py-fake-node":
                        return n
                return None
            acked = poll(fake_node, lambda n: n and n.config_version_acked == config.version)
            self.assertTrue(acked, "the Ack was not recorded")
            self.assertEqual((acked.address, acked.build, acked.health),
                             ("127.0.0.1:1", "py", S.pb.NODE_HEALTH_HEALTHY))
        finally:
            send(None)
            try:
                for _ in call:  # drain until the server ends the session
                    pass
                code = OK
            except grpc.RpcError as e:
                code = e.code()
        self.assertEqual(code, OK, "a half-closed session ends with OK")
        # Gone from routing before the next test counts nodes.
        left = eventually(lambda: all(n.health != S.pb.NODE_HEALTH_HEALTHY
                                      for n in self.ok("ListNodes").nodes
                                      if n.node_id == "py-fake-node"))
        self.assertTrue(left)
        self.assertTrue(eventually(lambda: self.ok("ClusterStats").nodes == 1))
