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
    queueMicrotask(() => this.onopen?.({})); // it opens, as a real one does
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

test("the subscribe hook's info and refusals reach the subscription's handlers", async () => {
  const client = newClient();
  client.connect();
  await waitFor("socket", () => FakeSocket.all.length === 1);
  const ws = FakeSocket.last();
  ws.deliver(connected);
  const confirmed = [];
  const errors = [];
  client.subscribe("doc:1", () => {}, { onSubscribed: (e) => confirmed.push(e) });
  await waitFor("subscribe frame", () => ws.sent.length === 1);
  ws.deliver({ type: "reply", id: ws.sent[0].id, ok: true, channels: ["doc:1"], info: { "doc:1": { role: "editor" } } });
  assert.deepEqual(confirmed, [{ channel: "doc:1", info: { role: "editor" } }]);

  client.subscribe("doc:2", () => {}, { onError: (e) => errors.push(e) });
  await waitFor("second subscribe frame", () => ws.sent.length === 2);
  ws.deliver({
    type: "error", id: ws.sent[1].id, code: "permission_denied", message: "channel 'doc:2': not a member",
    channel: "doc:2", backend: { code: "not_member", message: "not a member" },
  });
  assert.deepEqual(errors, [{
    code: "permission_denied", message: "channel 'doc:2': not a member", channel: "doc:2",
    backend: { code: "not_member", message: "not a member" }, refusedChannel: "doc:2",
  }]);
  client.close();
});

// A client past its `connected` frame, on a fresh FakeSocket.
test("a filtered subscription sends its filter per frame and takes prev as filtered, not lost", async () => {
  const client = newClient();
  const gaps = [];
  const got = [];
  client.on("gap", (g) => gaps.push(g));
  const filter = { key: "chain", in: ["eth", "sol"] };
  client.subscribe("tx:1", (m) => got.push(m.offset), { filter });
  client.subscribe("tx:2", () => {}, { filter });
  client.subscribe("plain", () => {});
  client.connect();
  await waitFor("socket", () => FakeSocket.all.length === 1);
  const ws = FakeSocket.last();
  ws.deliver(connected);
  const frames = ws.sent.filter((f) => f.type === "subscribe");
  assert.deepEqual(frames.map((f) => [f.channels, f.filter]), [[["tx:1", "tx:2"], filter], [["plain"], undefined]]);
  ws.deliver({ type: "reply", id: frames[0].id, ok: true, channels: ["tx:1", "tx:2"] });
  ws.deliver({ ...msg("tx:1", 3), prev: 0 });
  ws.deliver({ ...msg("tx:1", 7), prev: 3 }); // 4..6 filtered out
  assert.deepEqual(gaps, []);
  ws.deliver({ ...msg("tx:1", 12), prev: 9 }); // 9 matched and never came: lost
  assert.deepEqual(gaps, [{ channel: "tx:1", fromOffset: 8, toOffset: 11, epoch: "e1", reason: "skipped" }]);
  assert.deepEqual(got, [3, 7, 12]);
  assert.throws(() => client.subscribe("tx:1", () => {}, { filter: { key: "chain", eq: "btc" } }), TypeError);
  client.subscribe("tx:1", () => {}); // no filter given: another handler, the same subscription
  client.subscribe("tx:1", () => {}, { filter: { in: ["eth", "sol"], key: "chain" } }); // same, reordered
  filter.in.push("btc"); // the app's object changing later does not change the subscription
  assert.deepEqual(client._subs.get("tx:1").filter, { key: "chain", in: ["eth", "sol"] });
  client.close();
});

test("a conflated subscription sends conflate_ms and takes conflated frames as no gap", async () => {
  const client = newClient();
  const gaps = [];
  client.on("gap", (g) => gaps.push(g));
  client.subscribe("px:btc", () => {}, { conflateMs: 250 });
  client.connect();
  await waitFor("socket", () => FakeSocket.all.length === 1);
  const ws = FakeSocket.last();
  ws.deliver(connected);
  const frame = ws.sent.find((f) => f.type === "subscribe");
  assert.equal(frame.conflate_ms, 250);
  ws.deliver({ type: "reply", id: frame.id, ok: true, channels: ["px:btc"] });
  ws.deliver({ ...msg("px:btc", 1), prev: 0, conflated: 0 });
  ws.deliver({ ...msg("px:btc", 40), prev: 1, conflated: 38 });
  assert.deepEqual(gaps, []);
  client.close();
});

async function connectedClient(options = {}) {
  const client = newClient(options);
  client.connect();
  await waitFor("socket", () => FakeSocket.all.length === 1);
  const ws = FakeSocket.last();
  ws.deliver(connected);
  return { client, ws };
}
const lastPublish = (ws) => ws.sent.filter((f) => f.type === "publish").at(-1);

test("publish sends tags", async () => {
  const { client, ws } = await connectedClient();
  const done = client.publish("tx:1", { a: 1 }, { tags: { chain: "eth" }, idempotencyKey: "k" }).catch((e) => e.code);
  assert.deepEqual(lastPublish(ws).tags, { chain: "eth" });
  client.close();
  assert.equal(await done, "disconnected");
});

test("publish sends the frame and resolves with the reply of its id", async () => {
  const { client, ws } = await connectedClient();
  const first = client.publish("chat:lobby", { text: "hi" }, { event: "said", idempotencyKey: "k-1" });
  const second = client.publish("chat:lobby", [1, 2]);
  const [f1, f2] = ws.sent.filter((f) => f.type === "publish");
  assert.deepEqual(f1, { type: "publish", id: f1.id, channel: "chat:lobby", data: { text: "hi" }, event: "said", idempotency_key: "k-1" });
  assert.equal(f2.event, undefined);
  assert.deepEqual(f2.data, [1, 2]);
  assert.notEqual(f1.id, f2.id);
  // Answers out of order: each promise gets the reply with its own id.
  ws.deliver({ type: "reply", id: f2.id, ok: true, offset: 13, epoch: "ab12" });
  ws.deliver({ type: "reply", id: f1.id, ok: true, offset: 12, epoch: "ab12" });
  assert.deepEqual(await first, { offset: 12, epoch: "ab12", duplicate: false });
  assert.deepEqual(await second, { offset: 13, epoch: "ab12", duplicate: false });
  client.close();
});

test("publish passes the duplicate flag through", async () => {
  const { client, ws } = await connectedClient();
  const p = client.publish("chat:lobby", "again", { idempotencyKey: "same" });
  ws.deliver({ type: "reply", id: lastPublish(ws).id, ok: true, offset: 5, epoch: "e1", duplicate: true });
  assert.deepEqual(await p, { offset: 5, epoch: "e1", duplicate: true });
  client.close();
});

test("publish sends a generated idempotency key when none is given, a new one per call", async () => {
  const { client, ws } = await connectedClient();
  client.publish("chat:lobby", 1).catch(() => {});
  const k1 = lastPublish(ws).idempotency_key;
  client.publish("chat:lobby", 1).catch(() => {});
  const k2 = lastPublish(ws).idempotency_key;
  assert.equal(typeof k1, "string");
  assert.ok(k1.length > 0 && k1.length <= 256);
  assert.notEqual(k1, k2);
  client.close();
});

test("an error frame rejects the publish with its code and message; the connection stays", async () => {
  const { client, ws } = await connectedClient();
  const errors = [];
  client.on("error", (e) => errors.push(e));
  const p = client.publish("token:x", 1, { idempotencyKey: "k-9" });
  ws.deliver({ type: "error", id: lastPublish(ws).id, code: "permission_denied", message: "client publish is not allowed in namespace 'token'" });
  await assert.rejects(p, (err) => {
    assert.ok(err instanceof Error);
    assert.equal(err.code, "permission_denied");
    assert.equal(err.message, "client publish is not allowed in namespace 'token'");
    assert.equal(err.idempotencyKey, "k-9");
    return true;
  });
  assert.deepEqual(errors, [], "a refused publish is not also an `error` event");
  assert.equal(client.state, "connected");

  const retry = client.publish("chat:lobby", 1, { idempotencyKey: "k-10" });
  ws.deliver({ type: "error", id: lastPublish(ws).id, code: "unavailable", message: "no answer from herald-control within 5 s" });
  await assert.rejects(retry, { code: "unavailable", idempotencyKey: "k-10" });
  client.close();
});

test("publish rejects at once with disconnected when not connected, and sends nothing later", async () => {
  const client = newClient();
  await assert.rejects(client.publish("chat:lobby", 1), { code: "disconnected" });
  client.connect();
  await waitFor("socket", () => FakeSocket.all.length === 1);
  const ws = FakeSocket.last();
  await assert.rejects(client.publish("chat:lobby", 2), { code: "disconnected" }, "connecting is not connected");
  ws.deliver(connected);
  assert.equal(ws.sent.filter((f) => f.type === "publish").length, 0, "nothing queued");
  client.close();
  await assert.rejects(client.publish("chat:lobby", 3), { code: "disconnected" });
});

test("a connection closing before the answer rejects with disconnected, without republishing", async () => {
  const { client, ws } = await connectedClient();
  const p = client.publish("chat:lobby", 1, { idempotencyKey: "k-2" });
  ws.drop(1006);
  await assert.rejects(p, { code: "disconnected", idempotencyKey: "k-2" });
  await waitFor("reconnect", () => FakeSocket.all.length === 2);
  const second = FakeSocket.last();
  second.deliver({ ...connected, client: "n-0-2" });
  assert.equal(second.sent.filter((f) => f.type === "publish").length, 0);

  const q = client.publish("chat:lobby", 2);
  client.close();
  await assert.rejects(q, { code: "disconnected" });
});

test("publish rejects with timeout when no answer comes; a late reply is ignored", async () => {
  const { client, ws } = await connectedClient();
  const p = client.publish("chat:lobby", 1, { timeoutMs: 20 });
  const id = lastPublish(ws).id;
  await assert.rejects(p, { code: "timeout" });
  ws.deliver({ type: "reply", id, ok: true, offset: 1, epoch: "e1" }); // no throw
  assert.equal(client.state, "connected");
  client.close();
});

test("message frames reach listeners with their publisher", async () => {
  const { client, ws } = await connectedClient();
  const onChannel = [];
  const onMessage = [];
  client.on("message", (m) => onMessage.push(m));
  client.subscribe("chat:lobby", (m) => onChannel.push(m));
  await waitFor("subscribe frame", () => ws.sent.some((f) => f.type === "subscribe"));
  ws.deliver({ type: "reply", id: ws.sent.find((f) => f.type === "subscribe").id, ok: true, channels: ["chat:lobby"] });
  ws.deliver({ ...msg("chat:lobby", 1), publisher: { user: "alice", client: "node-0-12" } });
  ws.deliver({ ...msg("chat:lobby", 2), publisher: { client: "node-0-13" } }); // anonymous sender
  ws.deliver(msg("chat:lobby", 3)); // from a backend
  assert.deepEqual(onChannel.map((m) => m.publisher), [{ user: "alice", client: "node-0-12" }, { client: "node-0-13" }, undefined]);
  assert.deepEqual(onMessage.map((m) => m.publisher), onChannel.map((m) => m.publisher));
  client.close();
});

test("the server's subscribe and unsubscribe frames reach their listeners", async () => {
  const { client, ws } = await connectedClient();
  const heard = [];
  client.on("serverSubscribed", (e) => heard.push(["+", e.channel]));
  client.on("serverUnsubscribed", (e) => heard.push(["-", e.channel]));
  const messages = [];
  client.on("message", (m) => messages.push(m.channel));
  ws.deliver({ type: "subscribed", channel: "orders:7" });
  ws.deliver(msg("orders:7", 1));
  ws.deliver({ type: "unsubscribed", channel: "orders:7" });
  assert.deepEqual(heard, [["+", "orders:7"], ["-", "orders:7"]]);
  assert.deepEqual(messages, ["orders:7"]);
  assert.ok(!ws.sent.some((f) => f.type === "subscribe"), "nothing to ask the node for");
  client.close();
});

test("join and leave frames reach the client's listeners and the subscription's own", async () => {
  const { client, ws } = await connectedClient();
  const heard = [];
  client.on("join", (e) => heard.push(["join", e.channel, e.clients.map((c) => c.client), e.unlisted]));
  client.on("leave", (e) => heard.push(["leave", e.channel, e.clients.map((c) => c.client), e.unlisted]));
  const own = [];
  const handle = client.subscribe("chat:a", () => {}, {
    onJoin: (e) => own.push(["+", e.clients.length]),
    onLeave: (e) => own.push(["-", e.clients.length + e.unlisted]),
  });
  ws.deliver({ type: "join", channel: "chat:a", clients: [{ client: "n-0-1", user: "al" }] });
  ws.deliver({ type: "leave", channel: "chat:a", clients: [{ client: "n-0-1", user: "al" }], unlisted: 2 });
  ws.deliver({ type: "join", channel: "chat:b", clients: [{ client: "n-0-2", user: "" }] });
  const lost = [];
  client.on("leave", (e) => lost.push([e.node, e.all]));
  ws.deliver({ type: "leave", channel: "chat:a", node: "n", all: true, clients: [] });
  assert.deepEqual(heard, [
    ["join", "chat:a", ["n-0-1"], 0],
    ["leave", "chat:a", ["n-0-1"], 2],
    ["join", "chat:b", ["n-0-2"], 0],
    ["leave", "chat:a", [], 0],
  ]);
  assert.deepEqual(lost, [["n", true]]);
  assert.deepEqual(own, [["+", 1], ["-", 3], ["-", 0]], "only chat:a's frames reach its subscription");
  handle.unsubscribe();
  client.close();
});

test("publish refuses data that is not JSON-serialisable before sending anything", async () => {
  const { client, ws } = await connectedClient();
  const cyclic = {};
  cyclic.self = cyclic;
  await assert.rejects(client.publish("chat:lobby", cyclic), { code: "bad_request" });
  await assert.rejects(client.publish("chat:lobby", { n: 1n }), { code: "bad_request" });
  assert.equal(ws.sent.filter((f) => f.type === "publish").length, 0);
  assert.equal(client.state, "connected");
  client.close();
});

test("rpc sends method and data and settles with the backend's answer or error", async () => {
  const { client, ws } = await connectedClient();
  const ok = client.rpc("orders.get", { id: 7 });
  const refused = client.rpc("orders.delete", { id: 7 });
  const failed = client.rpc("orders.list");
  const [r1, r2, r3] = ws.sent.filter((f) => f.type === "rpc");
  assert.deepEqual(r1, { type: "rpc", id: r1.id, method: "orders.get", data: { id: 7 } });
  assert.equal(r3.data, null);
  ws.deliver({ type: "rpc", id: r2.id, error: { code: "not_yours", message: "order 7 is not yours" } });
  ws.deliver({ type: "error", id: r3.id, code: "unavailable", message: "the backend did not answer" });
  ws.deliver({ type: "rpc", id: r1.id, data: { id: 7, total: 12 } });
  assert.deepEqual(await ok, { id: 7, total: 12 });
  await assert.rejects(refused, { code: "not_yours", backend: true, message: "order 7 is not yours" });
  await assert.rejects(failed, { code: "unavailable", backend: false });
  client.close();
  await assert.rejects(client.rpc("x"), { code: "disconnected" });
});
