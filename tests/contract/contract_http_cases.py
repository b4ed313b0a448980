"""Contract cases: the HTTP JSON API (docs/api.md "HTTP API") against the gRPC contract.

Each route answers the response message of its RPC with every field present, under the
.proto's names; the same mistake gets the same gRPC code name over HTTP as over gRPC, with
the documented HTTP status.
"""

import json
import time
import urllib.error
import urllib.request

import contract_support as S
from contract_support import *  # noqa: F401,F403 (constants, helpers, ContractCase)

# docs/api.md's mapping of gRPC code names to HTTP statuses.
HTTP_STATUS = {
    "OK": 200, "INVALID_ARGUMENT": 400, "FAILED_PRECONDITION": 400, "OUT_OF_RANGE": 400,
    "UNAUTHENTICATED": 401, "PERMISSION_DENIED": 403, "NOT_FOUND": 404,
    "ALREADY_EXISTS": 409, "ABORTED": 409, "RESOURCE_EXHAUSTED": 429, "CANCELLED": 499,
    "INTERNAL": 500, "UNKNOWN": 500, "DATA_LOSS": 500, "UNIMPLEMENTED": 501,
    "UNAVAILABLE": 503, "DEADLINE_EXCEEDED": 504,
}

ROUTES = {
    "/api/publish": "Publish", "/api/publish_batch": "PublishBatch",
    "/api/broadcast": "Broadcast", "/api/send_to_user": "SendToUser",
    "/api/disconnect": "Disconnect", "/api/subscribe": "Subscribe",
    "/api/unsubscribe": "Unsubscribe", "/api/refresh": "Refresh",
    "/api/revoke_token": "RevokeToken", "/api/history": "History", "/api/presence": "Presence",
    "/api/channels": "ListChannels", "/api/nodes": "ListNodes",
    "/api/namespaces": "ListNamespaces", "/api/stats": "ClusterStats", "/api/info": "Info",
}


def http(path, body=None, key=ADMIN_KEY, method=None):
    """(status, parsed JSON body) of one request to herald-control's HTTP port."""
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    req = urllib.request.Request(f"http://{S.CLUSTER.http_address}{path}", data=data,
                                 method=method or ("POST" if data is not None else "GET"))
    if key is not None:
        req.add_header("Authorization", f"Bearer {key}")
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=CALL_TIMEOUT) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def response_fields(rpc):
    return {f.name for f in control_methods()[rpc].output_type.fields}


class TestHttpApi(ContractCase):
    def test_every_route_answers_its_rpcs_response_shape(self):
        bodies = {
            "/api/publish": {"channel": "http:shape", "data": {"a": 1}},
            "/api/publish_batch": {"publications": [{"channel": "http:shape", "data": 2}]},
            "/api/broadcast": {"data": {"all": True}},
            "/api/send_to_user": {"user": "http-user", "data": "hi"},
            "/api/disconnect": {"user": "http-user"},
            "/api/subscribe": {"user": "http-user", "channel": "http:shape"},
            "/api/unsubscribe": {"user": "http-user", "channel": "http:shape"},
            "/api/refresh": {"user": "http-user", "expire_at": 0},
            "/api/revoke_token": {"jti": "http-jti", "expire_at": int(time.time()) + 600},
            "/api/history": {"channel": "http:shape"},
            "/api/presence": {"channel": "http:shape"},
        }
        for path, rpc in ROUTES.items():
            status, body = http(path, bodies.get(path, {}))
            self.assertEqual(status, 200, f"{path}: {body}")
            self.assertEqual(set(body), response_fields(rpc), f"{path} answers {rpc}'s fields")
        # 64-bit integers are strings, as in proto3's JSON mapping.
        status, body = http("/api/publish", {"channel": "http:shape", "data": 3})
        self.assertIsInstance(body["offset"], str)
        self.assertGreater(int(body["offset"]), 0)

    def test_reads_answer_get(self):
        for path in ("/api/channels", "/api/nodes", "/api/namespaces", "/api/stats", "/api/info"):
            status, body = http(path)
            self.assertEqual(status, 200, f"GET {path}: {body}")
        status, info = http("/api/info")
        self.assertEqual(info["grpc_listen"], S.CLUSTER.control_address)

    def test_data_is_published_as_the_json_value(self):
        status, body = http("/api/publish", {"channel": "http:data", "data": {"x": [1, "y"]}})
        self.assertEqual(status, 200, body)
        history = self.ok("History", S.pb.HistoryRequest(channel="http:data"))
        self.assertEqual(history.offset, int(body["offset"]))
        self.assertEqual(history.epoch, body["epoch"])

    def test_same_mistake_same_code_as_grpc(self):
        cases = [
            ("no key", None, {"channel": "http:err", "data": 1}),
            ("unknown key", "hk_" + "0" * 40, {"channel": "http:err", "data": 1}),
            ("bad channel", ADMIN_KEY, {"channel": "bad channel", "data": 1}),
            ("event too long", ADMIN_KEY, {"channel": "http:err", "data": 1, "event": "e" * 129}),
            ("no data", ADMIN_KEY, {"channel": "http:err"}),
        ]
        for what, key, body in cases:
            request = S.pb.PublishRequest(channel=body["channel"],
                                          data=json.dumps(body["data"]) if "data" in body else "",
                                          event=body.get("event", ""))
            grpc_code = self.api.call("Publish", request, key=key).code.name
            status, answer = http("/api/publish", body, key=key)
            self.assertEqual(answer["error"]["code"], grpc_code, f"{what}: {answer}")
            self.assertEqual(status, HTTP_STATUS[grpc_code], what)
            self.assertEqual(answer["error"]["status"], status, what)
            self.assertTrue(answer["error"]["message"], what)

    def test_a_reader_key_may_read_but_not_publish(self):
        key = self.ok("CreateApiKey", S.pb.CreateApiKeyRequest(
            name="http-reader", role=S.pb.API_KEY_ROLE_READER)).secret
        self.assertEqual(http("/api/stats", key=key)[0], 200)
        status, answer = http("/api/publish", {"channel": "http:r", "data": 1}, key=key)
        self.assertEqual((status, answer["error"]["code"]), (403, "PERMISSION_DENIED"))

    def test_http_only_mistakes(self):
        for body, why in ((b"not json", "not JSON"), (b"[1]", "not an object"),
                          (b'{"channel":"a","dta":1}', "unknown field"),
                          (b"[" * 100 + b"]" * 100, "deeper than 64")):
            status, answer = http("/api/publish", body)
            self.assertEqual((status, answer["error"]["code"]), (400, "INVALID_ARGUMENT"), why)
        status, answer = http("/api/nope", {})
        self.assertEqual((status, answer["error"]["code"]), (404, "NOT_FOUND"))
        status, health = http("/health", key=None)
        self.assertEqual((status, health["status"]), (200, "ok"))
