#!/usr/bin/python3
"""A backend for Herald's hooks over HTTP, with nothing but Python's standard library.

herald-node POSTs JSON to <url>/<hook>; this one answers every hook (docs/hooks.md):

    /usr/bin/python3 docs/examples/hook_backend.py --port 9000

and herald-control's config file names it (docs/examples/hooks-control.json):

    "hooks": {"endpoints": [{"name": "app", "url": "http://127.0.0.1:9000/herald"}],
              "rpc": "app", "connect": "app", "connect_headers": ["Cookie"],
              "refresh": "app"},
    "namespaces": [{"name": "orders", "subscribe_rule": "hook", "subscribe_hook": "app"},
                   {"name": "chat", "allow_client_publish": true, "publish_hook": "app"}]

- connect: a `session` cookie names the user (SESSIONS); no cookie: anonymous.
- subscribe: `orders:<id>` only for the order's owner, with the order as info.
- publish: `chat:*` refuses text with "spam" in it and stamps the rest.
- rpc: `whoami`, and `orders.get` with an owner check.
- refresh: another hour for every connection.
- events: herald-control's events (user.online, client.disconnected, subscription.added,
  ...) printed one per line; a receiver de-duplicates by id, since a batch may come twice.
"""
import argparse
import hashlib
import hmac
import json
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SECRET = b""  # --secret: the endpoint's `secret` in herald-control's config
MAX_SKEW_S = 300

ORDERS = {7: {"id": 7, "owner": "alice", "total": 12}}
SESSIONS = {"alice-session": "alice", "bob-session": "bob"}  # cookie value -> user


def cookie(headers, name):
    for part in headers.get("cookie", "").split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None


def connect(request):
    """Who a connection without a token is: {"user": ...}, {} (anonymous) or an error."""
    session = cookie(request["headers"], "session")
    if session is None:
        return {}
    user = SESSIONS.get(session)
    if user is None:
        return {"error": {"code": "bad_session", "message": "sign in again"}}
    return {"user": user, "expire_at": int(time.time()) + 3600, "info": {"name": user.title()}}


def subscribe(request):
    """orders:<id> for the order's owner only; the answer may be reused for 30 s."""
    _, _, rest = request["channel"].partition(":")
    order = ORDERS.get(int(rest)) if rest.isdigit() else None
    if order is None or order["owner"] != request["caller"]["user"]:
        return {"error": {"code": "not_yours", "message": "that order is not yours"}}
    return {"info": order, "ttl_seconds": 30}


def publish(request):
    """Chat text without spam, stamped with who sent it; the rest refused."""
    data = request["data"]
    text = data.get("text") if isinstance(data, dict) else None
    if not isinstance(text, str) or "spam" in text.lower():
        return {"error": {"code": "refused", "message": "say something else"}}
    return {"data": {"text": text, "from": request["caller"]["user"] or "guest"}}


def refresh(request):
    return {"expire_at": int(time.time()) + 3600}


SEEN_EVENTS = set()


def events(batch):
    """Events from herald-control, at least once and in order: skip ids seen before."""
    for event in batch["events"]:
        if event["id"] in SEEN_EVENTS:
            continue
        SEEN_EVENTS.add(event["id"])
        if event["type"].startswith(("client.", "subscription.")):
            # One connection's: its id, its user ("" anonymous), the channel, the close code.
            print("event", event["type"], event["client"], event.get("user", ""),
                  event.get("channel", event.get("code", "")), flush=True)
        else:
            print("event", event["type"], event.get("user") or event.get("channel"), flush=True)
    return {}


def rpc(request):
    """One client rpc: returns the reply object ({"data": ...} or {"error": {...}})."""
    user = request["caller"]["user"]
    method = request["method"]
    data = request["data"]
    if method == "whoami":
        return {"data": {"user": user, "client": request["caller"]["client"]}}
    if method == "orders.get":
        order = ORDERS.get(data.get("id") if isinstance(data, dict) else None)
        if order is None:
            return {"error": {"code": "not_found", "message": "no such order"}}
        if order["owner"] != user:
            return {"error": {"code": "not_yours", "message": "that order is not yours"}}
        return {"data": order}
    return {"error": {"code": "unknown_method", "message": "no method " + method}}


def signed_by_herald(header, body):
    """X-Herald-Signature: t=<unix>,sha256=<hex of HMAC(secret, "<unix>." + body)>."""
    fields = dict(part.split("=", 1) for part in (header or "").split(",") if "=" in part)
    try:
        stamp = int(fields.get("t", ""))
    except ValueError:
        return False
    if abs(time.time() - stamp) > MAX_SKEW_S:
        return False  # too old (a replay) or from a clock far off
    expected = hmac.new(SECRET, b"%d." % stamp + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, fields.get("sha256", ""))


HOOKS = {"/herald/rpc": rpc, "/herald/connect": connect, "/herald/subscribe": subscribe,
         "/herald/publish": publish, "/herald/refresh": refresh, "/herald/events": events}


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        hook = HOOKS.get(self.path)
        if hook is None:
            self.send_error(404)
            return
        length = int(self.headers.get("Content-Length", "0"))
        if length > 1 << 20:
            self.send_error(413)
            return
        body = self.rfile.read(length)
        if SECRET and not signed_by_herald(self.headers.get("X-Herald-Signature"), body):
            self.send_error(401)
            return
        reply = json.dumps(hook(json.loads(body))).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args):
        pass  # quiet: one line per call is too much for a busy backend


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000, help="0 picks a free port")
    parser.add_argument("--secret", default="", help="refuse calls not signed with it")
    args = parser.parse_args()
    global SECRET
    SECRET = args.secret.encode()
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    print("hook backend listening on %s:%d" % server.server_address[:2], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
