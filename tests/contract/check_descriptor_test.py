#!/usr/bin/python3
"""Self-test of check_descriptor.py: proves the wire-contract check can fail.

Each test copies proto/ into a temporary directory, records a baseline of the copy with
--accept, edits the copy (a field renumbered, an RPC removed, a type changed, a field added,
...) and runs the real command line against that baseline, checking its exit code and the
lines it prints. The committed baseline is not touched.

  /usr/bin/python3 tests/contract/check_descriptor_test.py [-v] [--proto-dir DIR]
"""

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
CHECKER = HERE / "check_descriptor.py"
PROTO_DIR = HERE.parents[1] / "proto"


class CheckDescriptorTest(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="herald-descriptor-test-")
        self.tmp = Path(self._tmp.name)
        self.proto = self.tmp / "proto"
        shutil.copytree(PROTO_DIR, self.proto)
        self.baseline = self.tmp / "baseline.json"
        code, out, err = self.check("--accept")
        self.assertEqual(code, 0, err)
        self.assertTrue(self.baseline.exists())

    def tearDown(self):
        self._tmp.cleanup()

    def check(self, *extra):
        done = subprocess.run(
            [sys.executable, str(CHECKER), "--proto-dir", str(self.proto),
             "--baseline", str(self.baseline), *extra],
            capture_output=True, text=True, timeout=120)
        return done.returncode, done.stdout, done.stderr

    def edit(self, name, old, new, count=1):
        """Replaces `old` (which must occur exactly `count` times) in herald/v1/<name>."""
        path = self.proto / "herald" / "v1" / name
        text = path.read_text()
        self.assertEqual(text.count(old), count, f"mutation target not found in {name}: {old!r}")
        path.write_text(text.replace(old, new))

    def assertBreaks(self, *expected):
        code, out, err = self.check()
        self.assertEqual(code, 1, f"the check passed a breaking change:\n{out}{err}")
        self.assertIn("BROKEN", err)
        self.assertIn("check_descriptor.py --accept", err, "says how to accept")
        for line in expected:
            self.assertIn(line, err)
        return err

    def assertPasses(self):
        code, out, err = self.check()
        self.assertEqual(code, 0, f"{out}{err}")
        self.assertNotIn("BREAKING", out + err)
        return out

    # ------------------------------------------------------------------ no change

    def test_unchanged_proto_passes_without_notes(self):
        out = self.assertPasses()
        self.assertNotIn("note:", out)
        self.assertIn("proto matches", out)

    def test_baseline_is_stable_and_readable(self):
        first = self.baseline.read_text()
        self.assertEqual(self.check("--accept")[0], 0)
        self.assertEqual(self.baseline.read_text(), first, "--accept is not deterministic")
        doc = json.loads(first)
        field = doc["messages"]["herald.v1.PublishRequest"]["fields"]["data"]
        self.assertEqual(field, {"number": 2, "type": "string", "label": "optional"})
        hello = doc["messages"]["herald.v1.NodeMessage"]["fields"]["hello"]
        self.assertEqual(hello["oneof"], "kind")
        self.assertEqual(hello["type_name"], "herald.v1.Hello")
        self.assertEqual(doc["enums"]["herald.v1.NodeHealth"]["values"]["NODE_HEALTH_DRAINING"], 3)
        stream = doc["services"]["herald.v1.Control"]["methods"]["PublishStream"]
        self.assertEqual(stream, {"input_type": "herald.v1.PublishRequest",
                                  "output_type": "herald.v1.PublishStreamResponse",
                                  "client_streaming": True, "server_streaming": False})
        session = doc["services"]["herald.v1.NodeLink"]["methods"]["Session"]
        self.assertTrue(session["client_streaming"] and session["server_streaming"])

    # ------------------------------------------------------------------ breaking changes

    def test_field_number_changed(self):
        self.edit("control.proto", "string data = 2;              // JSON text; must parse",
                  "string data = 9;")
        self.assertBreaks("field herald.v1.PublishRequest.data: number changed from 2 to 9")

    def test_field_numbers_swapped(self):
        self.edit("control.proto", "  uint64 offset = 1;\n  string epoch = 2;\n  uint32 nodes = 3;",
                  "  uint64 offset = 2;\n  string epoch = 1;\n  uint32 nodes = 3;")
        self.assertBreaks("field herald.v1.PublishResponse.offset: number changed from 1 to 2",
                          "field herald.v1.PublishResponse.epoch: number changed from 2 to 1")

    def test_field_type_changed(self):
        self.edit("control.proto", "  uint64 offset = 1;\n  string epoch = 2;\n  uint32 nodes = 3;",
                  "  int64 offset = 1;\n  string epoch = 2;\n  uint32 nodes = 3;")
        self.assertBreaks("field herald.v1.PublishResponse.offset: type changed from uint64 to "
                          "int64")

    def test_field_message_type_changed(self):
        self.edit("node_link.proto", "  Limits limits = 4;", "  Namespace limits = 4;")
        self.assertBreaks("field herald.v1.ConfigSnapshot.limits: type_name changed from "
                          "herald.v1.Limits to herald.v1.Namespace")

    def test_field_label_changed(self):
        self.edit("control.proto", "  repeated string channels = 3;\n  map<string, string> tags = 4;  // optional, as in PublishRequest\n}\nmessage BroadcastResponse",
                  "  string channels = 3;\n  map<string, string> tags = 4;  // optional, as in PublishRequest\n}\nmessage BroadcastResponse")
        self.assertBreaks("field herald.v1.BroadcastRequest.channels: label changed from "
                          "repeated to optional")

    def test_field_moved_out_of_oneof(self):
        self.edit("node_link.proto", "    JoinLeaveReport join_leave = 9;\n  }\n}",
                  "  }\n  JoinLeaveReport join_leave = 9;\n}")
        self.assertBreaks("field herald.v1.NodeMessage.join_leave: oneof changed from kind to "
                          "(none)")

    def test_field_removed(self):
        self.edit("node_link.proto", "  string secret = 7;                      "
                  "// node secret, when configured\n", "")
        self.assertBreaks("field herald.v1.Hello.secret (optional string = 7) removed")

    def test_field_renamed(self):
        self.edit("control.proto", "  string idempotency_key = 4;", "  string dedup_key = 4;")
        self.assertBreaks("field herald.v1.PublishRequest.idempotency_key (optional string = 4) "
                          "removed; its number 4 is now used by field 'dedup_key'")

    def test_removed_field_stays_a_break_when_reserved(self):
        self.edit("control.proto", "  uint32 capacity = 15;\n", "  reserved 15;\n  reserved "
                  "\"capacity\";\n")
        self.assertBreaks("field herald.v1.NodeInfo.capacity (optional uint32 = 15) removed")
        self.assertEqual(self.check("--accept")[0], 0)
        doc = json.loads(self.baseline.read_text())
        self.assertEqual(doc["messages"]["herald.v1.NodeInfo"]["reserved_numbers"], [15])
        self.assertEqual(doc["messages"]["herald.v1.NodeInfo"]["reserved_names"], ["capacity"])
        self.assertPasses()

    def test_rpc_removed(self):
        self.edit("control.proto",
                  "  rpc Info(InfoRequest) returns (InfoResponse);\n", "")
        self.assertBreaks("rpc herald.v1.Control.Info removed")

    def test_rpc_types_changed(self):
        self.edit("control.proto",
                  "rpc History(HistoryRequest) returns (HistoryResponse);",
                  "rpc History(PresenceRequest) returns (PresenceResponse);")
        self.assertBreaks(
            "rpc herald.v1.Control.History: input_type changed from herald.v1.HistoryRequest to "
            "herald.v1.PresenceRequest",
            "rpc herald.v1.Control.History: output_type changed from herald.v1.HistoryResponse to "
            "herald.v1.PresenceResponse")

    def test_rpc_streaming_changed(self):
        self.edit("control.proto",
                  "rpc PublishStream(stream PublishRequest) returns (PublishStreamResponse);",
                  "rpc PublishStream(PublishRequest) returns (stream PublishStreamResponse);")
        self.assertBreaks(
            "rpc herald.v1.Control.PublishStream: client_streaming changed from True to False",
            "rpc herald.v1.Control.PublishStream: server_streaming changed from False to True")

    def test_service_removed(self):
        self.edit("node_link.proto",
                  "service NodeLink {\n  rpc Session(stream NodeMessage) returns "
                  "(stream ControlMessage);\n}\n", "")
        self.assertBreaks("service herald.v1.NodeLink removed")

    def test_message_renamed(self):
        self.edit("node_link.proto", "message ChannelCount {", "message ChannelTally {")
        self.edit("node_link.proto", "repeated ChannelCount counts = 3;",
                  "repeated ChannelTally counts = 3;")
        self.assertBreaks("message herald.v1.ChannelCount removed",
                          "field herald.v1.PresenceReply.counts: type_name changed from "
                          "herald.v1.ChannelCount to herald.v1.ChannelTally")

    def test_enum_value_removed_and_renumbered(self):
        self.edit("control.proto", "  NODE_HEALTH_DRAINING = 3;\n", "")
        self.edit("control.proto", "SUBSCRIBE_RULE_GRANTED = 4;", "SUBSCRIBE_RULE_GRANTED = 6;")
        self.assertBreaks("enum value herald.v1.NodeHealth.NODE_HEALTH_DRAINING (= 3) removed",
                          "enum value herald.v1.SubscribeRule.SUBSCRIBE_RULE_GRANTED: number "
                          "changed from 4 to 6")

    def test_package_renamed_breaks_everything(self):
        self.edit("control.proto", "package herald.v1;", "package herald.v2;")
        self.edit("node_link.proto", "package herald.v1;", "package herald.v2;")
        self.edit("hooks.proto", "package herald.v1;", "package herald.v2;")
        err = self.assertBreaks("message herald.v1.PublishRequest removed",
                                "service herald.v1.Control removed")
        self.assertIn("service herald.v1.NodeLink removed", err)

    # ------------------------------------------------------------------ compatible changes

    def test_field_added_is_a_note(self):
        self.edit("control.proto", "  string idempotency_key = 4;",
                  "  string idempotency_key = 4;\n  string trace_id = 6;")
        out = self.assertPasses()
        self.assertIn("note: field herald.v1.PublishRequest.trace_id (optional string = 6) added",
                      out)
        self.assertIn("--accept", out, "suggests accepting")

    def test_rpc_message_enum_value_added_are_notes(self):
        self.edit("control.proto", "  rpc Info(InfoRequest) returns (InfoResponse);",
                  "  rpc Info(InfoRequest) returns (InfoResponse);\n"
                  "  rpc Ping(PingRequest) returns (InfoResponse);")
        self.edit("control.proto", "message InfoRequest {}",
                  "message InfoRequest {}\nmessage PingRequest { repeated string tags = 1; }")
        self.edit("control.proto", "  NODE_HEALTH_DRAINING = 3;",
                  "  NODE_HEALTH_DRAINING = 3;\n  NODE_HEALTH_STARTING = 4;")
        out = self.assertPasses()
        for line in ("note: rpc herald.v1.Control.Ping added",
                     "note: message herald.v1.PingRequest added",
                     "note: enum value herald.v1.NodeHealth.NODE_HEALTH_STARTING (= 4) added"):
            self.assertIn(line, out)

    def test_accept_records_the_change(self):
        self.edit("control.proto", "  uint64 offset = 1;\n  string epoch = 2;\n  uint32 nodes = 3;",
                  "  int64 offset = 1;\n  string epoch = 2;\n  uint32 nodes = 3;")
        self.edit("control.proto", "  string idempotency_key = 4;",
                  "  string idempotency_key = 4;\n  string trace_id = 6;")
        self.assertBreaks()
        code, out, err = self.check("--accept")
        self.assertEqual(code, 0, err)
        self.assertIn("accepted BREAKING change: field herald.v1.PublishResponse.offset: type "
                      "changed from uint64 to int64", out)
        self.assertIn("accepted addition: field herald.v1.PublishRequest.trace_id", out)
        out = self.assertPasses()
        self.assertNotIn("note:", out)
        doc = json.loads(self.baseline.read_text())
        self.assertEqual(doc["messages"]["herald.v1.PublishResponse"]["fields"]["offset"]["type"],
                         "int64")
        self.assertIn("trace_id", doc["messages"]["herald.v1.PublishRequest"]["fields"])

    # ------------------------------------------------------------------ errors

    def test_unparseable_proto_is_an_error_not_a_pass(self):
        self.edit("control.proto", "message InfoRequest {}", "message InfoRequest {")
        code, out, err = self.check()
        self.assertEqual(code, 2, out + err)
        self.assertIn("protoc failed", err)

    def test_missing_or_corrupt_baseline_is_an_error(self):
        self.baseline.write_text("{not json")
        self.assertEqual(self.check()[0], 2)
        self.baseline.unlink()
        code, _, err = self.check()
        self.assertEqual(code, 2)
        self.assertIn("--accept", err)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--proto-dir")
    opts, rest = parser.parse_known_args()
    if opts.proto_dir:
        PROTO_DIR = Path(opts.proto_dir).resolve()
    unittest.main(argv=[sys.argv[0]] + rest)
