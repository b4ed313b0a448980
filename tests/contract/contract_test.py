#!/usr/bin/python3
"""Wire-contract test of herald-control from a second, independent gRPC client (Python).

The stubs are generated from proto/herald/v1/*.proto at test time, into a temporary
directory, so this client knows only what the .proto files say. The test starts a real
herald-control and one herald-node on 127.0.0.1 (port 0, a fresh data directory, a random
admin key), calls every RPC of herald.v1.Control with valid and invalid input, checks the
status codes against docs/api.md and the shapes of the responses, and checks that NodeLink
refuses a session that does not start with a valid Hello.

Run it with Debian's interpreter (python3-grpcio and python3-protobuf load only there):

  /usr/bin/python3 tests/contract/contract_test.py \
      --control-bin build/controlplane/herald-control --node-bin build/dataplane/herald-node \
      --proto-dir proto

Options not listed below go to unittest (e.g. `-v`, `-k Publish`). The binaries and the proto
directory can also come from HERALD_CONTROL_BIN, HERALD_NODE_BIN and HERALD_PROTO_DIR; the
defaults are build/... and proto/ of this repository. The servers inherit this process's
environment, so ASAN_OPTIONS, LSAN_OPTIONS and UBSAN_OPTIONS reach a sanitizer build.

Code generation: this uses the system `protoc --python_out` (protobuf-compiler 3.21) with
`--grpc_python_out` from /usr/bin/grpc_python_plugin (protobuf-compiler-grpc 1.51), not
Debian's python3-grpc-tools. grpc_tools is 1.14 (2018) and embeds a protoc of that era: its
output constructs descriptors directly in the pre-3.20 style (which the 3.21 runtime accepts
today only for compatibility), while the system protoc and plugin are the same versions as the
python3-protobuf (3.21) and python3-grpcio (1.51) runtimes, and the same protoc that builds
the C++ server and the descriptor baseline (tests/contract/check_descriptor.py).
"""

import argparse
import base64
import ctypes
import hashlib
import hmac
import importlib
import json
import os
import re
import secrets
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from collections import defaultdict
from pathlib import Path

import grpc
import websocket  # python3-websocket

REPO = Path(__file__).resolve().parents[2]

# Set by main() (or from the environment) and setUpModule().
OPTS = None
pb = pb_grpc = nl = nl_grpc = None
CLUSTER = None

# JWT secret (kid "test") the cluster accepts; anonymous WebSocket clients are allowed.
JWT_SECRET = "py-contract-jwt-secret-0123456789abcdef"
NODE_SECRET = "py-contract-node-secret-" + secrets.token_hex(8)
ADMIN_KEY = "py-contract-admin-" + secrets.token_hex(16)  # 50 bytes (at least 32 required)
WRONG_KEY = "py-contract-not-a-key-" + secrets.token_hex(16)

CALL_TIMEOUT = 10.0  # seconds: every RPC gets a deadline, as callers are expected to set one
START_TIMEOUT = 30.0  # sanitizer builds start slowly
WAIT_TIMEOUT = 15.0  # state only visible by asking (node health, interest) is polled this long

# Status codes seen per RPC over the whole run (checked by TestZCoverage).
OBSERVED = defaultdict(set)
TESTS_RUN = set()


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Other arguments go to unittest, e.g. -v, -k PATTERN, -f (stop at the first "
               "failure).")
    parser.add_argument("--control-bin", default=os.environ.get("HERALD_CONTROL_BIN")
                        or str(REPO / "build/controlplane/herald-control"),
                        help="herald-control to test (env HERALD_CONTROL_BIN; default %(default)s)")
    parser.add_argument("--node-bin", default=os.environ.get("HERALD_NODE_BIN")
                        or str(REPO / "build/dataplane/herald-node"),
                        help="herald-node to start (env HERALD_NODE_BIN; default %(default)s)")
    parser.add_argument("--proto-dir", default=os.environ.get("HERALD_PROTO_DIR")
                        or str(REPO / "proto"),
                        help="directory holding herald/v1/*.proto (env HERALD_PROTO_DIR)")
    parser.add_argument("--protoc", default=os.environ.get("PROTOC") or "protoc")
    parser.add_argument("--grpc-python-plugin", default=os.environ.get("GRPC_PYTHON_PLUGIN")
                        or "grpc_python_plugin")
    parser.add_argument("--keep-logs", action="store_true",
                        help="print the servers' output at the end even when all passed")
    return parser.parse_known_args(argv)


# --------------------------------------------------------------------------- stubs


def generate_stubs(out_dir):
    """protoc + grpc_python_plugin -> out_dir/herald/v1/*_pb2*.py; imports them."""
    global pb, pb_grpc, nl, nl_grpc
    proto_dir = Path(OPTS.proto_dir).resolve()
    protos = sorted((proto_dir / "herald" / "v1").glob("*.proto"))
    if not protos:
        raise RuntimeError(f"no .proto files under {proto_dir}/herald/v1")
    protoc = shutil.which(OPTS.protoc)
    plugin = shutil.which(OPTS.grpc_python_plugin)
    if not protoc or not plugin:
        raise RuntimeError("need protoc (protobuf-compiler) and grpc_python_plugin "
                           "(protobuf-compiler-grpc): run scripts/install-deps.sh")
    cmd = [protoc, f"-I{proto_dir}", f"--python_out={out_dir}", f"--grpc_python_out={out_dir}",
           f"--plugin=protoc-gen-grpc_python={plugin}"] + [str(p) for p in protos]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stderr}")
    sys.path.insert(0, str(out_dir))
    importlib.invalidate_caches()
    pb = importlib.import_module("herald.v1.control_pb2")
    pb_grpc = importlib.import_module("herald.v1.control_pb2_grpc")
    nl = importlib.import_module("herald.v1.node_link_pb2")
    nl_grpc = importlib.import_module("herald.v1.node_link_pb2_grpc")
    if not pb.__file__.startswith(str(out_dir)):
        raise RuntimeError(f"imported {pb.__file__}, not the freshly generated stubs")


def control_methods():
    return {m.name: m for m in pb.DESCRIPTOR.services_by_name["Control"].methods}


# --------------------------------------------------------------------------- processes

_libc = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1


def _die_with_parent():
    # A test killed half-way must not leave daemons behind (as the C++ harness does).
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class Process:
    """A child process whose combined output is collected, for waiting on log lines."""

    def __init__(self, name, argv):
        self.name = name
        self.argv = argv
        self._lines = []
        self._cond = threading.Condition()
        self._eof = False
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, env=os.environ.copy(),
                                     preexec_fn=_die_with_parent)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for raw in self.proc.stdout:
            with self._cond:
                self._lines.append(raw.decode("utf-8", "replace"))
                self._cond.notify_all()
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def wait_for(self, pattern, timeout):
        """The first match of `pattern` in the output, waiting up to `timeout` s."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self._lines:
                    m = regex.search(line)
                    if m:
                        return m
                left = deadline - time.monotonic()
                if self._eof or left <= 0:
                    return None
                self._cond.wait(left)

    def output(self):
        with self._cond:
            return "".join(self._lines)

    def running(self):
        return self.proc.poll() is None

    def stop(self, timeout=10.0):
        if self.running():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._reader.join(10)
        self.proc.stdout.close()
        return self.proc.returncode


def eventually(condition, timeout=WAIT_TIMEOUT, interval=0.02):
    """Polls `condition` until it returns a truthy value or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            return value
        time.sleep(interval)  # polling interval, not synchronisation: the deadline decides


def poll(fetch, accept, timeout=WAIT_TIMEOUT):
    """Calls fetch() until accept(value); returns that value, or None at the deadline."""
    found = []

    def attempt():
        value = fetch()
        if accept(value):
            found.append(value)
            return True
        return False
    return found[0] if eventually(attempt, timeout) else None


class Cluster:
    """herald-control plus one herald-node on loopback, fast heartbeats (as tests/integration)."""

    def __init__(self, root):
        self.root = Path(root)
        self.control = None
        self.node = None
        self.control_address = None
        self.node_address = None
        self.node_id = None

    def start(self):
        config = {"auth": {"allow_anonymous": True,
                           "keys": [{"kid": "test", "algorithm": "HS256", "secret": JWT_SECRET}]}}
        (self.root / "control.json").write_text(json.dumps(config))
        self.control = Process("herald-control", [
            OPTS.control_bin, "--grpc-listen", "127.0.0.1:0",
            "--data-dir", str(self.root / "state"), "--config", str(self.root / "control.json"),
            "--heartbeat-interval-ms", "200", "--node-timeout-ms", "1500",
            "--admin-key", ADMIN_KEY, "--node-secret", NODE_SECRET])
        m = self.control.wait_for(r"listening on ([0-9.]+:[0-9]+)", START_TIMEOUT)
        if not m:
            raise RuntimeError("herald-control did not start:\n" + self.control.output())
        self.control_address = m.group(1)
        self.channel = grpc.insecure_channel(self.control_address)
        grpc.channel_ready_future(self.channel).result(timeout=START_TIMEOUT)
        self.api = Api(self.channel)

        self.node = Process("herald-node", [
            OPTS.node_bin, "--listen", "127.0.0.1:0", "--control", self.control_address,
            "--shards", "2", "--node-secret", NODE_SECRET, "--reconnect-max-ms", "500"])
        m = self.node.wait_for(r"listening on ([0-9.]+:[0-9]+)", START_TIMEOUT)
        if not m:
            raise RuntimeError("herald-node did not start:\n" + self.node.output())
        self.node_address = m.group(1)
        node = eventually(self._healthy_node, WAIT_TIMEOUT)
        if not node:
            raise RuntimeError("the node did not become healthy and configured:\n"
                               + self.control.output() + self.node.output())
        self.node_id = node.node_id

    def _healthy_node(self):
        r = self.api.call("ListNodes", record=False)
        if r.code != grpc.StatusCode.OK:
            return None
        for n in r.resp.nodes:
            # Healthy and configured: a node accepts clients once it applied a config.
            if (n.address == self.node_address and n.health == pb.NODE_HEALTH_HEALTHY
                    and n.config_version_acked > 0):
                return n
        return None

    def ws_url(self, query=""):
        return f"ws://{self.node_address}/ws" + (f"?{query}" if query else "")

    def crashed(self):
        return [p for p in (self.control, self.node) if p is not None and not p.running()]

    def stop(self):
        if getattr(self, "channel", None) is not None:
            self.channel.close()
        for p in (self.node, self.control):
            if p is not None:
                p.stop()


# --------------------------------------------------------------------------- clients


class Result:
    def __init__(self, code, resp, details):
        self.code, self.resp, self.details = code, resp, details

    def __repr__(self):
        return f"{self.code.name}: {self.details!r}"


class Api:
    """Calls Control RPCs through the generated stub; records each status code."""

    def __init__(self, channel):
        self.stub = pb_grpc.ControlStub(channel)

    def call(self, method, request=None, key=ADMIN_KEY, record=True, timeout=CALL_TIMEOUT):
        desc = control_methods()[method]
        if request is None:
            request = ([] if desc.client_streaming
                       else getattr(pb, desc.input_type.name)())
        if desc.client_streaming:
            request = iter(request)
        metadata = [] if key is None else [("authorization", f"Bearer {key}")]
        try:
            resp = getattr(self.stub, method)(request, metadata=metadata, timeout=timeout)
            result = Result(grpc.StatusCode.OK, resp, "")
            if not isinstance(resp, getattr(pb, desc.output_type.name)):
                raise AssertionError(f"{method} returned {type(resp).__name__}")
        except grpc.RpcError as e:
            result = Result(e.code(), None, e.details() or "")
        if record:
            OBSERVED[method].add(result.code)
        return result


def make_jwt(sub, ttl=600):
    def b64(raw):
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "test"}).encode())
    claims = b64(json.dumps({"sub": sub, "exp": int(time.time()) + ttl}).encode())
    sig = hmac.new(JWT_SECRET.encode(), f"{header}.{claims}".encode(), hashlib.sha256).digest()
    return f"{header}.{claims}.{b64(sig)}"


class WsClient:
    """A WebSocket client of the node (python3-websocket), with deadlines on every read."""

    def __init__(self, url, timeout=10.0):
        self.ws = websocket.create_connection(url, timeout=timeout)

    def next_of_type(self, frame_type, timeout=10.0, **fields):
        """The next frame of `frame_type` that has `fields` (e.g. channel="a"), skipping others:
        a broadcast an earlier test sent may still reach a connection opened just after it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.ws.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                opcode, data = self.ws.recv_data()
            except websocket.WebSocketTimeoutException:
                break
            if opcode != websocket.ABNF.OPCODE_TEXT:
                continue
            frame = json.loads(data)
            if frame.get("type") == frame_type and all(
                    frame.get(k) == v for k, v in fields.items()):
                return frame
        raise AssertionError(f"no {frame_type!r} frame within {timeout} s")

    def wait_closed(self, timeout=10.0):
        """The close code the server sent, and its reason."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.ws.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                opcode, data = self.ws.recv_data(control_frame=True)
            except websocket.WebSocketTimeoutException:
                break
            except websocket.WebSocketConnectionClosedException:
                return None, ""
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                code = struct.unpack("!H", data[:2])[0] if len(data) >= 2 else None
                return code, data[2:].decode("utf-8", "replace")
        raise AssertionError(f"not closed within {timeout} s")

    def close(self):
        try:
            self.ws.close(timeout=1)
        except Exception:  # already closed by the server
            pass
        finally:
            self.ws.shutdown()  # releases the socket either way


# --------------------------------------------------------------------------- base class

OK = grpc.StatusCode.OK
INVALID_ARGUMENT = grpc.StatusCode.INVALID_ARGUMENT
NOT_FOUND = grpc.StatusCode.NOT_FOUND
ALREADY_EXISTS = grpc.StatusCode.ALREADY_EXISTS
PERMISSION_DENIED = grpc.StatusCode.PERMISSION_DENIED
UNAUTHENTICATED = grpc.StatusCode.UNAUTHENTICATED
UNIMPLEMENTED = grpc.StatusCode.UNIMPLEMENTED


class ContractCase(unittest.TestCase):
    def setUp(self):
        TESTS_RUN.add(self.id())
        self.api = CLUSTER.api

    def tearDown(self):
        crashed = CLUSTER.crashed()
        if crashed:
            self.fail(", ".join(f"{p.name} exited with {p.proc.returncode}" for p in crashed)
                      + ":\n" + "".join(p.output()[-4000:] for p in crashed))

    def ok(self, method, request=None, key=ADMIN_KEY):
        r = self.api.call(method, request, key=key)
        self.assertEqual(r.code, OK, f"{method}({_short(request)}) -> {r}")
        return r.resp

    def fails(self, method, request, code, contains=None, key=ADMIN_KEY):
        r = self.api.call(method, request, key=key)
        self.assertEqual(r.code, code, f"{method}({_short(request)}) -> {r}")
        self.assertTrue(r.details, f"{method}: {code.name} without a message")
        if contains is not None:
            self.assertIn(contains, r.details, f"{method}: {r}")
        return r.details

    def publish(self, channel, data="1", **kw):
        return self.ok("Publish", pb.PublishRequest(channel=channel, data=data, **kw))

    def current_offset(self, channel):
        return self.ok("History", pb.HistoryRequest(channel=channel, limit=1)).offset


def _short(request, limit=300):
    """A request for a failure message (some carry 1 MiB of data)."""
    text = " ".join(str(request).split())
    return text if len(text) <= limit else text[:limit] + "..."


def assert_epoch(test, epoch):
    test.assertRegex(epoch, r"^[0-9a-f]{16}$", "epoch should be 16 hex digits")


# --------------------------------------------------------------------------- auth and roles

# The role each RPC needs (docs/api.md#authorization). A new RPC fails test_role_table until
# it is given a role here.
ROLE_OF = {
    "CreateNamespace": "admin", "UpdateNamespace": "admin", "DeleteNamespace": "admin",
    "SetLimits": "admin", "GetAuthSettings": "admin", "SetAuthSettings": "admin",
    "CreateApiKey": "admin", "ListApiKeys": "admin", "RevokeApiKey": "admin",
    "Publish": "publisher", "PublishBatch": "publisher", "PublishStream": "publisher",
    "Broadcast": "publisher", "SendToUser": "publisher", "Disconnect": "publisher",
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
            self.api.stub.Info(pb.InfoRequest(), metadata=[("authorization", f"Basic {ADMIN_KEY}")],
                               timeout=CALL_TIMEOUT)
            self.fail("Info with a Basic authorization succeeded")
        except grpc.RpcError as e:
            self.assertEqual(e.code(), UNAUTHENTICATED)

    def test_role_table(self):
        methods = control_methods()
        self.assertEqual(set(methods), set(ROLE_OF),
                         "RPCs in control.proto and ROLE_OF differ: give new RPCs a role")
        keys = {}
        for role, enum in (("publisher", pb.API_KEY_ROLE_PUBLISHER),
                           ("reader", pb.API_KEY_ROLE_READER)):
            keys[role] = self.ok("CreateApiKey", pb.CreateApiKeyRequest(
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
        call = CLUSTER.channel.unary_unary("/herald.v1.Control/NoSuchRpc",
                                           request_serializer=lambda b: b,
                                           response_deserializer=lambda b: b)
        with self.assertRaises(grpc.RpcError) as ctx:
            call(b"", metadata=[("authorization", f"Bearer {ADMIN_KEY}")], timeout=CALL_TIMEOUT)
        self.assertEqual(ctx.exception.code(), UNIMPLEMENTED)


# --------------------------------------------------------------------------- namespaces


class TestNamespaces(ContractCase):
    def test_lifecycle(self):
        ns = pb.Namespace(name="py-life", subscribe_rule=pb.SUBSCRIBE_RULE_PUBLIC,
                          history_size=10, history_ttl_seconds=60,
                          slow_consumer_policy=pb.SLOW_CONSUMER_POLICY_DISCONNECT)
        created = self.ok("CreateNamespace", pb.CreateNamespaceRequest(namespace=ns))
        self.assertTrue(created.HasField("namespace"))
        self.assertEqual(created.namespace, ns)
        self.assertGreater(created.config_version, 0)
        self.fails("CreateNamespace", pb.CreateNamespaceRequest(namespace=ns), ALREADY_EXISTS,
                   "already exists")

        got = self.ok("GetNamespace", pb.GetNamespaceRequest(name="py-life"))
        self.assertEqual(got.namespace, ns)
        self.fails("GetNamespace", pb.GetNamespaceRequest(name="py-unknown"), NOT_FOUND)

        # Update replaces the whole definition: history_size left out becomes 0.
        new = pb.Namespace(name="py-life", subscribe_rule=pb.SUBSCRIBE_RULE_OWNER,
                           owner_claim="address")
        updated = self.ok("UpdateNamespace", pb.UpdateNamespaceRequest(namespace=new))
        self.assertEqual(updated.namespace, new)
        self.assertGreater(updated.config_version, created.config_version)
        self.assertEqual(self.ok("GetNamespace", pb.GetNamespaceRequest(name="py-life")).namespace,
                         new)
        self.fails("UpdateNamespace", pb.UpdateNamespaceRequest(
            namespace=pb.Namespace(name="py-unknown")), NOT_FOUND)
        self.fails("UpdateNamespace", pb.UpdateNamespaceRequest(
            namespace=pb.Namespace(name="py-life", owner_claim="x")), INVALID_ARGUMENT,
            "owner_claim is only meaningful with the owner rule")

        listed = self.ok("ListNamespaces", pb.ListNamespacesRequest())
        self.assertIn(new, list(listed.namespaces))
        self.assertEqual(listed.config_version, updated.config_version)
        self.assertEqual(listed.next_page_token, "")

        deleted = self.ok("DeleteNamespace", pb.DeleteNamespaceRequest(name="py-life"))
        self.assertGreater(deleted.config_version, updated.config_version)
        self.fails("GetNamespace", pb.GetNamespaceRequest(name="py-life"), NOT_FOUND)
        self.fails("DeleteNamespace", pb.DeleteNamespaceRequest(name="py-life"), NOT_FOUND)
        info = self.ok("Info")
        self.assertEqual(info.config_version, deleted.config_version)

    def test_validation(self):
        cases = [
            (pb.Namespace(name="Bad Name"), "namespace may contain only"),
            (pb.Namespace(name="x" * 65), "namespace longer than 64 bytes"),
            (pb.Namespace(name="py-v", subscribe_rule=42), "subscribe_rule is not a known rule"),
            (pb.Namespace(name="py-v", slow_consumer_policy=9),
             "slow_consumer_policy is not a known policy"),
            (pb.Namespace(name="py-v", owner_claim="sub"), "owner_claim is only meaningful"),
            (pb.Namespace(name="py-v", history_size=1000001), "history_size above 1000000"),
        ]
        before = self.ok("Info").config_version
        for ns, message in cases:
            with self.subTest(message=message):
                self.fails("CreateNamespace", pb.CreateNamespaceRequest(namespace=ns),
                           INVALID_ARGUMENT, message)
        self.assertEqual(self.ok("Info").config_version, before, "a refused change bumped it")
        self.fails("GetNamespace", pb.GetNamespaceRequest(name="py-v"), NOT_FOUND)
        # Limits are inclusive.
        ok = pb.Namespace(name="x" * 64, history_size=1000000)
        self.ok("CreateNamespace", pb.CreateNamespaceRequest(namespace=ok))
        self.ok("DeleteNamespace", pb.DeleteNamespaceRequest(name="x" * 64))

    def test_list_pages(self):
        names = ["py-page-a", "py-page-b", "py-page-c"]
        for name in names:
            self.ok("CreateNamespace", pb.CreateNamespaceRequest(namespace=pb.Namespace(name=name)))
        try:
            seen, token = [], ""
            for _ in range(50):  # bounded: there are far fewer namespaces
                page = self.ok("ListNamespaces", pb.ListNamespacesRequest(page_size=1,
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
            self.fails("ListNamespaces", pb.ListNamespacesRequest(page_token="not-a-token"),
                       INVALID_ARGUMENT, "page_token")
        finally:
            for name in names:
                self.ok("DeleteNamespace", pb.DeleteNamespaceRequest(name=name))


# --------------------------------------------------------------------------- limits, auth


class TestLimitsAndAuthSettings(ContractCase):
    def test_limits(self):
        before = self.ok("GetLimits")
        self.assertTrue(before.HasField("limits"))
        self.assertEqual(before.limits.max_connections_per_node, 10000)
        self.assertEqual(before.limits.max_subscriptions_per_connection, 50)
        self.assertEqual(before.limits.max_inbound_frame_bytes, 65536)
        self.assertEqual(before.limits.slow_consumer_policy, pb.SLOW_CONSUMER_POLICY_DROP)
        self.assertEqual(before.limits.user_history_size, 100)
        self.assertEqual(before.limits.user_history_ttl_seconds, 600)
        try:
            after = self.ok("SetLimits", pb.SetLimitsRequest(limits=pb.Limits(
                max_subscriptions_per_connection=25, allowed_origins=["https://a.example"])))
            self.assertEqual(after.limits.max_subscriptions_per_connection, 25)
            self.assertEqual(list(after.limits.allowed_origins), ["https://a.example"])
            self.assertEqual(after.limits.max_connections_per_node, 10000, "defaults filled in")
            self.assertGreater(after.config_version, before.config_version)
            self.assertEqual(self.ok("GetLimits").limits, after.limits)
            version = after.config_version
            for limits, message in [
                (pb.Limits(max_inbound_frame_bytes=10), "max_inbound_frame_bytes below 256"),
                (pb.Limits(max_inbound_frame_bytes=64 * 1024 * 1024 + 1),
                 "max_inbound_frame_bytes above 64 MiB"),
                (pb.Limits(slow_consumer_policy=7), "slow_consumer_policy is not a known policy"),
                (pb.Limits(user_history_size=100001), "user_history_size above 100000"),
                (pb.Limits(allowed_origins=[""]), "allowed_origins entries must be 1..255 bytes"),
            ]:
                with self.subTest(message=message):
                    self.fails("SetLimits", pb.SetLimitsRequest(limits=limits), INVALID_ARGUMENT,
                               message)
            current = self.ok("GetLimits")
            self.assertEqual(current.config_version, version, "a refused SetLimits bumped it")
            self.assertEqual(current.limits, after.limits)
        finally:
            reset = self.ok("SetLimits", pb.SetLimitsRequest())
        self.assertEqual(reset.limits, before.limits)

    def test_auth_settings(self):
        got = self.ok("GetAuthSettings")
        self.assertTrue(got.auth.allow_anonymous)
        self.assertEqual(len(got.auth.keys), 1)
        self.assertEqual(got.auth.keys[0].kid, "test")
        self.assertEqual(got.auth.keys[0].algorithm, "HS256")
        self.assertEqual(got.auth.keys[0].secret, "<redacted>", "Get never returns secrets")
        original = pb.AuthSettings(allow_anonymous=True, keys=[
            pb.JwtKey(kid="test", algorithm="HS256", secret=JWT_SECRET)])
        try:
            wanted = pb.AuthSettings(allow_anonymous=True, leeway_seconds=30, issuer="py-iss",
                                     keys=[pb.JwtKey(kid="test", algorithm="HS256",
                                                     secret=JWT_SECRET),
                                           pb.JwtKey(kid="next", algorithm="HS256",
                                                     secret="n" * 32)])
            set_resp = self.ok("SetAuthSettings", pb.SetAuthSettingsRequest(auth=wanted))
            self.assertGreater(set_resp.config_version, got.config_version)
            self.assertEqual(set_resp.auth.leeway_seconds, 30)
            self.assertEqual(set_resp.auth.issuer, "py-iss")
            self.assertEqual([k.kid for k in set_resp.auth.keys], ["test", "next"])
            self.assertEqual({k.secret for k in set_resp.auth.keys}, {"<redacted>"})
            again = self.ok("GetAuthSettings")
            self.assertEqual(again.auth, set_resp.auth)
            self.assertEqual(again.config_version, set_resp.config_version)
            bad = [
                (pb.JwtKey(kid="a", algorithm="HS512", secret="s" * 32),
                 "algorithm must be HS256, RS256 or ES256"),
                (pb.JwtKey(kid="a", algorithm="HS256", secret="short"),
                 "HS256 secret shorter than 32 bytes"),
                (pb.JwtKey(kid="a", algorithm="HS256", secret="s" * 32, public_key_pem="x"),
                 "HS256 takes `secret`"),
                (pb.JwtKey(kid="a", algorithm="RS256", public_key_pem="not pem"),
                 "keys[0]: RS256"),
                (pb.JwtKey(kid="k" * 129, algorithm="HS256", secret="s" * 32),
                 "kid longer than 128 bytes"),
            ]
            for key, message in bad:
                with self.subTest(message=message):
                    self.fails("SetAuthSettings", pb.SetAuthSettingsRequest(
                        auth=pb.AuthSettings(allow_anonymous=True, keys=[key])),
                        INVALID_ARGUMENT, message)
            twice = [pb.JwtKey(kid="d", algorithm="HS256", secret="s" * 32)] * 2
            self.fails("SetAuthSettings", pb.SetAuthSettingsRequest(auth=pb.AuthSettings(
                allow_anonymous=True, keys=twice)), INVALID_ARGUMENT, "used twice")
            self.fails("SetAuthSettings", pb.SetAuthSettingsRequest(auth=pb.AuthSettings(
                allow_anonymous=True, leeway_seconds=601)), INVALID_ARGUMENT,
                "leeway_seconds above 600")
            many = [pb.JwtKey(kid=f"k{i}", algorithm="HS256", secret="s" * 32) for i in range(17)]
            self.fails("SetAuthSettings", pb.SetAuthSettingsRequest(auth=pb.AuthSettings(
                allow_anonymous=True, keys=many)), INVALID_ARGUMENT, "at most 16 JWT keys")
            self.assertEqual(self.ok("GetAuthSettings").auth, set_resp.auth,
                             "a refused SetAuthSettings changed the settings")
        finally:
            self.ok("SetAuthSettings", pb.SetAuthSettingsRequest(auth=original))


# --------------------------------------------------------------------------- API keys


class TestApiKeys(ContractCase):
    def test_create_list_revoke(self):
        created = self.ok("CreateApiKey", pb.CreateApiKeyRequest(
            name="py-dashboard", role=pb.API_KEY_ROLE_READER))
        self.assertTrue(created.secret.startswith("hk_"), created.secret)
        self.assertGreaterEqual(len(created.secret), 32)
        self.assertRegex(created.key.id, r"^[0-9a-f]{12}$")
        self.assertEqual(created.key.id, hashlib.sha256(created.secret.encode()).hexdigest()[:12],
                         "id is the first 12 hex characters of the key's SHA-256")
        self.assertEqual(created.key.name, "py-dashboard")
        self.assertEqual(created.key.role, pb.API_KEY_ROLE_READER)
        self.assertGreater(created.key.created_unix_ms, 1_600_000_000_000)
        self.assertLessEqual(created.key.created_unix_ms, time.time() * 1000 + 60_000)

        self.ok("Info", key=created.secret)
        listed = self.ok("ListApiKeys").keys
        self.assertIn(created.key, list(listed))
        times = [k.created_unix_ms for k in listed]
        self.assertEqual(times, sorted(times), "oldest first")

        self.ok("RevokeApiKey", pb.RevokeApiKeyRequest(id=created.key.id))
        self.fails("Info", None, UNAUTHENTICATED, key=created.secret)
        self.assertNotIn(created.key.id, [k.id for k in self.ok("ListApiKeys").keys])
        self.fails("RevokeApiKey", pb.RevokeApiKeyRequest(id=created.key.id), NOT_FOUND,
                   f"no API key with id '{created.key.id}'")
        self.fails("RevokeApiKey", pb.RevokeApiKeyRequest(id=""), NOT_FOUND)

    def test_create_validation(self):
        count = len(self.ok("ListApiKeys").keys)
        self.fails("CreateApiKey", pb.CreateApiKeyRequest(name="py-x"), INVALID_ARGUMENT,
                   "role must be admin, publisher or reader")
        self.fails("CreateApiKey", pb.CreateApiKeyRequest(name="py-x", role=9), INVALID_ARGUMENT,
                   "role must be admin, publisher or reader")
        self.fails("CreateApiKey", pb.CreateApiKeyRequest(name="n" * 65,
                                                          role=pb.API_KEY_ROLE_READER),
                   INVALID_ARGUMENT, "name longer than 64 bytes")
        self.assertEqual(len(self.ok("ListApiKeys").keys), count, "a refused key was stored")
        admin = self.ok("CreateApiKey", pb.CreateApiKeyRequest(name="n" * 64,
                                                               role=pb.API_KEY_ROLE_ADMIN))
        self.ok("ListApiKeys", key=admin.secret)
        self.ok("RevokeApiKey", pb.RevokeApiKeyRequest(id=admin.key.id), key=admin.secret)
        self.fails("ListApiKeys", None, UNAUTHENTICATED, key=admin.secret)


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
                self.fails("Publish", pb.PublishRequest(**fields), INVALID_ARGUMENT, message)
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
        req = pb.PublishBatchRequest(publications=[
            pb.PublishRequest(channel="py:batch", data=str(i)) for i in range(3)]
            + [pb.PublishRequest(channel="py:batch-b", data='{"x":1}', event="e")])
        resp = self.ok("PublishBatch", req)
        self.assertEqual(len(resp.results), 4, "one result per publication, in order")
        self.assertEqual([r.offset for r in resp.results], [1, 2, 3, 1])
        self.assertEqual(len({r.epoch for r in resp.results[:3]}), 1)
        for r in resp.results:
            assert_epoch(self, r.epoch)
            self.assertFalse(r.duplicate)

        for fields, message in BAD_PUBLICATIONS:
            with self.subTest(message=message):
                bad = pb.PublishBatchRequest(publications=[
                    pb.PublishRequest(channel="py:batch", data="1"), pb.PublishRequest(**fields)])
                self.fails("PublishBatch", bad, INVALID_ARGUMENT, "publications[1]: ")
        self.assertEqual(self.current_offset("py:batch"), 3, "a refused batch assigned offsets")
        self.fails("PublishBatch", pb.PublishBatchRequest(), INVALID_ARGUMENT,
                   "publications is empty")
        too_many = pb.PublishBatchRequest(publications=[
            pb.PublishRequest(channel="py:batch", data="1")] * 10001)
        self.fails("PublishBatch", too_many, INVALID_ARGUMENT, "at most 10000 publications")
        self.assertEqual(self.current_offset("py:batch"), 3)

        dup = pb.PublishBatchRequest(publications=[
            pb.PublishRequest(channel="py:batch", data="1", idempotency_key="b-1"),
            pb.PublishRequest(channel="py:batch", data="1", idempotency_key="b-1")])
        resp = self.ok("PublishBatch", dup)
        self.assertEqual([(r.offset, r.duplicate) for r in resp.results], [(4, False), (4, True)])

    def test_stream(self):
        reqs = [pb.PublishRequest(channel="py:stream", data=f'{{"i":{i}}}',
                                  idempotency_key="k0" if i == 2 else f"k{i}") for i in range(3)]
        resp = self.ok("PublishStream", reqs)
        self.assertEqual(resp.published, 3)
        self.assertEqual(resp.duplicates, 1)
        self.assertEqual(self.current_offset("py:stream"), 2, "the repeated key was published")
        self.assertEqual(self.ok("PublishStream", []).published, 0)

        for fields, message in BAD_PUBLICATIONS:
            with self.subTest(message=message):
                bad = [pb.PublishRequest(channel="py:stream", data="1"),
                       pb.PublishRequest(**fields),
                       pb.PublishRequest(channel="py:stream", data="1")]
                before = self.current_offset("py:stream")
                self.fails("PublishStream", bad, INVALID_ARGUMENT,
                           "publication 1 (after 1 accepted): ")
                self.assertEqual(self.current_offset("py:stream"), before + 1,
                                 "the one before the invalid one stays published, none after")


class TestBroadcastSendToUserDisconnect(ContractCase):
    def test_broadcast(self):
        everyone = self.ok("Broadcast", pb.BroadcastRequest(data='{"n":1}', event="notice"))
        self.assertEqual(len(everyone.results), 0, "no channels: no offsets")
        self.assertEqual(everyone.nodes, 1, "one node in routing")

        per_channel = self.ok("Broadcast", pb.BroadcastRequest(
            data="1", channels=["py:b1", "py:b2", "py:b1"]))
        self.assertEqual([r.offset for r in per_channel.results], [1, 1, 2])
        self.assertEqual(per_channel.results[0].epoch, per_channel.results[2].epoch)
        self.assertEqual(per_channel.nodes, 0)

        before = self.current_offset("py:b1")
        self.fails("Broadcast", pb.BroadcastRequest(data="1", channels=["py:b1", "bad channel"]),
                   INVALID_ARGUMENT, "channel 'bad channel'")
        self.assertEqual(self.current_offset("py:b1"), before, "validated before publishing")
        self.fails("Broadcast", pb.BroadcastRequest(), INVALID_ARGUMENT, "data must be valid JSON")
        self.fails("Broadcast", pb.BroadcastRequest(data="{x"), INVALID_ARGUMENT)
        self.fails("Broadcast", pb.BroadcastRequest(data="1", event="no spaces"), INVALID_ARGUMENT,
                   "event must be")

    def test_send_to_user(self):
        first = self.ok("SendToUser", pb.SendToUserRequest(user="py-nobody", data='{"t":"hi"}',
                                                           event="notice"))
        self.assertEqual(first.nodes, 0, "no node holds the user")
        self.assertEqual(first.offset, 1)
        assert_epoch(self, first.epoch)
        second = self.ok("SendToUser", pb.SendToUserRequest(user="py-nobody", data="2"))
        self.assertEqual((second.offset, second.epoch), (2, first.epoch))
        history = self.ok("History", pb.HistoryRequest(user="py-nobody"))
        self.assertEqual([p.offset for p in history.publications], [1, 2])
        self.assertEqual(history.publications[0].channel, "")
        self.assertEqual(history.publications[0].event, "notice")
        self.assertEqual(history.publications[0].data, '{"t":"hi"}')
        self.assertTrue(history.recovered)

        self.fails("SendToUser", pb.SendToUserRequest(data="1"), INVALID_ARGUMENT,
                   "user must be 1..256 bytes")
        self.fails("SendToUser", pb.SendToUserRequest(user="u" * 257, data="1"), INVALID_ARGUMENT,
                   "user must be 1..256 bytes")
        self.fails("SendToUser", pb.SendToUserRequest(user="py-nobody", data="nope"),
                   INVALID_ARGUMENT, "data must be valid JSON")
        self.fails("SendToUser", pb.SendToUserRequest(user="py-nobody", data="1", event="a b"),
                   INVALID_ARGUMENT, "event must be")
        self.assertEqual(self.ok("History", pb.HistoryRequest(user="py-nobody")).offset, 2)
        self.ok("SendToUser", pb.SendToUserRequest(user="u" * 256, data="1"))

    def test_disconnect_validation(self):
        self.fails("Disconnect", pb.DisconnectRequest(), INVALID_ARGUMENT,
                   "give user, client, or both")
        for code in (1000, 3999, 5000):
            self.fails("Disconnect", pb.DisconnectRequest(user="py-x", code=code),
                       INVALID_ARGUMENT, "code must be an application close code 4000..4999")
        self.fails("Disconnect", pb.DisconnectRequest(user="py-x", reason="r" * 121),
                   INVALID_ARGUMENT, "reason longer than 120 bytes")
        self.assertEqual(self.ok("Disconnect", pb.DisconnectRequest(
            user="py-x", code=4999, reason="r" * 120)).nodes, 0, "no node holds py-x")
        self.assertEqual(self.ok("Disconnect", pb.DisconnectRequest(client="py-none")).nodes, 1,
                         "a client id goes to every node")

    def test_disconnect_by_client_closes_with_the_code(self):
        ws = WsClient(CLUSTER.ws_url())
        try:
            connected = ws.next_of_type("connected")
            self.assertEqual(connected["user"], "")
            self.assertEqual(connected["node"], CLUSTER.node_id)
            resp = self.ok("Disconnect", pb.DisconnectRequest(
                client=connected["client"], code=4321, reason="bye from py"))
            self.assertEqual(resp.nodes, 1)
            self.assertEqual(ws.wait_closed(), (4321, "bye from py"))
        finally:
            ws.close()

    def test_authenticated_user_gets_personal_messages_and_is_disconnected(self):
        user = "py-alice"
        ws = WsClient(CLUSTER.ws_url("token=" + make_jwt(user)))
        try:
            self.assertEqual(ws.next_of_type("connected")["user"], user)
            # The node reports the user right after the connection authenticates.
            # Until then a message reaches no node (nodes 0) and stays in the user's history.
            sent = poll(lambda: self.ok("SendToUser", pb.SendToUserRequest(
                user=user, data='{"x":1}', event="ping")), lambda r: r.nodes == 1)
            self.assertTrue(sent, "the node never reported the user")
            frame = ws.next_of_type("message", user=user)
            self.assertEqual((frame["user"], frame["offset"], frame["epoch"], frame["data"],
                              frame["event"]), (user, sent.offset, sent.epoch, {"x": 1}, "ping"))
            resp = self.ok("Disconnect", pb.DisconnectRequest(user=user))
            self.assertEqual(resp.nodes, 1)
            self.assertEqual(ws.wait_closed(), (4100, "disconnected by server"))
        finally:
            ws.close()


# --------------------------------------------------------------------------- reading


class TestReading(ContractCase):
    def test_list_nodes(self):
        nodes = self.ok("ListNodes").nodes
        self.assertEqual([n.node_id for n in nodes], sorted(n.node_id for n in nodes))
        mine = [n for n in nodes if n.address == CLUSTER.node_address]
        self.assertEqual(len(mine), 1, f"the running node is not listed once: {nodes}")
        n = mine[0]
        self.assertEqual(n.node_id, CLUSTER.node_id)
        self.assertEqual(n.health, pb.NODE_HEALTH_HEALTHY)
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
        self.assertEqual(info.grpc_listen, CLUSTER.control_address)
        self.assertGreater(info.config_version, 0)
        self.assertGreater(info.started_unix_ms, 1_600_000_000_000)
        self.assertLessEqual(info.started_unix_ms, time.time() * 1000 + 1000)

        stats = self.ok("ClusterStats")
        self.assertEqual(stats.nodes, 1)
        self.assertEqual(stats.healthy_nodes, 1)
        self.assertEqual(stats.config_version, info.config_version)
        self.publish("py:stats", "1")
        self.ok("SendToUser", pb.SendToUserRequest(user="py-stats", data="1"))
        self.ok("Broadcast", pb.BroadcastRequest(data="1"))  # not counted: no channel
        after = self.ok("ClusterStats")
        self.assertEqual(after.publications, stats.publications + 2)

    def test_history(self):
        self.ok("CreateNamespace", pb.CreateNamespaceRequest(namespace=pb.Namespace(
            name="py-kept", history_size=3, history_ttl_seconds=3600)))
        try:
            epoch = None
            for i in range(1, 6):
                out = self.publish("py-kept:a", f'{{"n":{i}}}', event="tick")
                self.assertEqual(out.offset, i)
                epoch = out.epoch
            everything = self.ok("History", pb.HistoryRequest(channel="py-kept:a"))
            self.assertEqual((everything.offset, everything.epoch), (5, epoch))
            self.assertFalse(everything.recovered, "offsets 1 and 2 are no longer retained")
            self.assertEqual([p.offset for p in everything.publications], [3, 4, 5])
            p = everything.publications[2]
            self.assertEqual((p.channel, p.epoch, p.event, p.data), ("py-kept:a", epoch, "tick",
                                                                     '{"n":5}'))
            self.assertGreater(p.ts_unix_ms, 1_600_000_000_000)

            page = self.ok("History", pb.HistoryRequest(channel="py-kept:a", since_offset=3,
                                                        epoch=epoch, limit=1))
            self.assertTrue(page.recovered)
            self.assertEqual([p.offset for p in page.publications], [4])
            other = self.ok("History", pb.HistoryRequest(channel="py-kept:a", since_offset=3,
                                                         epoch="0000000000000000"))
            self.assertFalse(other.recovered)
            self.assertEqual([p.offset for p in other.publications], [3, 4, 5])
            beyond = self.ok("History", pb.HistoryRequest(channel="py-kept:a", since_offset=9,
                                                          epoch=epoch))
            self.assertFalse(beyond.recovered)
            self.assertEqual(len(beyond.publications), 0)

            # No history kept (default namespace), and a channel nobody published to.
            self.publish("py:nohist", "1")
            nohist = self.ok("History", pb.HistoryRequest(channel="py:nohist"))
            self.assertEqual((nohist.offset, len(nohist.publications)), (1, 0))
            fresh = self.ok("History", pb.HistoryRequest(channel="py:never"))
            self.assertEqual((fresh.offset, fresh.epoch, len(fresh.publications)), (0, "", 0))
            self.ok("History", pb.HistoryRequest(channel="py:never", limit=10000))
        finally:
            self.ok("DeleteNamespace", pb.DeleteNamespaceRequest(name="py-kept"))

        for req, message in [
            (pb.HistoryRequest(), "give either channel or user"),
            (pb.HistoryRequest(channel="a", user="alice"), "give either channel or user"),
            (pb.HistoryRequest(channel="bad name"), "channel 'bad name'"),
            (pb.HistoryRequest(user="u" * 257), "user must be 1..256 bytes"),
            (pb.HistoryRequest(channel="a", limit=10001), "limit is at most 10000"),
        ]:
            with self.subTest(message=message):
                self.fails("History", req, INVALID_ARGUMENT, message)

    def test_list_channels(self):
        for name in ("py-lc:a", "py-lc:b", "py-lc:c", "py-lcx"):
            self.publish(name, "1")
        self.publish("py-lc:b", "2")
        listed = self.ok("ListChannels", pb.ListChannelsRequest(prefix="py-lc:"))
        self.assertEqual([c.channel for c in listed.channels], ["py-lc:a", "py-lc:b", "py-lc:c"])
        self.assertEqual(listed.next_page_token, "")
        b = listed.channels[1]
        self.assertEqual((b.offset, b.nodes, b.subscribers, b.history), (2, 0, 0, 0))
        assert_epoch(self, b.epoch)
        self.assertEqual(b.epoch, self.ok("History", pb.HistoryRequest(channel="py-lc:b")).epoch)

        seen, token = [], ""
        for _ in range(10):  # bounded: three channels, one per page
            page = self.ok("ListChannels", pb.ListChannelsRequest(prefix="py-lc", page_size=1,
                                                                  page_token=token))
            self.assertLessEqual(len(page.channels), 1)
            seen += [c.channel for c in page.channels]
            token = page.next_page_token
            if not token:
                break
        self.assertEqual(seen, ["py-lc:a", "py-lc:b", "py-lc:c", "py-lcx"])
        self.fails("ListChannels", pb.ListChannelsRequest(page_token="bogus"), INVALID_ARGUMENT,
                   "page_token")

    def test_presence_validation(self):
        self.fails("Presence", pb.PresenceRequest(), INVALID_ARGUMENT,
                   "channel '': channel name is empty")
        self.fails("Presence", pb.PresenceRequest(channel="bad name"), INVALID_ARGUMENT,
                   "channel 'bad name'")
        empty = self.ok("Presence", pb.PresenceRequest(channel="py:nobody-here"))
        self.assertEqual((len(empty.entries), empty.connections, empty.users, empty.truncated,
                          empty.nodes_unanswered), (0, 0, 0, False, 0))

    def test_subscribers_show_in_presence_channels_and_stats(self):
        channel = "py-room:lobby"
        anon = WsClient(CLUSTER.ws_url("subscribe=" + channel))
        alice = WsClient(CLUSTER.ws_url(f"token={make_jwt('py-bob')}&subscribe={channel}"))
        try:
            a = anon.next_of_type("connected")
            b = alice.next_of_type("connected")
            self.assertEqual(a["subscribed"], [channel])
            self.assertEqual(b["user"], "py-bob")

            def both_present():
                r = self.ok("Presence", pb.PresenceRequest(channel=channel))
                return r if r.connections == 2 else None
            presence = eventually(both_present)
            self.assertTrue(presence, "the node's interest never reached herald-control")
            self.assertEqual(presence.users, 1)
            self.assertEqual(presence.nodes_unanswered, 0)
            self.assertFalse(presence.truncated)
            self.assertEqual([(e.user, e.client, e.node_id) for e in presence.entries],
                             [("", a["client"], CLUSTER.node_id),
                              ("py-bob", b["client"], CLUSTER.node_id)],
                             "sorted by user, then client")

            info = self.ok("ListChannels", pb.ListChannelsRequest(prefix=channel)).channels
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
        gone = eventually(lambda: self.ok("Presence", pb.PresenceRequest(
            channel=channel)).connections == 0)
        self.assertTrue(gone, "closed connections still present")


# --------------------------------------------------------------------------- NodeLink


class TestNodeLink(ContractCase):
    def session(self, messages, node_secret=NODE_SECRET):
        """Sends `messages`, half-closes; returns (status code, details, messages received).
        `node_secret` goes in the call's metadata, where herald-control checks it before it
        reads any message."""
        stub = nl_grpc.NodeLinkStub(CLUSTER.channel)
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
        for first in (nl.NodeMessage(stats=nl.NodeStats(connections=1)),
                      nl.NodeMessage(ack=nl.Ack(version=1)),
                      nl.NodeMessage()):
            with self.subTest(first=first.WhichOneof("kind")):
                code, details, received = self.session([first])
                self.assertEqual(code, INVALID_ARGUMENT, details)
                self.assertIn("the first NodeLink message must be Hello", details)
                self.assertEqual(received, [])

    def test_hello_needs_node_id_and_secret(self):
        code, details, received = self.session([nl.NodeMessage(hello=nl.Hello(
            node_id="", secret=NODE_SECRET))])
        self.assertEqual((code, received), (INVALID_ARGUMENT, []), details)
        code, details, received = self.session([nl.NodeMessage(hello=nl.Hello(
            node_id="n" * 129, secret=NODE_SECRET))])
        self.assertEqual((code, received), (INVALID_ARGUMENT, []), details)
        for secret in ("", NODE_SECRET[:-1] + "X", NODE_SECRET + "x"):
            with self.subTest(secret=secret[-4:]):
                code, details, received = self.session([nl.NodeMessage(hello=nl.Hello(
                    node_id="py-intruder", secret=secret))])
                self.assertEqual(code, UNAUTHENTICATED, details)
                self.assertIn("wrong or missing node secret", details)
                self.assertEqual(received, [], "an unknown node received messages")
        # The metadata secret is checked before the Hello is read: a right Hello is not enough.
        for secret in (None, NODE_SECRET[:-1] + "X"):
            with self.subTest(metadata_secret=(secret or "")[-4:]):
                code, details, received = self.session([nl.NodeMessage(hello=nl.Hello(
                    node_id="py-intruder", secret=NODE_SECRET))], node_secret=secret)
                self.assertEqual(code, UNAUTHENTICATED, details)
                self.assertIn("wrong or missing node secret", details)
                self.assertEqual(received, [])
        # Node ids reach logs and tables: control characters are refused.
        code, details, received = self.session([nl.NodeMessage(hello=nl.Hello(
            node_id="py\n[info] forged line", secret=NODE_SECRET))])
        self.assertEqual((code, received), (INVALID_ARGUMENT, []), details)
        names = [n.node_id for n in self.ok("ListNodes").nodes]
        self.assertNotIn("py-intruder", names)

    def test_valid_hello_gets_a_config_snapshot(self):
        # The refusals above only mean something if a correct Hello is accepted.
        outbox = []
        cond = threading.Condition()

        def requests():
            yield nl.NodeMessage(hello=nl.Hello(node_id="py-fake-node", build="py",
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

        stub = nl_grpc.NodeLinkStub(CLUSTER.channel)
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
            send(nl.NodeMessage(ack=nl.Ack(version=config.version, nonce=config.nonce)))

            def fake_node():
                for n in self.ok("ListNodes").nodes:
                    if n.node_id == "py-fake-node":
                        return n
                return None
            acked = poll(fake_node, lambda n: n and n.config_version_acked == config.version)
            self.assertTrue(acked, "the Ack was not recorded")
            self.assertEqual((acked.address, acked.build, acked.health),
                             ("127.0.0.1:1", "py", pb.NODE_HEALTH_HEALTHY))
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
        left = eventually(lambda: all(n.health != pb.NODE_HEALTH_HEALTHY
                                      for n in self.ok("ListNodes").nodes
                                      if n.node_id == "py-fake-node"))
        self.assertTrue(left)
        self.assertTrue(eventually(lambda: self.ok("ClusterStats").nodes == 1))


# --------------------------------------------------------------------------- coverage

# Codes each RPC must have returned over the run, besides OK, UNAUTHENTICATED and
# PERMISSION_DENIED (required for every RPC): the documented error codes that input can
# trigger. INTERNAL (state file not writable) and CANCELLED are not provoked here.
DOCUMENTED_ERRORS = {
    "CreateNamespace": {INVALID_ARGUMENT, ALREADY_EXISTS},
    "GetNamespace": {NOT_FOUND},
    "UpdateNamespace": {INVALID_ARGUMENT, NOT_FOUND},
    "DeleteNamespace": {NOT_FOUND},
    "ListNamespaces": {INVALID_ARGUMENT},
    "GetLimits": set(),
    "SetLimits": {INVALID_ARGUMENT},
    "GetAuthSettings": set(),
    "SetAuthSettings": {INVALID_ARGUMENT},
    "CreateApiKey": {INVALID_ARGUMENT},
    "ListApiKeys": set(),
    "RevokeApiKey": {NOT_FOUND},
    "Publish": {INVALID_ARGUMENT},
    "PublishBatch": {INVALID_ARGUMENT},
    "PublishStream": {INVALID_ARGUMENT},
    "Broadcast": {INVALID_ARGUMENT},
    "SendToUser": {INVALID_ARGUMENT},
    "Disconnect": {INVALID_ARGUMENT},
    "ListNodes": set(),
    "ListChannels": {INVALID_ARGUMENT},
    "History": {INVALID_ARGUMENT},
    "Presence": {INVALID_ARGUMENT},
    "ClusterStats": set(),
    "Info": set(),
}


class TestZCoverage(ContractCase):
    """Runs last (unittest orders classes by name): every RPC was called with each code."""

    def test_every_rpc_was_exercised(self):
        loader = unittest.TestLoader()
        everything = {t.id() for t in _flatten(loader.loadTestsFromModule(sys.modules[__name__]))
                      if not t.id().endswith("test_every_rpc_was_exercised")}
        if not everything <= TESTS_RUN:
            self.skipTest("coverage is checked only when the whole file runs")
        self.assertEqual(set(DOCUMENTED_ERRORS), set(control_methods()),
                         "DOCUMENTED_ERRORS and control.proto differ")
        missing = {}
        for method, errors in DOCUMENTED_ERRORS.items():
            want = {OK, UNAUTHENTICATED, PERMISSION_DENIED} | errors
            if not want <= OBSERVED[method]:
                missing[method] = sorted(c.name for c in want - OBSERVED[method])
        self.assertEqual(missing, {}, "codes never observed")
        if OPTS.verbose_coverage:
            for method in control_methods():
                codes = ", ".join(sorted(c.name for c in OBSERVED[method]))
                print(f"  {method:16} {codes}", file=sys.stderr)


def _flatten(suite):
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            yield from _flatten(t)
        else:
            yield t


# --------------------------------------------------------------------------- module


_TMP = None


def setUpModule():
    global CLUSTER, _TMP, OPTS
    if OPTS is None:  # imported by a runner (python -m unittest): defaults from the env
        OPTS, _ = parse_args([])
        OPTS.verbose_coverage = False
    for path in (OPTS.control_bin, OPTS.node_bin):
        if not os.access(path, os.X_OK):
            raise RuntimeError(f"{path} is not an executable (build first, or pass "
                               "--control-bin / --node-bin)")
    _TMP = tempfile.TemporaryDirectory(prefix="herald-pycontract-")
    (Path(_TMP.name) / "stubs").mkdir()
    generate_stubs(Path(_TMP.name) / "stubs")
    CLUSTER = Cluster(Path(_TMP.name) / "cluster")
    CLUSTER.root.mkdir()
    try:
        CLUSTER.start()
    except BaseException:
        CLUSTER.stop()
        raise


SANITIZER_REPORT = re.compile(r"ERROR: (Address|Leak|Thread|Memory)Sanitizer|runtime error:")


def tearDownModule():
    problems = []
    try:
        if CLUSTER:
            problems += [f"{p.name} exited during the test with {p.proc.returncode}"
                         for p in CLUSTER.crashed()]
            CLUSTER.stop()
            # A clean SIGTERM shutdown exits 0; a sanitizer build reports leaks and errors here.
            for p in (CLUSTER.node, CLUSTER.control):
                if p is None:
                    continue
                if p.proc.returncode != 0:
                    problems.append(f"{p.name} exited with {p.proc.returncode} after SIGTERM")
                if SANITIZER_REPORT.search(p.output()):
                    problems.append(f"{p.name} printed a sanitizer report")
                if problems or OPTS.keep_logs:
                    print(f"----- {p.name} output\n{p.output()[-20000:]}", file=sys.stderr)
    finally:
        if _TMP:
            _TMP.cleanup()
    if problems:
        raise RuntimeError("; ".join(problems))


def main():
    global OPTS
    OPTS, rest = parse_args(sys.argv[1:])
    OPTS.verbose_coverage = "-v" in rest or "--verbose" in rest
    started = time.monotonic()
    prog = unittest.main(module=__name__, argv=[sys.argv[0]] + rest, exit=False)
    print(f"contract_test.py: {time.monotonic() - started:.1f} s", file=sys.stderr)
    sys.exit(0 if prog.result.wasSuccessful() else 1)


if __name__ == "__main__":
    main()
