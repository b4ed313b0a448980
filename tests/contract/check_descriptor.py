#!/usr/bin/python3
"""Fails when proto/ breaks the wire contract recorded in descriptor_baseline.json.

Builds a FileDescriptorSet of every .proto under the proto directory with
`protoc --include_imports --descriptor_set_out`, reduces it to stable JSON (messages with
their fields by name: number, type, label, type_name, oneof; enums with their values;
services with their methods: input and output types, client and server streaming) and
compares that with the committed baseline.

  breaking (exit 1): a message, enum, enum value, service or RPC removed; a field removed or
      renamed; a field's number, type, type_name, label or oneof changed; an enum value's
      number changed; an RPC's request or response type or streaming changed.
  compatible (exit 0, printed as notes): anything added.
  exit 2: protoc failed, or the baseline is missing or unreadable.

To accept an intended change (an addition, or a break that was agreed on):

  /usr/bin/python3 tests/contract/check_descriptor.py --accept

rewrites the baseline; commit it together with the .proto change and say in the commit
message what changed and why. A removed field should leave its number and name `reserved`
in the .proto (see the header of control.proto).

Needs protoc (protobuf-compiler) and python3-protobuf; run with /usr/bin/python3.
"""

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from google.protobuf import descriptor_pb2

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
FORMAT = 1

FDP = descriptor_pb2.FieldDescriptorProto


def build_descriptor_set(proto_dir, protoc="protoc"):
    """FileDescriptorSet of every .proto under proto_dir (imports included)."""
    proto_dir = Path(proto_dir).resolve()
    protos = sorted(str(p) for p in proto_dir.rglob("*.proto"))
    if not protos:
        raise RuntimeError(f"no .proto files under {proto_dir}")
    exe = shutil.which(protoc)
    if not exe:
        raise RuntimeError(f"{protoc} not found (Debian: apt-get install protobuf-compiler)")
    with tempfile.TemporaryDirectory(prefix="herald-descriptor-") as tmp:
        out = Path(tmp) / "set.pb"
        cmd = [exe, f"-I{proto_dir}", "--include_imports", f"--descriptor_set_out={out}"] + protos
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"protoc failed:\n{done.stderr.strip()}")
        fds = descriptor_pb2.FileDescriptorSet()
        fds.ParseFromString(out.read_bytes())
        return fds


def _type_name(name):
    return name[1:] if name.startswith(".") else name


def reduce(fds):
    """The contract as plain, sorted data: what the baseline stores and the check compares."""
    messages, enums, services = {}, {}, {}

    def add_enum(full, enum):
        enums[full] = {"values": {v.name: v.number for v in enum.value}}

    def add_message(full, msg):
        oneofs = [o.name for o in msg.oneof_decl]
        fields = {}
        for f in msg.field:
            entry = {"number": f.number,
                     "type": FDP.Type.Name(f.type)[len("TYPE_"):].lower(),
                     "label": FDP.Label.Name(f.label)[len("LABEL_"):].lower()}
            if f.type_name:
                entry["type_name"] = _type_name(f.type_name)
            if f.proto3_optional:
                entry["proto3_optional"] = True  # its oneof is synthetic: not recorded
            elif f.HasField("oneof_index"):
                entry["oneof"] = oneofs[f.oneof_index]
            fields[f.name] = entry
        record = {"fields": fields}
        if msg.options.map_entry:
            record["map_entry"] = True
        reserved = sorted(n for r in msg.reserved_range for n in range(r.start, r.end))
        if reserved:
            record["reserved_numbers"] = reserved
        if msg.reserved_name:
            record["reserved_names"] = sorted(msg.reserved_name)
        messages[full] = record
        for nested in msg.nested_type:
            add_message(f"{full}.{nested.name}", nested)
        for nested in msg.enum_type:
            add_enum(f"{full}.{nested.name}", nested)

    for f in fds.file:
        prefix = f"{f.package}." if f.package else ""
        for msg in f.message_type:
            add_message(prefix + msg.name, msg)
        for enum in f.enum_type:
            add_enum(prefix + enum.name, enum)
        for svc in f.service:
            services[prefix + svc.name] = {"methods": {
                m.name: {"input_type": _type_name(m.input_type),
                         "output_type": _type_name(m.output_type),
                         "client_streaming": m.client_streaming,
                         "server_streaming": m.server_streaming}
                for m in svc.method}}
    return {"format": FORMAT, "messages": messages, "enums": enums, "services": services}


def to_json(contract):
    doc = {"_comment": ["Wire contract of proto/ as checked by tests/contract/check_descriptor.py.",
                        "Generated: do not edit by hand. After an intended change run",
                        "/usr/bin/python3 tests/contract/check_descriptor.py --accept",
                        "and commit this file with the .proto change."]}
    doc.update(contract)
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


def _describe_field(f):
    text = f"{f['label']} {f.get('type_name', f['type'])} = {f['number']}"
    return text + (f" (oneof {f['oneof']})" if "oneof" in f else "")


def compare(old, new):
    """(breaks, additions): lists of human-readable lines."""
    breaks, adds = [], []

    for name in sorted(old["messages"].keys() - new["messages"].keys()):
        breaks.append(f"message {name} removed")
    for name in sorted(new["messages"].keys() - old["messages"].keys()):
        adds.append(f"message {name} added")
    for name in sorted(old["messages"].keys() & new["messages"].keys()):
        of, nf = old["messages"][name]["fields"], new["messages"][name]["fields"]
        numbers_now = {f["number"]: fname for fname, f in nf.items()}
        for fname in sorted(of.keys() - nf.keys()):
            number = of[fname]["number"]
            reuse = numbers_now.get(number)
            why = (f"; its number {number} is now used by field '{reuse}'" if reuse
                   else "; if intended, reserve its number and name")
            breaks.append(f"field {name}.{fname} ({_describe_field(of[fname])}) removed{why}")
        for fname in sorted(nf.keys() - of.keys()):
            adds.append(f"field {name}.{fname} ({_describe_field(nf[fname])}) added")
        for fname in sorted(of.keys() & nf.keys()):
            a, b = of[fname], nf[fname]
            for key in sorted(a.keys() | b.keys()):
                if a.get(key) != b.get(key):
                    breaks.append(f"field {name}.{fname}: {key} changed from "
                                  f"{a.get(key, '(none)')} to {b.get(key, '(none)')}")

    for name in sorted(old["enums"].keys() - new["enums"].keys()):
        breaks.append(f"enum {name} removed")
    for name in sorted(new["enums"].keys() - old["enums"].keys()):
        adds.append(f"enum {name} added")
    for name in sorted(old["enums"].keys() & new["enums"].keys()):
        ov, nv = old["enums"][name]["values"], new["enums"][name]["values"]
        for v in sorted(ov.keys() - nv.keys()):
            breaks.append(f"enum value {name}.{v} (= {ov[v]}) removed")
        for v in sorted(nv.keys() - ov.keys()):
            adds.append(f"enum value {name}.{v} (= {nv[v]}) added")
        for v in sorted(ov.keys() & nv.keys()):
            if ov[v] != nv[v]:
                breaks.append(f"enum value {name}.{v}: number changed from {ov[v]} to {nv[v]}")

    for name in sorted(old["services"].keys() - new["services"].keys()):
        breaks.append(f"service {name} removed")
    for name in sorted(new["services"].keys() - old["services"].keys()):
        adds.append(f"service {name} added")
    for name in sorted(old["services"].keys() & new["services"].keys()):
        om, nm = old["services"][name]["methods"], new["services"][name]["methods"]
        for m in sorted(om.keys() - nm.keys()):
            breaks.append(f"rpc {name}.{m} removed")
        for m in sorted(nm.keys() - om.keys()):
            adds.append(f"rpc {name}.{m} added")
        for m in sorted(om.keys() & nm.keys()):
            for key in ("input_type", "output_type", "client_streaming", "server_streaming"):
                if om[m][key] != nm[m][key]:
                    breaks.append(f"rpc {name}.{m}: {key} changed from {om[m][key]} to "
                                  f"{nm[m][key]}")
    return breaks, adds


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Compare proto/ with the committed wire-contract baseline.",
        epilog="Accept an intended change with --accept and commit the baseline.")
    parser.add_argument("--proto-dir", default=str(REPO / "proto"))
    parser.add_argument("--baseline", default=str(HERE / "descriptor_baseline.json"))
    parser.add_argument("--protoc", default="protoc")
    parser.add_argument("--accept", action="store_true",
                        help="write the current contract to the baseline (after printing what "
                             "changed)")
    args = parser.parse_args(argv)

    try:
        current = reduce(build_descriptor_set(args.proto_dir, args.protoc))
    except (RuntimeError, subprocess.TimeoutExpired) as e:
        print(f"check_descriptor: {e}", file=sys.stderr)
        return 2
    baseline_path = Path(args.baseline)

    old = None
    if baseline_path.exists():
        try:
            old = json.loads(baseline_path.read_text())
            if old.get("format") != FORMAT:
                raise ValueError(f"format {old.get('format')}, expected {FORMAT}")
        except ValueError as e:  # json.JSONDecodeError is a ValueError
            if not args.accept:
                print(f"check_descriptor: {baseline_path} is unreadable: {e}", file=sys.stderr)
                return 2
            old = None
    elif not args.accept:
        print(f"check_descriptor: no baseline at {baseline_path}; create it with --accept",
              file=sys.stderr)
        return 2

    breaks, adds = compare(old, current) if old is not None else ([], [])

    if args.accept:
        for line in breaks:
            print(f"accepted BREAKING change: {line}")
        for line in adds:
            print(f"accepted addition: {line}")
        baseline_path.write_text(to_json(current))
        print(f"check_descriptor: wrote {baseline_path} ({len(current['messages'])} messages, "
              f"{len(current['enums'])} enums, {len(current['services'])} services); commit it "
              "with the .proto change and a note of what changed")
        return 0

    for line in adds:
        print(f"note: {line}")
    if breaks:
        print(f"check_descriptor: the wire contract is BROKEN against {baseline_path}:",
              file=sys.stderr)
        for line in breaks:
            print(f"  BREAKING: {line}", file=sys.stderr)
        print("Clients built from the baseline would misread or fail these. If the change is "
              "intended, accept it:\n  /usr/bin/python3 tests/contract/check_descriptor.py "
              "--accept\nand commit the baseline with a note of the change.", file=sys.stderr)
        return 1
    if adds:
        print("check_descriptor: compatible additions only; record them in the baseline with "
              "--accept (then commit it), so that removing them later is caught")
    else:
        print(f"check_descriptor: proto matches {baseline_path.name} "
              f"({len(current['messages'])} messages, {len(current['enums'])} enums, "
              f"{sum(len(s['methods']) for s in current['services'].values())} rpcs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
