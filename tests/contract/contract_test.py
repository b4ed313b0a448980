#!/usr/bin/python3
"""Wire-contract test of herald-control from a second, independent gRPC client (Python).

See contract_support.py for how it runs (stubs generated from proto/ at test time, the
servers, the options). The cases are in contract_*_cases.py, by API area; this file runs
them all and checks at the end that every RPC was seen with every documented code:

  /usr/bin/python3 tests/contract/contract_test.py \
      --control-bin build/controlplane/herald-control --node-bin build/dataplane/herald-node \
      --proto-dir proto
"""

import os
import re
import sys
import tempfile
import time
import unittest
from pathlib import Path

import grpc

import contract_support as S
from contract_support import *  # noqa: F401,F403
from contract_admin_cases import *  # noqa: F401,F403 (the test classes, found by unittest)
from contract_delivery_cases import *  # noqa: F401,F403
from contract_http_cases import *  # noqa: F401,F403
from contract_reading_cases import *  # noqa: F401,F403


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
    "Subscribe": {INVALID_ARGUMENT},
    "Unsubscribe": {INVALID_ARGUMENT},
    "Refresh": {INVALID_ARGUMENT},
    "RevokeToken": {INVALID_ARGUMENT},
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
        if S.OPTS.verbose_coverage:
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


def start_servers():
    """Generates the stubs and starts the cluster every case module uses (S.CLUSTER)."""
    global _TMP
    for path in (S.OPTS.control_bin, S.OPTS.node_bin):
        if not os.access(path, os.X_OK):
            raise RuntimeError(f"{path} is not an executable (build first, or pass "
                               "--control-bin / --node-bin)")
    _TMP = tempfile.TemporaryDirectory(prefix="herald-pycontract-")
    (Path(_TMP.name) / "stubs").mkdir()
    generate_stubs(Path(_TMP.name) / "stubs")
    S.CLUSTER = Cluster(Path(_TMP.name) / "cluster")
    S.CLUSTER.root.mkdir()
    try:
        S.CLUSTER.start()
    except BaseException:
        S.CLUSTER.stop()
        raise


SANITIZER_REPORT = re.compile(r"ERROR: (Address|Leak|Thread|Memory)Sanitizer|runtime error:")


def stop_servers():
    """Stops the cluster; returns what went wrong with the servers (crashes, sanitizer reports)."""
    problems = []
    try:
        if S.CLUSTER:
            problems += [f"{p.name} exited during the test with {p.proc.returncode}"
                         for p in S.CLUSTER.crashed()]
            S.CLUSTER.stop()
            # A clean SIGTERM shutdown exits 0; a sanitizer build reports leaks and errors here.
            for p in (S.CLUSTER.node, S.CLUSTER.control):
                if p is None:
                    continue
                if p.proc.returncode != 0:
                    problems.append(f"{p.name} exited with {p.proc.returncode} after SIGTERM")
                if SANITIZER_REPORT.search(p.output()):
                    problems.append(f"{p.name} printed a sanitizer report")
                if problems or S.OPTS.keep_logs:
                    print(f"----- {p.name} output\n{p.output()[-20000:]}", file=sys.stderr)
    finally:
        if _TMP:
            _TMP.cleanup()
    return problems


def main():
    S.OPTS, rest = parse_args(sys.argv[1:])
    S.OPTS.verbose_coverage = "-v" in rest or "--verbose" in rest
    started = time.monotonic()
    # Started here, not in a setUpModule: the cases live in other modules.
    try:
        start_servers()
    except Exception as e:  # noqa: BLE001 (reported, then a failed run)
        print(f"contract_test.py: could not start the servers: {e}", file=sys.stderr)
        if _TMP:
            _TMP.cleanup()
        sys.exit(1)
    try:
        prog = unittest.main(module=__name__, argv=[sys.argv[0]] + rest, exit=False)
    finally:
        problems = stop_servers()
    for problem in problems:
        print(f"contract_test.py: {problem}", file=sys.stderr)
    print(f"contract_test.py: {time.monotonic() - started:.1f} s", file=sys.stderr)
    sys.exit(0 if prog.result.wasSuccessful() and not problems else 1)


if __name__ == "__main__":
    main()
