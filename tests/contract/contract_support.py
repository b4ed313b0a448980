"""Shared parts of the wire-contract test (contract_test.py): the servers, the clients, the
generated stubs and the base test case. The rest of this docstring is the whole test's.

Wire-contract test of herald-control from a second, independent gRPC client (Python).

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

# Set by contract_test.py: main() and start_servers().
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
        self.http_address = None
        self.node_address = None
        self.node_id = None

    def start(self):
        config = {"auth": {"allow_anonymous": True,
                           "keys": [{"kid": "test", "algorithm": "HS256", "secret": JWT_SECRET}]}}
        (self.root / "control.json").write_text(json.dumps(config))
        self.control = Process("herald-control", [
            OPTS.control_bin, "--grpc-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0",
            "--data-dir", str(self.root / "state"), "--config", str(self.root / "control.json"),
            "--heartbeat-interval-ms", "200", "--node-timeout-ms", "1500",
            "--admin-key", ADMIN_KEY, "--node-secret", NODE_SECRET])
        m = self.control.wait_for(r"listening on ([0-9.]+:[0-9]+)", START_TIMEOUT)
        if not m:
            raise RuntimeError("herald-control did not start:\n" + self.control.output())
        self.control_address = m.group(1)
        m = self.control.wait_for(r"http on ([0-9.]+:[0-9]+)", START_TIMEOUT)
        if not m:
            raise RuntimeError("herald-control serves no HTTP port:\n" + self.control.output())
        self.http_address = m.group(1)
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


def make_jwt(sub, ttl=600, **extra):
    def b64(raw):
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "test"}).encode())
    claims = b64(json.dumps({"sub": sub, "exp": int(time.time()) + ttl, **extra}).encode())
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
