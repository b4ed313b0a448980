// herald.js's Server-Sent Events fallback (web/herald-sse.js) against a scripted EventSource
// and fetch: the switch when a WebSocket cannot open, subscriptions as stream URLs with the
// positions to resume, replies made from the node's greeting, publish as a POST, a refused
// subscribe, the close event, and the way back to a WebSocket.
import { test } from "node:test";
import assert from "node:assert/strict";

import { HeraldClient } from "../../web/herald.js";
import { sseUrlFor } from "../../web/herald-sse.js";
import { waitFor } from "./support/cluster.mjs";

class FakeEventSource {
  static all = [];
  constructor(url, init) {
    this.url = new URL(url);
    this.init = init;
    this.readyState = 0;
    this.closed = false;
    this.listeners = new Map();
    FakeEventSource.all.push(this);
  }
  addEventListener(name, handler) {
    this.listeners.set(name, handler);
  }
  close() {
    this.closed = true;
    this.readyState = 2;
  }
  // What the node would send:
  event(frame, id) {
    this.readyState = 1;
    this.onmessage?.({ data: JSON.stringify(frame), lastEventId: id ?? this.lastId ?? "" });
    if (id !== undefined) this.lastId = id;
  }
  fail() {
    this.onerror?.({});
  }
  static last() {
    return FakeEventSource.all[FakeEventSource.all.length - 1];
  }
}

// A WebSocket that never opens (a proxy that breaks WebSockets).
class BrokenSocket {
  static count = 0;
  constructor() {
    BrokenSocket.count++;
    setTimeout(() => this.onclose?.({ code: 1006, reason: "" }), 1);
  }
  close() {}
}

const connected = (subscribed = [], user = "alice") => ({
  type: "connected", client: "n-0-1", node: "n", user, ping_interval: 30, subscribed,
});
const msg = (channel, offset, epoch = "E") => ({ type: "message", channel, offset, epoch, data: { offset } });

function client(options = {}) {
  FakeEventSource.all = [];
  const posts = [];
  const fetch = async (url, init) => {
    posts.push({ url, init });
    const frame = JSON.parse(init.body);
    return { text: async () => JSON.stringify({ type: "reply", id: frame.id, ok: true, offset: 9, epoch: "E" }) };
  };
  const c = new HeraldClient("ws://node.example:8080/ws", {
    token: "tok.en",
    WebSocket: BrokenSocket,
    EventSource: FakeEventSource,
    fetch,
    minReconnectDelayMs: 1,
    maxReconnectDelayMs: 2,
    ...options,
  });
  return { c, posts };
}

test("sseUrlFor maps a node's /ws URL to its /sse endpoint", () => {
  assert.equal(sseUrlFor("ws://h:1/ws?token=x").href, "http://h:1/sse?token=x");
  assert.equal(sseUrlFor("wss://h/ws").href, "https://h/sse");
});

test("falls back to SSE when a WebSocket cannot open, and subscribes with positions", async () => {
  const { c, posts } = client();
  const got = [];
  c.subscribe("news:a", (m) => got.push(m.offset), { since: { offset: 4, epoch: "E" } });
  c.connect();
  await waitFor("an EventSource", () => FakeEventSource.all.length === 1);
  assert.equal(BrokenSocket.count >= 1, true);
  assert.equal(c.transport, "sse");
  let es = FakeEventSource.last();
  assert.equal(es.url.pathname, "/sse");
  assert.equal(es.url.searchParams.get("token"), "tok.en");
  es.event(connected());
  await waitFor("connected", () => c.state === "connected");
  // The subscribe reopens the stream with the channel and its position.
  await waitFor("a second stream", () => FakeEventSource.all.length === 2);
  assert.equal(es.closed, true);
  es = FakeEventSource.last();
  assert.equal(es.url.searchParams.get("subscribe"), "news:a");
  assert.equal(es.url.searchParams.get("last_event_id"), ",4:E");
  es.event(connected(["news:a"]));
  es.event({ type: "recovery", channel: "news:a", recovered: true, offset: 5, epoch: "E", missed: 1 });
  es.event(msg("news:a", 5), ",5:E");
  es.event(msg("news:a", 6), ",6:E");
  await waitFor("two messages", () => got.length === 2);
  assert.deepEqual(got, [5, 6]);
  assert.deepEqual(c.position("news:a"), { offset: 6, epoch: "E" });

  // Publish goes up as a POST with the token; its answer settles it.
  const r = await c.publish("news:a", { x: 1 });
  assert.equal(r.offset, 9);
  assert.equal(posts.length, 1);
  assert.equal(posts[0].url, "http://node.example:8080/sse");
  assert.equal(posts[0].init.method, "POST");
  assert.equal(posts[0].init.headers.Authorization, "Bearer tok.en");
  assert.equal(JSON.parse(posts[0].init.body).type, "publish");

  // Another channel: a new stream resumes news:a from 6 and starts news:b.
  c.subscribe("news:b", () => {});
  await waitFor("a third stream", () => FakeEventSource.all.length === 3);
  es = FakeEventSource.last();
  assert.equal(es.url.searchParams.get("subscribe"), "news:a,news:b");
  assert.equal(es.url.searchParams.get("last_event_id"), ",6:E,");
  c.close();
});

test("a refused channel is reported and the others come back without it", async () => {
  const { c } = client();
  const errors = [];
  c.subscribe("news:a", () => {});
  c.connect();
  await waitFor("an EventSource", () => FakeEventSource.all.length === 1);
  FakeEventSource.last().event(connected());
  await waitFor("subscribe stream", () => FakeEventSource.all.length === 2);
  FakeEventSource.last().event(connected(["news:a"]));
  await waitFor("news:a active", () => c._subs.get("news:a").active);
  c.subscribe("inbox:bob", () => {}, { onError: (e) => errors.push(e) });
  await waitFor("third stream", () => FakeEventSource.all.length === 3);
  const es = FakeEventSource.last();
  es.event(connected([]));
  es.event({ type: "error", code: "permission_denied", message: "not yours" });
  await waitFor("the refusal", () => errors.length === 1);
  assert.equal(errors[0].code, "permission_denied");
  await waitFor("a stream without it", () => FakeEventSource.all.length === 4);
  assert.equal(FakeEventSource.last().url.searchParams.get("subscribe"), "news:a");
  c.close();
});

test("a close event ends the stream; herald.js reconnects with its positions", async () => {
  const sockets = BrokenSocket.count;
  const { c } = client({ transports: ["sse"] });
  const got = [];
  c.subscribe("news:a", (m) => got.push(m.offset));
  c.connect();
  await waitFor("an EventSource", () => FakeEventSource.all.length === 1);
  assert.equal(BrokenSocket.count, sockets, "no WebSocket with transports [sse]");
  FakeEventSource.last().event(connected());
  await waitFor("subscribe stream", () => FakeEventSource.all.length === 2);
  FakeEventSource.last().event(connected(["news:a"]));
  FakeEventSource.last().event(msg("news:a", 1), ",1:E");
  await waitFor("one message", () => got.length === 1);
  FakeEventSource.last().event({ type: "close", code: 1012, reason: "service restart" });
  await waitFor("a new stream", () => FakeEventSource.all.length === 3);
  FakeEventSource.last().event(connected());
  await waitFor("its subscribe stream", () => FakeEventSource.all.length === 4);
  assert.equal(FakeEventSource.last().url.searchParams.get("last_event_id"), ",1:E");
  c.close();
});

test("after a stream that cannot open, the next attempt is a WebSocket again", async () => {
  let sockets = 0;
  class CountingSocket extends BrokenSocket {
    constructor(url) {
      super(url);
      sockets++;
    }
  }
  const { c } = client({ WebSocket: CountingSocket });
  c.connect();
  await waitFor("an EventSource", () => FakeEventSource.all.length === 1);
  const before = sockets;
  FakeEventSource.last().fail();
  await waitFor("a WebSocket attempt", () => sockets > before);
  c.close();
});

test("unsubscribing a channel keeps every other channel's own position", async () => {
  const { c } = client();
  for (const ch of ["news:a", "news:b", "news:c"]) c.subscribe(ch, () => {});
  c.connect();
  await waitFor("an EventSource", () => FakeEventSource.all.length === 1);
  FakeEventSource.last().event(connected());
  await waitFor("subscribe stream", () => FakeEventSource.all.length === 2);
  let es = FakeEventSource.last();
  assert.equal(es.url.searchParams.get("subscribe"), "news:a,news:b,news:c");
  assert.equal(es.url.searchParams.get("close_events"), "1", "refusals come as close events");
  es.event(connected(["news:a", "news:b", "news:c"]));
  es.event(msg("news:a", 1), ",1:E,,");
  es.event(msg("news:b", 7), ",1:E,7:E,");
  es.event(msg("news:c", 3), ",1:E,7:E,3:E");
  await waitFor("news:c at 3", () => c.position("news:c")?.offset === 3);
  c.unsubscribe("news:b");
  await waitFor("a stream without news:b", () => FakeEventSource.all.length === 3);
  es = FakeEventSource.last();
  assert.equal(es.url.searchParams.get("subscribe"), "news:a,news:c");
  assert.equal(es.url.searchParams.get("last_event_id"), ",1:E,3:E", "news:c resumes from its own 3");
  c.close();
});

test("the personal stream's position goes in the id; a refused token is a close with its code", async () => {
  let tokens = 0;
  const { c } = client({ token: "", getToken: () => `t${++tokens}` });
  c._user = { offset: 5, epoch: "U" };
  c.connect();
  await waitFor("an EventSource", () => FakeEventSource.all.length === 1);
  assert.equal(FakeEventSource.last().url.searchParams.get("last_event_id"), "5:U");
  assert.equal(FakeEventSource.last().url.searchParams.get("token"), "t1");
  FakeEventSource.last().event({ type: "close", code: 4001, reason: "invalid token" });
  await waitFor("a second stream with a new token", () => FakeEventSource.all.length === 2, { timeoutMs: 5000 });
  assert.equal(FakeEventSource.last().url.searchParams.get("token"), "t2");
  c.close();
});

test("a POST refused before its frame was read still answers that frame", async () => {
  FakeEventSource.all = [];
  const c = new HeraldClient("ws://node.example:8080/ws", {
    transports: ["sse"],
    EventSource: FakeEventSource,
    fetch: async () => ({ status: 401, text: async () => JSON.stringify({ type: "error", code: "unauthorized", message: "a token is required" }) }),
  });
  c.connect();
  await waitFor("an EventSource", () => FakeEventSource.all.length === 1);
  FakeEventSource.last().event(connected());
  await waitFor("connected", () => c.state === "connected");
  const started = Date.now();
  await assert.rejects(c.publish("chat:room", 1), (e) => e.code === "unauthorized");
  assert.ok(Date.now() - started < 2000, "at once, not after the publish timeout");
  c.close();
});
