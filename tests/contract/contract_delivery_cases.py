"""Contract cases: Publish, PublishBatch, PublishStream, Broadcast, SendToUser, Disconnect."""

import base64
import json
import re
import threading
import time

import grpc

import contract_support as S
from contract_support import *  # noqa: F401,F403 (constants, helpers, ContractCase)
from contract_support import _short  # noqa: F401


# --------------------------------------------------------------------------- delivery

BAD_PUBLICATIONS = [
    ({"channel": "", "data": "1"}, "channel name is empty"),
    ({"channel": "bad channel", "data": "1"}, "channel 'bad channel'"),
    ({"channel": "Upper:x", "data": "1"}, "channel 'Upper:x'"),
    ({"channel": "py:" + "c" * 253, "data": "1"}, "channel 'py:"),
    ({"channel": "py:ok", "data": ""}, "data must be valid JSON text"),
    ({"channel": "py:ok", "data": "{not json"}, "data must be valid JSON text"),
    ({"channel": "py:ok", "data": "[1,"}, "data must be valid JSON text"),
    ({"channel": "py:ok", "data": '"' + "a" * (1 << 20) + '"'},
     "data is 1048578 bytes; the limit is 1048576"),
    ({"channel": "py:ok", "data": "1", "event": "bad event!"}, "event must be at most 128"),
    ({"channel": "py:ok", "data": "1", "event": "e" * 129}, "event must be at most 128"),
    ({"channel": "py:ok", "data": "1", "idempotency_key": "k" * 257},
     "idempotency_key longer than 256 bytes"),
]


class TestPublish(ContractCase):
    def test_offsets_and_shape(self):
        first = self.publish("py:pub", '{"a":1}', event="tick")
        self.assertEqual(first.offset, 1)
        assert_epoch(self, first.epoch)
        self.assertEqual(first.nodes, 0, "nobody is subscribed")
        self.assertFalse(first.duplicate)
        second = self.publish("py:pub", '"text"')
        self.assertEqual(second.offset, 2)
        self.assertEqual(second.epoch, first.epoch)
        other = self.publish("py:pub-other", "null")
        self.assertEqual(other.offset, 1, "offsets are per channel")
        self.assertNotEqual(other.epoch, first.epoch, "epochs are per channel")
        # Unconfigured namespaces and bare names fall under the default namespace.
        self.assertEqual(self.publish("py-unconfigured:x", "true").offset, 1)
        self.assertEqual(self.publish("py-bare", "[1,2]").offset, 1)
        # Boundaries that must pass: 255-byte channel, 128-char event, 1 MiB data, 256-byte key.
        self.assertEqual(self.publish("py:" + "c" * 252, "1").offset, 1)
        self.publish("py:pub", "1", event="E.v-_:" + "e" * 122)
        big = self.publish("py:big", '"' + "a" * ((1 << 20) - 2) + '"', idempotency_key="k" * 256)
        self.assertEqual(big.offset, 1)

    def test_invalid_input(self):
        self.publish("py:ok", "1")
        offset = self.current_offset("py:ok")
        for fields, message in BAD_PUBLICATIONS:
            with self.subTest(message=message, channel=fields["channel"][:20]):
                self.fails("Publish", S.pb.PublishRequest(**fields), INVALID_ARGUMENT, message)
        self.assertEqual(self.current_offset("py:ok"), offset, "a refused publish took an offset")
        self.assertEqual(self.publish("py:ok", "2").offset, offset + 1)

    def test_idempotency_key(self):
        first = self.publish("py:idem", "1", idempotency_key="order-77")
        retry = self.publish("py:idem", "1", idempotency_key="order-77")
        self.assertTrue(retry.duplicate)
        self.assertEqual(retry.offset, first.offset)
        self.assertEqual(retry.epoch, first.epoch)
        self.assertEqual(retry.nodes, 0)
        self.assertEqual(self.current_offset("py:idem"), first.offset)
        other = self.publish("py:idem-2", "1", idempotency_key="order-77")
        self.assertFalse(other.duplicate, "keys are per channel")
        self.assertEqual(self.publish("py:idem", "1", idempotency_key="order-78").offset,
                         first.offset + 1)

    def test_batch(self):
        req = S.pb.PublishBatchRequest(publications=[
            S.pb.PublishRequest(channel="py:batch", data=str(i)) for i in range(3)]
            + [S.pb.PublishRequest(channel="py:batch-b", data='{"x":1}', event="e")])
        resp = self.ok("PublishBatch", req)
        self.assertEqual(len(resp.results), 4, "one result per publication, in order")
        self.assertEqual([r.offset for r in resp.results], [1, 2, 3, 1])
        self.assertEqual(len({r.epoch for r in resp.results[:3]}), 1)
        for r in resp.results:
            assert_epoch(self, r.epoch)
            self.assertFalse(r.duplicate)

        for fields, message in BAD_PUBLICATIONS:
            with self.subTest(message=message):
                bad = S.pb.PublishBatchRequest(publications=[
                    S.pb.PublishRequest(channel="py:batch", data="1"), S.pb.PublishRequest(**fields)])
                self.fails("PublishBatch", bad, INVALID_ARGUMENT, "publications[1]: ")
        self.assertEqual(self.current_offset("py:batch"), 3, "a refused batch assigned offsets")
        self.fails("PublishBatch", S.pb.PublishBatchRequest(), INVALID_ARGUMENT,
                   "publications is empty")
        too_many = S.pb.PublishBatchRequest(publications=[
            S.pb.PublishRequest(channel="py:batch", data="1")] * 10001)
        self.fails("PublishBatch", too_many, INVALID_ARGUMENT, "at most 10000 publications")
        self.assertEqual(self.current_offset("py:batch"), 3)

        dup = S.pb.PublishBatchRequest(publications=[
            S.pb.PublishRequest(channel="py:batch", data="1", idempotency_key="b-1"),
            S.pb.PublishRequest(channel="py:batch", data="1", idempotency_key="b-1")])
        resp = self.ok("PublishBatch", dup)
        self.assertEqual([(r.offset, r.duplicate) for r in resp.results], [(4, False), (4, True)])

    def test_stream(self):
        reqs = [S.pb.PublishRequest(channel="py:stream", data=f'{{"i":{i}}}',
                                  idempotency_key="k0" if i == 2 else f"k{i}") for i in range(3)]
        resp = self.ok("PublishStream", reqs)
        self.assertEqual(resp.published, 3)
        self.assertEqual(resp.duplicates, 1)
        self.assertEqual(self.current_offset("py:stream"), 2, "the repeated key was published")
        self.assertEqual(self.ok("PublishStream", []).published, 0)

        for fields, message in BAD_PUBLICATIONS:
            with self.subTest(message=message):
                bad = [S.pb.PublishRequest(channel="py:stream", data="1"),
                       S.pb.PublishRequest(**fields),
                       S.pb.PublishRequest(channel="py:stream", data="1")]
                before = self.current_offset("py:stream")
                self.fails("PublishStream", bad, INVALID_ARGUMENT,
                           "publication 1 (after 1 accepted): ")
                self.assertEqual(self.current_offset("py:stream"), before + 1,
                                 "the one before the invalid one stays published, none after")


class TestBroadcastSendToUserDisconnect(ContractCase):
    def test_broadcast(self):
        everyone = self.ok("Broadcast", S.pb.BroadcastRequest(data='{"n":1}', event="notice"))
        self.assertEqual(len(everyone.results), 0, "no channels: no offsets")
        self.assertEqual(everyone.nodes, 1, "one node in routing")

        per_channel = self.ok("Broadcast", S.pb.BroadcastRequest(
            data="1", channels=["py:b1", "py:b2", "py:b1"]))
        self.assertEqual([r.offset for r in per_channel.results], [1, 1, 2])
        self.assertEqual(per_channel.results[0].epoch, per_channel.results[2].epoch)
        self.assertEqual(per_channel.nodes, 0)

        before = self.current_offset("py:b1")
        self.fails("Broadcast", S.pb.BroadcastRequest(data="1", channels=["py:b1", "bad channel"]),
                   INVALID_ARGUMENT, "channel 'bad channel'")
        self.assertEqual(self.current_offset("py:b1"), before, "validated before publishing")
        self.fails("Broadcast", S.pb.BroadcastRequest(), INVALID_ARGUMENT, "data must be valid JSON")
        self.fails("Broadcast", S.pb.BroadcastRequest(data="{x"), INVALID_ARGUMENT)
        self.fails("Broadcast", S.pb.BroadcastRequest(data="1", event="no spaces"), INVALID_ARGUMENT,
                   "event must be")

    def test_send_to_user(self):
        first = self.ok("SendToUser", S.pb.SendToUserRequest(user="py-nobody", data='{"t":"hi"}',
                                                           event="notice"))
        self.assertEqual(first.nodes, 0, "no node holds the user")
        self.assertEqual(first.offset, 1)
        assert_epoch(self, first.epoch)
        second = self.ok("SendToUser", S.pb.SendToUserRequest(user="py-nobody", data="2"))
        self.assertEqual((second.offset, second.epoch), (2, first.epoch))
        history = self.ok("History", S.pb.HistoryRequest(user="py-nobody"))
        self.assertEqual([p.offset for p in history.publications], [1, 2])
        self.assertEqual(history.publications[0].channel, "")
        self.assertEqual(history.publications[0].event, "notice")
        self.assertEqual(history.publications[0].data, '{"t":"hi"}')
        self.assertTrue(history.recovered)

        self.fails("SendToUser", S.pb.SendToUserRequest(data="1"), INVALID_ARGUMENT,
                   "user must be 1..256 bytes")
        self.fails("SendToUser", S.pb.SendToUserRequest(user="u" * 257, data="1"), INVALID_ARGUMENT,
                   "user must be 1..256 bytes")
        self.fails("SendToUser", S.pb.SendToUserRequest(user="py-nobody", data="nope"),
                   INVALID_ARGUMENT, "data must be valid JSON")
        self.fails("SendToUser", S.pb.SendToUserRequest(user="py-nobody", data="1", event="a b"),
                   INVALID_ARGUMENT, "event must be")
        self.assertEqual(self.ok("History", S.pb.HistoryRequest(user="py-nobody")).offset, 2)
        self.ok("SendToUser", S.pb.SendToUserRequest(user="u" * 256, data="1"))

    def test_disconnect_validation(self):
        self.fails("Disconnect", S.pb.DisconnectRequest(), INVALID_ARGUMENT,
                   "give user, client, or both")
        for code in (1000, 3999, 5000):
            self.fails("Disconnect", S.pb.DisconnectRequest(user="py-x", code=code),
                       INVALID_ARGUMENT, "code must be an application close code 4000..4999")
        self.fails("Disconnect", S.pb.DisconnectRequest(user="py-x", reason="r" * 121),
                   INVALID_ARGUMENT, "reason longer than 120 bytes")
        self.assertEqual(self.ok("Disconnect", S.pb.DisconnectRequest(
            user="py-x", code=4999, reason="r" * 120)).nodes, 0, "no node holds py-x")
        self.assertEqual(self.ok("Disconnect", S.pb.DisconnectRequest(client="py-none")).nodes, 1,
                         "a client id goes to every node")

    def test_server_side_subscription_validation(self):
        for rpc, req in (("Subscribe", S.pb.SubscribeRequest(channel="py:s")),
                         ("Unsubscribe", S.pb.UnsubscribeRequest(channel="py:s")),
                         ("Refresh", S.pb.RefreshRequest(expire_at=1))):
            self.fails(rpc, req, INVALID_ARGUMENT, "give user, client, or both")
        self.fails("Subscribe", S.pb.SubscribeRequest(user="py-x", channel="bad channel"),
                   INVALID_ARGUMENT, "channel")
        self.fails("Unsubscribe", S.pb.UnsubscribeRequest(user="py-x", channel=""),
                   INVALID_ARGUMENT, "channel")
        self.fails("Subscribe", S.pb.SubscribeRequest(user="py-x", channel="py:s", since_offset=3),
                   INVALID_ARGUMENT, "since_offset and epoch need recover: true")
        self.fails("Refresh", S.pb.RefreshRequest(user="py-x", expire_at=-1), INVALID_ARGUMENT,
                   "expire_at must be Unix seconds")
        self.assertEqual(self.ok("Subscribe", S.pb.SubscribeRequest(
            user="py-x", channel="py:s")).nodes, 0, "no node holds py-x")
        self.assertEqual(self.ok("Unsubscribe", S.pb.UnsubscribeRequest(
            client="py-none", channel="py:s")).nodes, 1, "a client id goes to every node")
        self.assertEqual(self.ok("Refresh", S.pb.RefreshRequest(user="py-x")).nodes, 0)

    def test_server_side_subscribe_recover_and_unsubscribe(self):
        channel = "pysrv:server-side"
        ns = S.pb.Namespace(name="pysrv", history_size=10)
        self.ok("CreateNamespace", S.pb.CreateNamespaceRequest(**{"namespace": ns}))
        before = self.ok("Publish", S.pb.PublishRequest(channel=channel, data='{"n":1}'))
        ws = WsClient(S.CLUSTER.ws_url())
        try:
            client = ws.next_of_type("connected")["client"]
            # Recovering from before the first publication gives it, then live ones follow.
            self.assertEqual(self.ok("Subscribe", S.pb.SubscribeRequest(
                client=client, channel=channel, recover=True, since_offset=before.offset - 1,
                epoch=before.epoch)).nodes, 1)
            ws.next_of_type("subscribed", channel=channel)
            self.assertEqual(ws.next_of_type("message", channel=channel)["data"], {"n": 1})
            recovery = ws.next_of_type("recovery", channel=channel)
            self.assertTrue(recovery["recovered"], recovery)
            self.ok("Publish", S.pb.PublishRequest(channel=channel, data='{"n":2}'))
            self.assertEqual(ws.next_of_type("message", channel=channel)["data"], {"n": 2})
            self.ok("Unsubscribe", S.pb.UnsubscribeRequest(client=client, channel=channel))
            ws.next_of_type("unsubscribed", channel=channel)
            self.ok("Publish", S.pb.PublishRequest(channel=channel, data='{"n":3}'))
            self.ok("Broadcast", S.pb.BroadcastRequest(data='"marker"'))
            # Frames arrive in order: the broadcast after n:3 comes, n:3 never does.
            ws.ws.settimeout(10)
            while True:
                frame = json.loads(ws.ws.recv())
                self.assertNotEqual(frame.get("channel"), channel, f"after unsubscribe: {frame}")
                if frame.get("type") == "message" and frame.get("data") == "marker":
                    break
        finally:
            ws.close()

    def test_bans_validation(self):
        now = int(time.time())
        self.fails("RevokeToken", S.pb.RevokeTokenRequest(expire_at=now + 60), INVALID_ARGUMENT,
                   "jti must be 1..256 bytes")
        self.fails("RevokeToken", S.pb.RevokeTokenRequest(jti="j" * 257, expire_at=now + 60),
                   INVALID_ARGUMENT, "jti must be 1..256 bytes")
        for when in (0, now - 1, now + 400 * 86400):
            self.fails("RevokeToken", S.pb.RevokeTokenRequest(jti="py-j", expire_at=when),
                       INVALID_ARGUMENT, "expire_at must be Unix seconds in the coming year")
        self.fails("Disconnect", S.pb.DisconnectRequest(client="py-c", block_until=now + 60),
                   INVALID_ARGUMENT, "block_until needs user")
        self.fails("Disconnect", S.pb.DisconnectRequest(user="py-u", block_until=now - 5),
                   INVALID_ARGUMENT, "block_until must be Unix seconds in the coming year")

    def test_a_revoked_token_closes_its_connection_and_is_refused_after(self):
        token = make_jwt("py-revoked", jti="py-jti-1")
        other = make_jwt("py-revoked", jti="py-jti-2")
        ws = WsClient(S.CLUSTER.ws_url("token=" + token))
        keep = WsClient(S.CLUSTER.ws_url("token=" + other))
        try:
            ws.next_of_type("connected")
            keep.next_of_type("connected")
            resp = self.ok("RevokeToken", S.pb.RevokeTokenRequest(
                jti="py-jti-1", expire_at=int(time.time()) + 600))
            self.assertGreater(resp.config_version, 0)
            self.assertEqual(ws.wait_closed(), (4004, "token revoked"))
            again = WsClient(S.CLUSTER.ws_url("token=" + token))
            try:
                refused = again.next_of_type("error")
                self.assertEqual((refused["code"], refused["message"]),
                                 ("unauthorized", "token revoked"))
                self.assertEqual(again.wait_closed(), (4001, "invalid token"))
            finally:
                again.close()
            keep.ws.send(json.dumps({"type": "ping", "id": 1}))
            self.assertEqual(keep.next_of_type("pong")["id"], 1, "another token of the user stays")
        finally:
            ws.close()
            keep.close()

    def test_disconnect_with_block_until_refuses_the_user_until_then(self):
        user = "py-blocked"
        ws = WsClient(S.CLUSTER.ws_url("token=" + make_jwt(user)))
        try:
            client = ws.next_of_type("connected")["client"]
            # By client id too: it reaches every node, even before the node reported the user.
            self.ok("Disconnect", S.pb.DisconnectRequest(
                user=user, client=client, code=4321, reason="banned",
                block_until=int(time.time()) + 600))
            self.assertEqual(ws.wait_closed(), (4321, "banned"), "the code asked for, not 4005")
        finally:
            ws.close()
        again = WsClient(S.CLUSTER.ws_url("token=" + make_jwt(user)))
        try:
            refused = again.next_of_type("error")
            self.assertEqual(refused["code"], "unauthorized")
            self.assertTrue(refused["message"].startswith("user is blocked until "), refused)
            self.assertEqual(again.wait_closed(), (4005, "user blocked"))
        finally:
            again.close()

    def test_disconnect_by_client_closes_with_the_code(self):
        ws = WsClient(S.CLUSTER.ws_url())
        try:
            connected = ws.next_of_type("connected")
            self.assertEqual(connected["user"], "")
            self.assertEqual(connected["node"], S.CLUSTER.node_id)
            resp = self.ok("Disconnect", S.pb.DisconnectRequest(
                client=connected["client"], code=4321, reason="bye from py"))
            self.assertEqual(resp.nodes, 1)
            self.assertEqual(ws.wait_closed(), (4321, "bye from py"))
        finally:
            ws.close()

    def test_authenticated_user_gets_personal_messages_and_is_disconnected(self):
        user = "py-alice"
        ws = WsClient(S.CLUSTER.ws_url("token=" + make_jwt(user)))
        try:
            self.assertEqual(ws.next_of_type("connected")["user"], user)
            # The node reports the user right after the connection authenticates.
            # Until then a message reaches no node (nodes 0) and stays in the user's history.
            sent = poll(lambda: self.ok("SendToUser", S.pb.SendToUserRequest(
                user=user, data='{"x":1}', event="ping")), lambda r: r.nodes == 1)
            self.assertTrue(sent, "the node never reported the user")
            frame = ws.next_of_type("message", user=user)
            self.assertEqual((frame["user"], frame["offset"], frame["epoch"], frame["data"],
                              frame["event"]), (user, sent.offset, sent.epoch, {"x": 1}, "ping"))
            resp = self.ok("Disconnect", S.pb.DisconnectRequest(user=user))
            self.assertEqual(resp.nodes, 1)
            self.assertEqual(ws.wait_closed(), (4100, "disconnected by server"))
        finally:
            ws.close()
