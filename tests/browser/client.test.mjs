// web/herald.js against a scripted WebSocket, for the cases a real node makes hard to stage:
// exact frames after a reconnect, gaps, duplicate offsets, refused tokens, a silent path.
import { test } from "node:test";
import assert from "node:assert/strict";

import { HeraldClient, reconnectDelay, tokenExpiry } from "../../web/herald.js";
import { waitFor } from "./support/cluster.mjs";

class FakeSocket {
  static all = [];
  constructor(url) {
    this.url = url;
    this.readyState = 1;
    this.sent = [];
    this.closedWith = null;
    FakeSocket.all.push(this);
  }
  send(text) {
    this.sent.push(JSON.parse(text));
  }
  close(code, reason) {
    this.closedWith = { code, reason };
    this.readyState = 3;
  }
  // What the node would do:
  deliver(frame) {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }
  drop(code, reason = "") {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
  static last() {
    return FakeSocket.all[FakeSocket.all.length - 1];
  }
}

const connected = { type: "connected", client: "n-0-1", node: "n", user: "", ping_interval: 30, subscribed: [] };
const msg = (channel, offset, epoch = "e1") => ({ type: "message", channel, offset, epoch, data: { offset }, ts: Date.now() });

function newClient(options = {}) {
  FakeSocket.all = [];
  return new HeraldClient("ws://node.test/ws", { WebSocket: FakeSocket, minReconnectDelayMs: 1, maxReconnectDelayMs: 4, ...options });
}

test("reconnect delays double up to the maximum, jittered within [d/2, d]", () => {
  assert.equal(reconnectDelay(0, 100, 10000, () => 0), 50);
  assert.equal(reconnectDelay(0, 100, 10000, () => 1), 100);
  assert.equal(reconnectDelay(3, 100, 10000, () => 1), 800);
  assert.equal(reconnectDelay(20, 100, 10000, () => 1), 10000);
  assert.equal(reconnectDelay(20, 100, 10000, () => 0), 5000);
});

test("tokenExpiry reads exp from a JWT and 0 from anything else", () => {
  const body = Buffer.from(JSON.stringify({ sub: "a", exp: 1700000000 })).toString("base64url");
  assert.equal(tokenExpiry(`x.${body}.y`), 1700000000);
  assert.equal(tokenExpiry("not a token"), 0);
});

test("subscribes in one frame, then resubscribes with since after a reconnect", async () => {
  const client = newClient();
  const got = [];
  client.subscribe("a:1", (m) => got.push(["a:1", m.offset]));
  client.subscribe("b:2", (m) => got.push(["b:2", m.offset]));
  client.connect();
  await waitFor("socket", () => FakeSocket.all.length === 1);
  const first = FakeSocket.last();
  first.deliver(connected);
  assert.deepEqual(first.sent.map((f) => [f.type, f.channels]), [["subscribe", ["a:1", "b:2"]]]);
  assert.equal(first.sent[0].since, undefined);
  first.deliver({ type: "reply", id: first.sent[0].id, ok: true, channels: ["a:1", "b:2"] });
  first.deliver(msg("a:1", 7));
  first.deliver(msg("a:1", 8));

  first.drop(1006);
  await waitFor("reconnect", () => FakeSocket.all.length === 2);
  const second = FakeSocket.last();
  second.deliver({ ...connected, client: "n-0-2" });
  const sub = second.sent.find((f) => f.type === "subscribe");
  assert.deepEqual(sub.channels, ["a:1", "b:2"]);
  assert.deepEqual(sub.since, { "a:1": { offset: 8, epoch: "e1" } }, "only streams with a position");
  // History then live, with one repeat the client must drop.
  second.deliver(msg("a:1", 9));
  second.deliver({ type: "recovery", channel: "a:1", recovered: true, offset: 9, epoch: "e1", missed: 1 });
  second.deliver(msg("a:1", 9));
  second.deliver(msg("a:1", 10));
  assert.deepEqual(got, [["a:1", 7], ["a:1", 8], ["a:1", 9], ["a:1", 10]]);
  assert.equal(client.reconnects, 1);
  client.close();
});

test("reports a gap when recovery fails and when live offsets jump", async () => {
  const client = newClient();
  const gaps = [];
  client.on("gap", (g) => gaps.push(g));
  client.subscribe("a:1", () => {}, { since: { offset: 4, epoch: "e1" } });
  client.connect();
  await waitFor("socket", () => FakeSocket.all.length === 1);
  const ws = FakeSocket.last();
  ws.deliver(connected);
  assert.deepEqual(ws.sent[0].since, { "a:1": { offset: 4, epoch: "e1" } });
  ws.deliver({ type: "recovery", channel: "a:1", recovered: false, offset: 20, epoch: "e1", missed: 0 });
  assert.deepEqual(gaps[0], { channel: "a:1", fromOffset: 5, toOffset: 20, epoch: "e1", reason: "not_in_history" });
  assert.deepEqual(client.position("a:1"), { offset: 20, epoch: "e1" });
  ws.deliver(msg("a:1", 21));
  ws.deliver(msg("a:1", 25)); // e.g. dropped for a slow reader
  assert.deepEqual(gaps[1], { channel: "a:1", fromOffset: 22, toOffset: 24, epoch: "e1", reason: "skipped" });
  client.close();
});

test("a refused token without getToken stops for good; with getToken it fetches a new one", async () => {
  const client = newClient({ token: "bad" });
  const errors = [];
  client.on("error", (e) => errors.push(e));
  client.connect();
  await waitFor("socket", () => FakeSocket.all.length === 1);
  assert.match(FakeSocket.last().url, /\?token=bad$/);
  FakeSocket.last().drop(4001, "invalid token");
  assert.equal(client.state, "closed");
  assert.equal(errors[0].fatal, true);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(FakeSocket.all.length, 1, "no reconnect");

  let calls = 0;
  const refreshing = newClient({ getToken: async () => `t${++calls}` });
  refreshing.connect();
  await waitFor("socket", () => FakeSocket.all.length === 1);
  assert.match(FakeSocket.last().url, /token=t1$/);
  FakeSocket.last().drop(4002, "token expired");
  await waitFor("reconnect", () => FakeSocket.all.length === 2);
  assert.match(FakeSocket.last().url, /token=t2$/);
  refreshing.close();
});

test("a ping without answer abandons the socket and reconnects", async () => {
  const client = newClient({ pingIntervalMs: 5, pongTimeoutMs: 10 });
  const closes = [];
  client.on("disconnected", (e) => closes.push(e));
  client.connect();
  await waitFor("socket", () => FakeSocket.all.length === 1);
  const silent = FakeSocket.last();
  silent.deliver(connected);
  await waitFor("a second socket", () => FakeSocket.all.length === 2);
  assert.equal(silent.sent.filter((f) => f.type === "ping").length, 1);
  assert.deepEqual(silent.closedWith, { code: 4000, reason: "ping timeout" });
  assert.equal(closes[0].code, 4000);
  assert.equal(closes[0].willReconnect, true);
  client.close();
});

test("a refused subscribe reaches onError and the channel is dropped", async () => {
  const client = newClient();
  const errors = [];
  client.connect();
  await waitFor("socket", () => FakeSocket.all.length === 1);
  const ws = FakeSocket.last();
  ws.deliver(connected);
  client.subscribe("members:x", () => {}, { onError: (e) => errors.push(e) });
  await waitFor("subscribe frame", () => ws.sent.length === 1);
  ws.deliver({ type: "error", id: ws.sent[0].id, code: "permission_denied", message: "no" });
  assert.deepEqual(errors, [{ code: "permission_denied", message: "no", channel: "members:x" }]);
  assert.equal(client.position("members:x"), null);
  ws.deliver(msg("members:x", 1)); // not subscribed: ignored, no throw
  client.close();
  assert.equal(client.state, "closed");
});
