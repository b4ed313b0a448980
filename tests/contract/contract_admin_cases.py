"""Contract cases: API keys and roles, namespaces, limits and auth settings."""

import base64
import json
import re
import threading
import time

import grpc

import contract_support as S
from contract_support import *  # noqa: F401,F403 (constants, helpers, ContractCase)
from contract_support import _short  # noqa: F401


# --------------------------------------------------------------------------- auth and roles

# The role each RPC needs (docs/api.md#authorization). A new RPC fails test_role_table until
# it is given a role here.
ROLE_OF = {
    "CreateNamespace": "admin", "UpdateNamespace": "admin", "DeleteNamespace": "admin",
    "SetLimits": "admin", "GetAuthSettings": "admin", "SetAuthSettings": "admin",
    "CreateApiKey": "admin", "ListApiKeys": "admin", "RevokeApiKey": "admin",
    "Publish": "publisher", "PublishBatch": "publisher", "PublishStream": "publisher",
    "Broadcast": "publisher", "SendToUser": "publisher", "Disconnect": "publisher",
    "Subscribe": "publisher", "Unsubscribe": "publisher", "Refresh": "publisher",
    "RevokeToken": "publisher",
    "GetNamespace": "reader", "ListNamespaces": "reader", "GetLimits": "reader",
    "ListNodes": "reader", "ListChannels": "reader", "History": "reader",
    "Presence": "reader", "ClusterStats": "reader", "Info": "reader",
}


class TestAuthorization(ContractCase):
    def test_every_rpc_refuses_a_missing_or_wrong_key(self):
        for method in control_methods():
            for key, label in ((None, "no metadata"), (WRONG_KEY, "unknown key"),
                               ("", "empty bearer")):
                with self.subTest(method=method, key=label):
                    self.fails(method, None, UNAUTHENTICATED, "authorization: Bearer", key=key)
        # The scheme must be "Bearer": the admin key sent as Basic is no key at all.
        try:
            self.api.stub.Info(S.pb.InfoRequest(), metadata=[("authorization", f"Basic {ADMIN_KEY}")],
                               timeout=CALL_TIMEOUT)
            self.fail("Info with a Basic authorization succeeded")
        except grpc.RpcError as e:
            self.assertEqual(e.code(), UNAUTHENTICATED)

    def test_role_table(self):
        methods = control_methods()
        self.assertEqual(set(methods), set(ROLE_OF),
                         "RPCs in control.proto and ROLE_OF differ: give new RPCs a role")
        keys = {}
        for role, enum in (("publisher", S.pb.API_KEY_ROLE_PUBLISHER),
                           ("reader", S.pb.API_KEY_ROLE_READER)):
            keys[role] = self.ok("CreateApiKey", S.pb.CreateApiKeyRequest(
                name=f"py-role-{role}", role=enum)).secret
        for method, need in ROLE_OF.items():
            for role, key in keys.items():
                with self.subTest(method=method, role=role):
                    # Empty requests: an allowed call fails validation or succeeds but is never
                    # refused for its key; a refused call is refused before anything else.
                    r = self.api.call(method, None, key=key)
                    if need == role:
                        self.assertNotIn(r.code, (PERMISSION_DENIED, UNAUTHENTICATED), r)
                    else:
                        self.assertEqual(r.code, PERMISSION_DENIED, r)
                        self.assertIn(f"role {role} may not call {method}", r.details)

    def test_unknown_method_is_unimplemented(self):
        call = S.CLUSTER.channel.unary_unary("/herald.v1.Control/NoSuchRpc",
                                           request_serializer=lambda b: b,
                                           response_deserializer=lambda b: b)
        with self.assertRaises(grpc.RpcError) as ctx:
            call(b"", metadata=[("authorization", f"Bearer {ADMIN_KEY}")], timeout=CALL_TIMEOUT)
        self.assertEqual(ctx.exception.code(), UNIMPLEMENTED)


# --------------------------------------------------------------------------- namespaces


class TestNamespaces(ContractCase):
    def test_lifecycle(self):
        ns = S.pb.Namespace(name="py-life", subscribe_rule=S.pb.SUBSCRIBE_RULE_PUBLIC,
                          history_size=10, history_ttl_seconds=60,
                          slow_consumer_policy=S.pb.SLOW_CONSUMER_POLICY_DISCONNECT)
        created = self.ok("CreateNamespace", S.pb.CreateNamespaceRequest(namespace=ns))
        self.assertTrue(created.HasField("namespace"))
        self.assertEqual(created.namespace, ns)
        self.assertGreater(created.config_version, 0)
        self.fails("CreateNamespace", S.pb.CreateNamespaceRequest(namespace=ns), ALREADY_EXISTS,
                   "already exists")

        got = self.ok("GetNamespace", S.pb.GetNamespaceRequest(name="py-life"))
        self.assertEqual(got.namespace, ns)
        self.fails("GetNamespace", S.pb.GetNamespaceRequest(name="py-unknown"), NOT_FOUND)

        # Update replaces the whole definition: history_size left out becomes 0.
        new = S.pb.Namespace(name="py-life", subscribe_rule=S.pb.SUBSCRIBE_RULE_OWNER,
                           owner_claim="address")
        updated = self.ok("UpdateNamespace", S.pb.UpdateNamespaceRequest(namespace=new))
        self.assertEqual(updated.namespace, new)
        self.assertGreater(updated.config_version, created.config_version)
        self.assertEqual(self.ok("GetNamespace", S.pb.GetNamespaceRequest(name="py-life")).namespace,
                         new)
        self.fails("UpdateNamespace", S.pb.UpdateNamespaceRequest(
            namespace=S.pb.Namespace(name="py-unknown")), NOT_FOUND)
        self.fails("UpdateNamespace", S.pb.UpdateNamespaceRequest(
            namespace=S.pb.Namespace(name="py-life", owner_claim="x")), INVALID_ARGUMENT,
            "owner_claim is only meaningful with the owner rule")

        listed = self.ok("ListNamespaces", S.pb.ListNamespacesRequest())
        self.assertIn(new, list(listed.namespaces))
        self.assertEqual(listed.config_version, updated.config_version)
        self.assertEqual(listed.next_page_token, "")

        deleted = self.ok("DeleteNamespace", S.pb.DeleteNamespaceRequest(name="py-life"))
        self.assertGreater(deleted.config_version, updated.config_version)
        self.fails("GetNamespace", S.pb.GetNamespaceRequest(name="py-life"), NOT_FOUND)
        self.fails("DeleteNamespace", S.pb.DeleteNamespaceRequest(name="py-life"), NOT_FOUND)
        info = self.ok("Info")
        self.assertEqual(info.config_version, deleted.config_version)

    def test_validation(self):
        cases = [
            (S.pb.Namespace(name="Bad Name"), "namespace may contain only"),
            (S.pb.Namespace(name="x" * 65), "namespace longer than 64 bytes"),
            (S.pb.Namespace(name="py-v", subscribe_rule=42), "subscribe_rule is not a known rule"),
            (S.pb.Namespace(name="py-v", slow_consumer_policy=9),
             "slow_consumer_policy is not a known policy"),
            (S.pb.Namespace(name="py-v", owner_claim="sub"), "owner_claim is only meaningful"),
            (S.pb.Namespace(name="py-v", history_size=1000001), "history_size above 1000000"),
        ]
        before = self.ok("Info").config_version
        for ns, message in cases:
            with self.subTest(message=message):
                self.fails("CreateNamespace", S.pb.CreateNamespaceRequest(namespace=ns),
                           INVALID_ARGUMENT, message)
        self.assertEqual(self.ok("Info").config_version, before, "a refused change bumped it")
        self.fails("GetNamespace", S.pb.GetNamespaceRequest(name="py-v"), NOT_FOUND)
        # Limits are inclusive.
        ok = S.pb.Namespace(name="x" * 64, history_size=1000000)
        self.ok("CreateNamespace", S.pb.CreateNamespaceRequest(namespace=ok))
        self.ok("DeleteNamespace", S.pb.DeleteNamespaceRequest(name="x" * 64))

    def test_list_pages(self):
        names = ["py-page-a", "py-page-b", "py-page-c"]
        for name in names:
            self.ok("CreateNamespace", S.pb.CreateNamespaceRequest(namespace=S.pb.Namespace(name=name)))
        try:
            seen, token = [], ""
            for _ in range(50):  # bounded: there are far fewer namespaces
                page = self.ok("ListNamespaces", S.pb.ListNamespacesRequest(page_size=1,
                                                                          page_token=token))
                self.assertLessEqual(len(page.namespaces), 1)
                seen += [n.name for n in page.namespaces]
                token = page.next_page_token
                if not token:
                    break
            self.assertEqual(token, "", "paging did not end")
            self.assertEqual(seen, sorted(seen))
            self.assertEqual(len(seen), len(set(seen)), "a namespace came twice")
            for name in names:
                self.assertIn(name, seen)
            self.fails("ListNamespaces", S.pb.ListNamespacesRequest(page_token="not-a-token"),
                       INVALID_ARGUMENT, "page_token")
        finally:
            for name in names:
                self.ok("DeleteNamespace", S.pb.DeleteNamespaceRequest(name=name))


# --------------------------------------------------------------------------- limits, auth


class TestLimitsAndAuthSettings(ContractCase):
    def test_limits(self):
        before = self.ok("GetLimits")
        self.assertTrue(before.HasField("limits"))
        self.assertEqual(before.limits.max_connections_per_node, 10000)
        self.assertEqual(before.limits.max_subscriptions_per_connection, 50)
        self.assertEqual(before.limits.max_inbound_frame_bytes, 65536)
        self.assertEqual(before.limits.slow_consumer_policy, S.pb.SLOW_CONSUMER_POLICY_DROP)
        self.assertEqual(before.limits.user_history_size, 100)
        self.assertEqual(before.limits.user_history_ttl_seconds, 600)
        try:
            after = self.ok("SetLimits", S.pb.SetLimitsRequest(limits=S.pb.Limits(
                max_subscriptions_per_connection=25, allowed_origins=["https://a.example"])))
            self.assertEqual(after.limits.max_subscriptions_per_connection, 25)
            self.assertEqual(list(after.limits.allowed_origins), ["https://a.example"])
            self.assertEqual(after.limits.max_connections_per_node, 10000, "defaults filled in")
            self.assertGreater(after.config_version, before.config_version)
            self.assertEqual(self.ok("GetLimits").limits, after.limits)
            version = after.config_version
            for limits, message in [
                (S.pb.Limits(max_inbound_frame_bytes=10), "max_inbound_frame_bytes below 256"),
                (S.pb.Limits(max_inbound_frame_bytes=64 * 1024 * 1024 + 1),
                 "max_inbound_frame_bytes above 64 MiB"),
                (S.pb.Limits(slow_consumer_policy=7), "slow_consumer_policy is not a known policy"),
                (S.pb.Limits(user_history_size=100001), "user_history_size above 100000"),
                (S.pb.Limits(allowed_origins=[""]), "allowed_origins entries must be 1..255 bytes"),
            ]:
                with self.subTest(message=message):
                    self.fails("SetLimits", S.pb.SetLimitsRequest(limits=limits), INVALID_ARGUMENT,
                               message)
            current = self.ok("GetLimits")
            self.assertEqual(current.config_version, version, "a refused SetLimits bumped it")
            self.assertEqual(current.limits, after.limits)
        finally:
            reset = self.ok("SetLimits", S.pb.SetLimitsRequest())
        self.assertEqual(reset.limits, before.limits)

    def test_auth_settings(self):
        got = self.ok("GetAuthSettings")
        self.assertTrue(got.auth.allow_anonymous)
        self.assertEqual(len(got.auth.keys), 1)
        self.assertEqual(got.auth.keys[0].kid, "test")
        self.assertEqual(got.auth.keys[0].algorithm, "HS256")
        self.assertEqual(got.auth.keys[0].secret, "<redacted>", "Get never returns secrets")
        original = S.pb.AuthSettings(allow_anonymous=True, keys=[
            S.pb.JwtKey(kid="test", algorithm="HS256", secret=JWT_SECRET)])
        try:
            wanted = S.pb.AuthSettings(allow_anonymous=True, leeway_seconds=30, issuer="py-iss",
                                     keys=[S.pb.JwtKey(kid="test", algorithm="HS256",
                                                     secret=JWT_SECRET),
                                           S.pb.JwtKey(kid="next", algorithm="HS256",
                                                     secret="n" * 32)])
            set_resp = self.ok("SetAuthSettings", S.pb.SetAuthSettingsRequest(auth=wanted))
            self.assertGreater(set_resp.config_version, got.config_version)
            self.assertEqual(set_resp.auth.leeway_seconds, 30)
            self.assertEqual(set_resp.auth.issuer, "py-iss")
            self.assertEqual([k.kid for k in set_resp.auth.keys], ["test", "next"])
            self.assertEqual({k.secret for k in set_resp.auth.keys}, {"<redacted>"})
            again = self.ok("GetAuthSettings")
            self.assertEqual(again.auth, set_resp.auth)
            self.assertEqual(again.config_version, set_resp.config_version)
            bad = [
                (S.pb.JwtKey(kid="a", algorithm="HS512", secret="s" * 32),
                 "algorithm must be HS256, RS256 or ES256"),
                (S.pb.JwtKey(kid="a", algorithm="HS256", secret="short"),
                 "HS256 secret shorter than 32 bytes"),
                (S.pb.JwtKey(kid="a", algorithm="HS256", secret="s" * 32, public_key_pem="x"),
                 "HS256 takes `secret`"),
                (S.pb.JwtKey(kid="a", algorithm="RS256", public_key_pem="not pem"),
                 "keys[0]: RS256"),
                (S.pb.JwtKey(kid="k" * 129, algorithm="HS256", secret="s" * 32),
                 "kid longer than 128 bytes"),
            ]
            for key, message in bad:
                with self.subTest(message=message):
                    self.fails("SetAuthSettings", S.pb.SetAuthSettingsRequest(
                        auth=S.pb.AuthSettings(allow_anonymous=True, keys=[key])),
                        INVALID_ARGUMENT, message)
            twice = [S.pb.JwtKey(kid="d", algorithm="HS256", secret="s" * 32)] * 2
            self.fails("SetAuthSettings", S.pb.SetAuthSettingsRequest(auth=S.pb.AuthSettings(
                allow_anonymous=True, keys=twice)), INVALID_ARGUMENT, "used twice")
            self.fails("SetAuthSettings", S.pb.SetAuthSettingsRequest(auth=S.pb.AuthSettings(
                allow_anonymous=True, leeway_seconds=601)), INVALID_ARGUMENT,
                "leeway_seconds above 600")
            self.fails("SetAuthSettings", S.pb.SetAuthSettingsRequest(auth=S.pb.AuthSettings(
                allow_anonymous=True, jwks_url="http://idp.example/jwks")), INVALID_ARGUMENT,
                "jwks_url must be https:// (http:// only to a loopback address)")
            for url in ("grpc://127.0.0.1:1", "ftp://idp/jwks", "http://", "x" * 2049):
                self.fails("SetAuthSettings", S.pb.SetAuthSettingsRequest(auth=S.pb.AuthSettings(
                    allow_anonymous=True, jwks_url=url)), INVALID_ARGUMENT,
                    "jwks_url must be http://HOST[:PORT]/PATH or https://...")
            self.fails("SetAuthSettings", S.pb.SetAuthSettingsRequest(auth=S.pb.AuthSettings(
                allow_anonymous=True, jwks_url="https://idp.example/jwks",
                jwks_refresh_seconds=86401)), INVALID_ARGUMENT, "jwks_refresh_seconds above 86400")
            many = [S.pb.JwtKey(kid=f"k{i}", algorithm="HS256", secret="s" * 32) for i in range(17)]
            self.fails("SetAuthSettings", S.pb.SetAuthSettingsRequest(auth=S.pb.AuthSettings(
                allow_anonymous=True, keys=many)), INVALID_ARGUMENT, "at most 16 JWT keys")
            self.assertEqual(self.ok("GetAuthSettings").auth, set_resp.auth,
                             "a refused SetAuthSettings changed the settings")
        finally:
            self.ok("SetAuthSettings", S.pb.SetAuthSettingsRequest(auth=original))


# --------------------------------------------------------------------------- API keys


class TestApiKeys(ContractCase):
    def test_create_list_revoke(self):
        created = self.ok("CreateApiKey", S.pb.CreateApiKeyRequest(
            name="py-dashboard", role=S.pb.API_KEY_ROLE_READER))
        self.assertTrue(created.secret.startswith("hk_"), created.secret)
        self.assertGreaterEqual(len(created.secret), 32)
        self.assertRegex(created.key.id, r"^[0-9a-f]{12}$")
        self.assertEqual(created.key.id, hashlib.sha256(created.secret.encode()).hexdigest()[:12],
                         "id is the first 12 hex characters of the key's SHA-256")
        self.assertEqual(created.key.name, "py-dashboard")
        self.assertEqual(created.key.role, S.pb.API_KEY_ROLE_READER)
        self.assertGreater(created.key.created_unix_ms, 1_600_000_000_000)
        self.assertLessEqual(created.key.created_unix_ms, time.time() * 1000 + 60_000)

        self.ok("Info", key=created.secret)
        listed = self.ok("ListApiKeys").keys
        self.assertIn(created.key, list(listed))
        times = [k.created_unix_ms for k in listed]
        self.assertEqual(times, sorted(times), "oldest first")

        self.ok("RevokeApiKey", S.pb.RevokeApiKeyRequest(id=created.key.id))
        self.fails("Info", None, UNAUTHENTICATED, key=created.secret)
        self.assertNotIn(created.key.id, [k.id for k in self.ok("ListApiKeys").keys])
        self.fails("RevokeApiKey", S.pb.RevokeApiKeyRequest(id=created.key.id), NOT_FOUND,
                   f"no API key with id '{created.key.id}'")
        self.fails("RevokeApiKey", S.pb.RevokeApiKeyRequest(id=""), NOT_FOUND)

    def test_create_validation(self):
        count = len(self.ok("ListApiKeys").keys)
        self.fails("CreateApiKey", S.pb.CreateApiKeyRequest(name="py-x"), INVALID_ARGUMENT,
                   "role must be admin, publisher or reader")
        self.fails("CreateApiKey", S.pb.CreateApiKeyRequest(name="py-x", role=9), INVALID_ARGUMENT,
                   "role must be admin, publisher or reader")
        self.fails("CreateApiKey", S.pb.CreateApiKeyRequest(name="n" * 65,
                                                          role=S.pb.API_KEY_ROLE_READER),
                   INVALID_ARGUMENT, "name longer than 64 bytes")
        self.assertEqual(len(self.ok("ListApiKeys").keys), count, "a refused key was stored")
        admin = self.ok("CreateApiKey", S.pb.CreateApiKeyRequest(name="n" * 64,
                                                               role=S.pb.API_KEY_ROLE_ADMIN))
        self.ok("ListApiKeys", key=admin.secret)
        self.ok("RevokeApiKey", S.pb.RevokeApiKeyRequest(id=admin.key.id), key=admin.secret)
        self.fails("ListApiKeys", None, UNAUTHENTICATED, key=admin.secret)
