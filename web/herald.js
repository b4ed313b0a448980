// Herald browser client: an ES module with no dependencies and no build step.
// Served by every herald-node at /herald.js; docs/client.md is its manual.
//
//   import { HeraldClient } from "/herald.js";
//   const client = new HeraldClient("ws://127.0.0.1:8080/ws");
//   client.subscribe("token:price", (msg) => console.log(msg.data));
//   client.connect();
//   await client.publish("chat:lobby", { text: "hi" }); // namespaces with allow_client_publish
//   const order = await client.rpc("orders.get", { id: 7 }); // the backend's rpc hook
//
// It keeps each stream's last offset and epoch, so that after a reconnect it subscribes again
// with `since` and the node sends what was missed (within the namespace's history) before the
// live messages. What cannot be recovered is reported as a `gap` event, never hidden.
//
// Where a WebSocket cannot open (a proxy that breaks it), it falls back to Server-Sent Events
// by itself (herald-sse.js): the same frames, positions and recovery; publish and rpc go up
// as HTTP POSTs. `transports` chooses (default ["websocket", "sse"]).

import { SseLink } from "./herald-sse.js";

const DEFAULTS = {
  token: "",
  getToken: null,
  minReconnectDelayMs: 250,
  maxReconnectDelayMs: 10000,
  pingIntervalMs: 25000,
  pongTimeoutMs: 10000,
  tokenRefreshMarginS: 30,
  WebSocket: null,
  transports: ["websocket", "sse"],
  EventSource: null,
  fetch: null,
  sseWithCredentials: false,
};

// Close codes after which the same token will not work again (docs/protocol.md#close-codes).
const TOKEN_CLOSE_CODES = new Set([4001, 4002]);
const MAX_CHANNELS_PER_FRAME = 100;
const PUBLISH_TIMEOUT_MS = 10000; // the node answers within 5 s (`unavailable` at the latest)
const RPC_TIMEOUT_MS = 35000; // hooks time out within 30 s (timeout_ms at most), then the node answers

export const ClientState = Object.freeze({
  IDLE: "idle",
  CONNECTING: "connecting",
  CONNECTED: "connected",
  RECONNECT_WAIT: "reconnect_wait",
  CLOSED: "closed",
});

/** The `exp` claim of a JWT (seconds), or 0 when it has none or cannot be read. */
export function tokenExpiry(token) {
  try {
    const part = token.split(".")[1];
    const json = atob(part.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(part.length / 4) * 4, "="));
    const exp = JSON.parse(json).exp;
    return typeof exp === "number" ? exp : 0;
  } catch {
    return 0;
  }
}

/** Delay before reconnect attempt `attempt` (0-based): exponential, with "equal jitter". */
export function reconnectDelay(attempt, minMs, maxMs, random = Math.random) {
  const ceiling = Math.min(maxMs, minMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

// JSON with object keys sorted, so that equal filters compare equal whatever their key order.
function canonicalJson(value) {
  if (Array.isArray(value)) return "[" + value.map(canonicalJson).join(",") + "]";
  if (value !== null && typeof value === "object") {
    return "{" + Object.keys(value).sort().map((k) => JSON.stringify(k) + ":" + canonicalJson(value[k])).join(",") + "}";
  }
  return JSON.stringify(value);
}

class Subscription {
  constructor(client, channel) {
    this.client = client;
    this.channel = channel;
    this.handlers = new Set();
    this.errorHandlers = new Set();
    this.subscribedHandlers = new Set();
    this.joinHandlers = new Set();
    this.leaveHandlers = new Set();
    this.filter = null; // the subscription's tag filter (a frozen copy), sent with every subscribe
    this.filterText = null; // ...as JSON, to compare
    this.conflateMs = 0; // at most one message per this many ms (0: every one)
    this.offset = 0; // last offset delivered to the app; 0 = none yet
    this.epoch = "";
    this.active = false; // the node confirmed it on the current connection
    this.recovering = false; // `since` sent, `recovery` frame not yet received
    this.sent = false; // a subscribe frame for it awaits its reply
  }
}

export class HeraldClient {
  constructor(url, options = {}) {
    if (typeof url !== "string" || !/^wss?:\/\//.test(url)) {
      throw new TypeError("HeraldClient: url must start with ws:// or wss://");
    }
    this.url = url;
    this.options = { ...DEFAULTS, ...options };
    this._WebSocket = this.options.WebSocket || globalThis.WebSocket;
    const transports = this.options.transports;
    if (!Array.isArray(transports) || transports.length === 0 || transports.some((t) => t !== "websocket" && t !== "sse")) {
      throw new TypeError('HeraldClient: transports must list "websocket" and/or "sse"');
    }
    this._useSse = transports[0] === "sse"; // the transport of the next attempt
    this._wsWorked = false; // a WebSocket opened once: a failure later is not a proxy's
    this._listeners = new Map();
    this._subs = new Map();
    this._user = { offset: 0, epoch: "" };
    this._state = ClientState.IDLE;
    this._ws = null;
    this._attempt = 0;
    this._reconnects = 0;
    this._token = this.options.token || "";
    this._nextId = 1;
    this._pending = new Map(); // frame id -> {kind, channels, resolve, reject}
    this._timers = { reconnect: 0, ping: 0, pong: 0, refresh: 0 };
    this._flushQueued = false;
    this.session = null; // the last `connected` frame
  }

  /** idle, connecting, connected, reconnect_wait or closed. */
  get state() {
    return this._state;
  }

  /** "websocket" or "sse": the transport of the current (or next) connection. */
  get transport() {
    return this._useSse ? "sse" : "websocket";
  }

  /** Reconnections made so far (the first connection does not count). */
  get reconnects() {
    return this._reconnects;
  }

  /**
   * Listens to `connected`, `disconnected`, `error`, `message`, `personal`, `broadcast`,
   * `recovered`, `gap`, `state`, `join` / `leave` ({channel, node, clients: [{client, user}],
   * unlisted, all}: connections of `node` that subscribed to or left a channel of a namespace
   * with `join_leave`; `all`: every connection of that node left, it is gone), or `serverSubscribed` / `serverUnsubscribed` ({channel}: the
   * server's Subscribe / Unsubscribe changed this connection; such a channel's messages reach
   * `message` listeners, and last as long as the connection). Returns a function that removes
   * the listener.
   */
  on(event, handler) {
    if (!this._listeners.has(event)) this._listeners.set(event, new Set());
    this._listeners.get(event).add(handler);
    return () => this.off(event, handler);
  }

  off(event, handler) {
    this._listeners.get(event)?.delete(handler);
  }

  connect() {
    if (this._state === ClientState.CONNECTING || this._state === ClientState.CONNECTED) return;
    clearTimeout(this._timers.reconnect);
    this._open();
  }

  /** Closes for good (code 1000); no reconnect follows. */
  close() {
    const ws = this._ws;
    this._stopTimers();
    clearTimeout(this._timers.reconnect);
    this._ws = null;
    const wasOpen = ws !== null;
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      try {
        ws.close(1000, "client closed");
      } catch {
        /* already closing */
      }
    }
    this._failPending(new Error("client closed"));
    for (const sub of this._subs.values()) sub.active = false;
    this._setState(ClientState.CLOSED);
    if (wasOpen) {
      this._emit("disconnected", { code: 1000, reason: "client closed", willReconnect: false, delayMs: 0 });
    }
  }

  /**
   * Subscribes to `channel`; `onMessage(msg)` gets each `message` frame of it, in offset order,
   * without duplicates. Subscribing works before connect() and survives reconnects.
   * `options.since = {offset, epoch}` starts from a stored position (recovery).
   * `options.filter` (e.g. `{key: "chain", in: ["eth", "sol"]}`) lets only publications whose
   * tags match through; it is fixed when the channel is first subscribed (unsubscribe to
   * change it). Offsets a filter skips are not reported as gaps: each message says `prev`.
   * `options.conflateMs` asks for at most one message per interval, the latest (at least the
   * namespace's `conflate_ms`); each message says in `conflated` how many it replaced.
   * Subscribing a held channel again with another filter or interval throws a TypeError
   * (leaving them out adds a handler to what the channel has).
   * `options.onError(err)` hears a refusal (`permission_denied`, `limit_exceeded`, ...; with
   * `backend` {code, message} when the application's subscribe hook refused).
   * `options.onSubscribed({channel, info})` hears each time the node confirms it (after every
   * reconnect too); `info` is what the subscribe hook gave for it, or undefined.
   * `options.onJoin({channel, clients, unlisted})` / `options.onLeave(...)` hear connections
   * joining and leaving the channel, in namespaces with `join_leave` (docs/protocol.md).
   */
  subscribe(channel, onMessage, options = {}) {
    let sub = this._subs.get(channel);
    const fresh = !sub;
    const filter = options.filter ? canonicalJson(options.filter) : null;
    const conflateMs = Number.isInteger(options.conflateMs) && options.conflateMs > 0 ? options.conflateMs : 0;
    // Left out, they keep what the channel has; given, they must be what it has.
    if (!fresh && ((filter !== null && sub.filterText !== filter) || (conflateMs !== 0 && sub.conflateMs !== conflateMs))) {
      throw new TypeError(`HeraldClient: '${channel}' is already subscribed with another filter or conflateMs; unsubscribe it first`);
    }
    if (fresh) {
      sub = new Subscription(this, channel);
      if (options.since && Number.isInteger(options.since.offset)) {
        sub.offset = options.since.offset;
        sub.epoch = options.since.epoch || "";
      }
      sub.filterText = filter;
      if (filter) sub.filter = Object.freeze(JSON.parse(filter)); // later changes by the app do not leak in
      sub.conflateMs = conflateMs;
      this._subs.set(channel, sub);
    }
    if (onMessage) sub.handlers.add(onMessage);
    if (options.onError) sub.errorHandlers.add(options.onError);
    if (options.onSubscribed) sub.subscribedHandlers.add(options.onSubscribed);
    if (options.onJoin) sub.joinHandlers.add(options.onJoin);
    if (options.onLeave) sub.leaveHandlers.add(options.onLeave);
    if (fresh && this._state === ClientState.CONNECTED) this._queueFlush();
    return {
      channel,
      unsubscribe: () => this._removeHandler(channel, onMessage, options),
      position: () => this.position(channel),
    };
  }

  /** Drops every handler of `channel` and tells the node. */
  unsubscribe(channel) {
    const sub = this._subs.get(channel);
    if (!sub) return;
    this._subs.delete(channel);
    if ((sub.active || sub.sent) && this._state === ClientState.CONNECTED) {
      this._send({ type: "unsubscribe", id: this._id(), channels: [channel] });
    }
  }

  /** The last position delivered on `channel` ({offset, epoch}), or null. */
  position(channel) {
    const sub = this._subs.get(channel);
    return sub && sub.offset > 0 ? { offset: sub.offset, epoch: sub.epoch } : null;
  }

  /** The last position of the user's personal stream, or null. */
  userPosition() {
    return this._user.offset > 0 ? { ...this._user } : null;
  }

  /** Application ping; resolves with the round trip in milliseconds. */
  ping() {
    return new Promise((resolve, reject) => {
      if (this._state !== ClientState.CONNECTED) {
        reject(new Error("not connected"));
        return;
      }
      const id = this._id();
      const started = performanceNow();
      this._pending.set(id, { kind: "ping", resolve: () => resolve(performanceNow() - started), reject });
      this._send({ type: "ping", id });
    });
  }

  /**
   * Publishes `data` (any JSON value) to `channel`; the namespace needs allow_client_publish.
   * Resolves with {offset, epoch, duplicate} once herald-control stored it. Rejects with an
   * Error whose `code` is the node's (permission_denied, bad_request, unavailable,
   * rate_limited, limit_exceeded, ...), or `timeout` (no answer within `timeoutMs`) or
   * `disconnected` (not connected, or the connection closed before the answer); the Error also
   * carries the `idempotencyKey` sent. Never queued across reconnects: after `unavailable`,
   * `timeout` or `disconnected` the publication may or may not have happened, and publishing
   * again with the same `idempotencyKey` is safe (the node answers `duplicate: true`).
   */
  publish(channel, data, options = {}) {
    const key = options.idempotencyKey !== undefined ? options.idempotencyKey : newIdempotencyKey();
    return new Promise((resolve, reject) => {
      const fail = (code, message) => {
        const err = new Error(message);
        err.code = code;
        err.idempotencyKey = key;
        reject(err);
      };
      const frame = { type: "publish", id: this._id(), channel, data };
      if (options.event !== undefined) frame.event = options.event;
      if (options.tags !== undefined) frame.tags = options.tags;
      frame.idempotency_key = key;
      const unsendable = this._unsendable(frame);
      if (unsendable) {
        fail(unsendable.code, unsendable.message);
        return;
      }
      this._request(frame, positive(options.timeoutMs, PUBLISH_TIMEOUT_MS),
        (reply) => resolve({ offset: reply.offset, epoch: reply.epoch, duplicate: reply.duplicate === true }),
        (err) => fail(err.code, err.message));
    });
  }

  // Why `frame` cannot be sent now ({code, message}), or null: not connected, or a cycle or a
  // BigInt in its data (refused before anything waits).
  _unsendable(frame) {
    if (this._state !== ClientState.CONNECTED || !this._ws || this._ws.readyState !== 1) {
      return { code: "disconnected", message: "not connected" };
    }
    try {
      JSON.stringify(frame);
    } catch (e) {
      return { code: "bad_request", message: `data is not JSON-serialisable: ${e.message}` };
    }
    return null;
  }

  // Sends `frame` (which has its `id`) and settles it once: `onAnswer` with the answer frame,
  // or `onError` with {code, message} for an error frame, no answer within `timeoutMs`
  // ("timeout"; a late answer is then ignored) or a lost connection ("disconnected").
  _request(frame, timeoutMs, onAnswer, onError) {
    const id = frame.id;
    const timer = setTimeout(() => {
      if (this._pending.get(id) !== pending) return;
      this._pending.delete(id);
      onError({ code: "timeout", message: `no answer to ${frame.type} within ${timeoutMs} ms` });
    }, timeoutMs);
    const pending = {
      kind: frame.type,
      resolve: (reply) => {
        clearTimeout(timer);
        onAnswer(reply);
      },
      reject: (err) => {
        clearTimeout(timer);
        onError(err);
      },
    };
    this._pending.set(id, pending);
    this._send(frame);
  }

  /**
   * Asks the backend through the server's rpc hook (docs/hooks.md): resolves with the data
   * (any JSON value) the backend answered. Rejects with an Error whose `code` is the
   * backend's own (then `backend` is true: e.g. "not_yours"), or the node's (not_found: no rpc
   * hook; unavailable: the backend failed or did not answer in time; limit_exceeded; bad_request;
   * rate_limited), or `timeout` / `disconnected`. Never retried by the client: an rpc may
   * have side effects.
   */
  rpc(method, data = null, options = {}) {
    return new Promise((resolve, reject) => {
      const fail = (code, message, backend = false) => {
        const err = new Error(message);
        err.code = code;
        err.backend = backend;
        reject(err);
      };
      const frame = { type: "rpc", id: this._id(), method, data };
      const unsendable = this._unsendable(frame);
      if (unsendable) {
        fail(unsendable.code, unsendable.message);
        return;
      }
      // Past the longest hook timeout (30 s): the node answers first unless the link is gone.
      this._request(frame, positive(options.timeoutMs, RPC_TIMEOUT_MS),
        (reply) => (reply.error ? fail(reply.error.code, reply.error.message, true) : resolve(reply.data)),
        (err) => fail(err.code, err.message));
    });
  }

  // ---- connection lifecycle ----

  async _open() {
    this._setState(ClientState.CONNECTING);
    if (this.options.getToken && (!this._token || this._tokenStale)) {
      try {
        this._token = (await this.options.getToken()) || "";
        this._tokenStale = false;
      } catch (e) {
        this._emit("error", { code: "token_unavailable", message: String(e && e.message ? e.message : e) });
        this._scheduleReconnect(0, "getToken failed");
        return;
      }
      if (this._state !== ClientState.CONNECTING) return; // closed meanwhile
    }
    let ws;
    try {
      ws = this._useSse
        ? new SseLink(this._connectUrl(), {
            EventSource: this.options.EventSource,
            fetch: this.options.fetch,
            withCredentials: this.options.sseWithCredentials,
          })
        : new this._WebSocket(this._connectUrl());
    } catch (e) {
      this._emit("error", { code: "connect_failed", message: String(e && e.message ? e.message : e) });
      this._scheduleReconnect(0, "connect failed");
      return;
    }
    this._ws = ws;
    ws.heraldOpened = false;
    ws.heraldSse = this._useSse;
    ws.onopen = () => {
      ws.heraldOpened = true;
      if (!ws.heraldSse) this._wsWorked = true;
    };
    ws.onmessage = (ev) => this._onFrame(ev.data);
    ws.onclose = (ev) => this._onClose(ws, ev.code, ev.reason);
    ws.onerror = () => {}; // onclose follows with the code
  }

  _connectUrl() {
    const params = [];
    if (this._token) params.push("token=" + encodeURIComponent(this._token));
    if (this._user.offset > 0) {
      this._user.recovering = true; // until the node's `recovery` frame for the user stream
      params.push("user_since=" + this._user.offset + (this._user.epoch ? "%3A" + this._user.epoch : ""));
    }
    if (params.length === 0) return this.url;
    return this.url + (this.url.includes("?") ? "&" : "?") + params.join("&");
  }

  _onClose(ws, code, reason) {
    if (ws !== this._ws) return; // an old socket we already gave up on
    this._ws = null;
    this._chooseTransport(ws);
    this._stopTimers();
    this._failPending(new Error("connection closed"));
    for (const sub of this._subs.values()) {
      sub.active = false;
      sub.recovering = false;
    }
    if (TOKEN_CLOSE_CODES.has(code)) {
      if (!this.options.getToken) {
        this._setState(ClientState.CLOSED);
        this._emit("error", { code: "unauthorized", message: `closed ${code} ${reason}; no getToken to get a new token`, fatal: true });
        this._emit("disconnected", { code, reason, willReconnect: false, delayMs: 0 });
        return;
      }
      this._tokenStale = true;
    }
    this._scheduleReconnect(code, reason);
  }

  // The next attempt's transport: Server-Sent Events after a WebSocket that could not open; a
  // WebSocket again after any stream that ended (the WebSocket's failure may have passed: a
  // node restarting when the page loaded), falling back once more if it still cannot open.
  _chooseTransport(link) {
    const allowed = this.options.transports;
    if (!link.heraldSse && !link.heraldOpened && allowed.includes("sse")) {
      this._useSse = true;
    } else if (link.heraldSse && allowed.includes("websocket")) {
      this._useSse = false;
    }
  }

  _scheduleReconnect(code, reason) {
    // A node that restarts (1012) is usually back at once: start the backoff from its floor.
    if (code === 1012) this._attempt = 0;
    const delayMs = reconnectDelay(this._attempt++, this.options.minReconnectDelayMs, this.options.maxReconnectDelayMs);
    this._setState(ClientState.RECONNECT_WAIT);
    this._emit("disconnected", { code, reason: reason || "", willReconnect: true, delayMs });
    this._timers.reconnect = setTimeout(() => {
      this._reconnects++;
      this._open();
    }, delayMs);
  }

  _stopTimers() {
    clearTimeout(this._timers.ping);
    clearTimeout(this._timers.pong);
    clearTimeout(this._timers.refresh);
  }

  // Browsers answer the node's WebSocket pings without telling the page, so a dead path
  // (laptop sleep, NAT timeout) shows only through an application ping that gets no answer.
  _schedulePing() {
    clearTimeout(this._timers.ping);
    this._timers.ping = setTimeout(() => {
      if (this._state !== ClientState.CONNECTED) return;
      const id = this._id();
      // The answer schedules the next one: the path is checked all the connection long.
      this._pending.set(id, { kind: "ping", resolve: () => this._schedulePing(), reject: () => {} });
      this._send({ type: "ping", id });
      this._timers.pong = setTimeout(() => this._abandon(4000, "ping timeout"), this.options.pongTimeoutMs);
    }, this.options.pingIntervalMs);
  }

  // Gives up on the socket at once (its close handshake may never finish) and reconnects.
  _abandon(code, reason) {
    const ws = this._ws;
    if (!ws) return;
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
    try {
      ws.close(code, reason);
    } catch {
      /* ignore */
    }
    this._onClose(ws, code, reason);
  }

  _scheduleRefresh() {
    clearTimeout(this._timers.refresh);
    if (!this.options.getToken || !this._token) return;
    const exp = tokenExpiry(this._token);
    if (!exp) return;
    const inMs = Math.max(1000, (exp - this.options.tokenRefreshMarginS) * 1000 - Date.now());
    this._timers.refresh = setTimeout(async () => {
      let token;
      try {
        token = await this.options.getToken();
      } catch (e) {
        this._emit("error", { code: "token_unavailable", message: String(e && e.message ? e.message : e) });
        return;
      }
      if (!token || this._state !== ClientState.CONNECTED) return;
      this._token = token;
      const id = this._id();
      this._pending.set(id, {
        kind: "authenticate",
        resolve: () => this._scheduleRefresh(),
        reject: (err) => this._emit("error", err),
      });
      this._send({ type: "authenticate", id, token });
    }, inMs);
  }

  // ---- frames ----

  _onFrame(text) {
    clearTimeout(this._timers.pong); // any frame shows the path is alive
    let frame;
    try {
      frame = JSON.parse(text);
    } catch {
      this._emit("error", { code: "bad_frame", message: "frame from the node is not JSON" });
      return;
    }
    switch (frame.type) {
      case "connected":
        return this._onConnected(frame);
      case "message":
        return this._onMessage(frame);
      case "recovery":
        return this._onRecovery(frame);
      case "subscribed":
        return this._emit("serverSubscribed", { channel: frame.channel });
      case "unsubscribed":
        return this._emit("serverUnsubscribed", { channel: frame.channel });
      case "join":
      case "leave":
        return this._onJoinLeave(frame);
      case "reply":
      case "pong":
      case "rpc":
        return this._settle(frame.id, null, frame);
      case "error":
        if (frame.id !== undefined && this._pending.has(frame.id)) {
          const error = { code: frame.code, message: frame.message };
          if (frame.backend) error.backend = frame.backend;
          if (frame.channel) error.channel = frame.channel;
          return this._settle(frame.id, error, frame);
        }
        return this._emit("error", { code: frame.code, message: frame.message });
      default:
        return undefined; // frames of later protocol versions
    }
  }

  _onConnected(frame) {
    const reconnected = this.session !== null;
    this.session = frame;
    this._attempt = 0;
    this._setState(ClientState.CONNECTED);
    this._schedulePing();
    this._scheduleRefresh();
    this._emit("connected", { client: frame.client, node: frame.node, user: frame.user, reconnected, transport: this.transport });
    this._flush();
  }

  _queueFlush() {
    if (this._flushQueued) return;
    this._flushQueued = true;
    // Subscribes made in the same tick go out in one frame (the rate limit counts frames).
    queueMicrotask(() => {
      this._flushQueued = false;
      if (this._state === ClientState.CONNECTED) this._flush();
    });
  }

  // Subscribes every channel the node does not have yet, with `since` where a position is known.
  // A frame's filter applies to all its channels, so channels go in frames per filter.
  _flush() {
    const byFilter = new Map();
    for (const s of this._subs.values()) {
      if (s.active || s.sent) continue;
      const key = `${s.filterText || ""}|${s.conflateMs}`;
      if (!byFilter.has(key)) byFilter.set(key, []);
      byFilter.get(key).push(s);
    }
    for (const todo of byFilter.values()) this._flushChunks(todo);
  }

  _flushChunks(todo) {
    for (let i = 0; i < todo.length; i += MAX_CHANNELS_PER_FRAME) {
      const chunk = todo.slice(i, i + MAX_CHANNELS_PER_FRAME);
      const frame = { type: "subscribe", id: this._id(), channels: chunk.map((s) => s.channel) };
      if (chunk[0].filter) frame.filter = chunk[0].filter;
      if (chunk[0].conflateMs) frame.conflate_ms = chunk[0].conflateMs;
      const since = {};
      for (const s of chunk) {
        s.sent = true;
        if (s.offset > 0) {
          since[s.channel] = s.epoch ? { offset: s.offset, epoch: s.epoch } : { offset: s.offset };
          s.recovering = true;
        }
      }
      if (Object.keys(since).length > 0) frame.since = since;
      this._pending.set(frame.id, { kind: "subscribe", channels: chunk.map((s) => s.channel), resolve: () => {}, reject: () => {} });
      this._send(frame);
    }
  }

  _settle(id, error, frame) {
    const pending = this._pending.get(id);
    if (!pending) return;
    this._pending.delete(id);
    if (pending.kind === "subscribe") {
      for (const channel of pending.channels) {
        const sub = this._subs.get(channel);
        if (!sub) continue;
        sub.sent = false;
        if (!error) {
          sub.active = true;
          const info = frame && frame.info ? frame.info[channel] : undefined;
          for (const h of sub.subscribedHandlers) callSafely(h, { channel, info });
          continue;
        }
        // Subscribing is all-or-nothing per frame: every channel of the frame was refused.
        this._subs.delete(channel);
        const err = { code: error.code, message: error.message, channel };
        if (error.backend) err.backend = error.backend;
        if (error.channel) err.refusedChannel = error.channel;
        for (const h of sub.errorHandlers) callSafely(h, err);
        this._emit("error", err);
      }
      return;
    }
    if (error) pending.reject({ code: error.code, message: error.message });
    else pending.resolve(frame);
  }

  _onJoinLeave(frame) {
    const event = {
      channel: frame.channel,
      node: frame.node || "",
      clients: frame.clients || [],
      unlisted: frame.unlisted || 0,
      all: frame.all === true,
    };
    const sub = this._subs.get(frame.channel);
    if (sub) {
      for (const h of frame.type === "join" ? sub.joinHandlers : sub.leaveHandlers) callSafely(h, event);
    }
    this._emit(frame.type, event);
  }

  _onMessage(msg) {
    this._emit("message", msg);
    if (msg.broadcast) {
      this._emit("broadcast", msg);
      return;
    }
    if (msg.user !== undefined && msg.channel === undefined) {
      if (this._accept(this._user, msg, { user: msg.user })) this._emit("personal", msg);
      return;
    }
    const sub = this._subs.get(msg.channel);
    if (!sub) return; // unsubscribed meanwhile
    if (!this._accept(sub, msg, { channel: msg.channel })) return;
    for (const h of sub.handlers) callSafely(h, msg);
  }

  // Advances a stream's position; false for a message already delivered. A jump in offsets
  // or a new epoch outside a recovery is reported as a gap (e.g. dropped for a slow reader).
  _accept(pos, msg, stream) {
    if (typeof msg.offset !== "number") return true;
    if (pos.epoch === msg.epoch && msg.offset <= pos.offset) return false;
    if (!pos.recovering && pos.offset > 0) {
      if (pos.epoch !== msg.epoch) {
        this._emit("gap", { ...stream, fromOffset: pos.offset + 1, toOffset: msg.offset - 1, epoch: msg.epoch, reason: "epoch_changed" });
      } else if (msg.offset > pos.offset + 1 && !(typeof msg.prev === "number" && msg.prev <= pos.offset)) {
        // (a filtered subscription's `prev` at or below the position: the rest was filtered out)
        this._emit("gap", { ...stream, fromOffset: pos.offset + 1, toOffset: msg.offset - 1, epoch: msg.epoch, reason: "skipped" });
      }
    }
    pos.offset = msg.offset;
    pos.epoch = msg.epoch;
    return true;
  }

  _onRecovery(frame) {
    const isUser = frame.channel === undefined;
    const pos = isUser ? this._user : this._subs.get(frame.channel);
    if (!pos) return;
    const stream = isUser ? { user: frame.user } : { channel: frame.channel };
    pos.recovering = false;
    if (frame.recovered) {
      this._emit("recovered", { ...stream, missed: frame.missed, offset: frame.offset, epoch: frame.epoch });
      return;
    }
    this._emit("gap", {
      ...stream,
      fromOffset: pos.epoch === frame.epoch ? pos.offset + 1 : 1,
      toOffset: frame.offset,
      epoch: frame.epoch,
      reason: frame.reason || "not_in_history",
    });
    if (!frame.reason) {
      pos.offset = frame.offset;
      pos.epoch = frame.epoch;
    }
  }

  // ---- helpers ----

  _removeHandler(channel, onMessage, options) {
    const sub = this._subs.get(channel);
    if (!sub) return;
    if (onMessage) sub.handlers.delete(onMessage);
    if (options.onError) sub.errorHandlers.delete(options.onError);
    if (options.onSubscribed) sub.subscribedHandlers.delete(options.onSubscribed);
    if (options.onJoin) sub.joinHandlers.delete(options.onJoin);
    if (options.onLeave) sub.leaveHandlers.delete(options.onLeave);
    if (sub.handlers.size === 0) this.unsubscribe(channel);
  }

  _failPending(error) {
    for (const p of this._pending.values()) callSafely(p.reject, { code: "disconnected", message: error.message });
    this._pending.clear();
    for (const sub of this._subs.values()) sub.sent = false;
  }

  _send(frame) {
    if (this._ws && this._ws.readyState === 1) this._ws.send(JSON.stringify(frame));
  }

  _id() {
    return this._nextId++;
  }

  _setState(state) {
    if (this._state === state) return;
    this._state = state;
    this._emit("state", { state });
  }

  _emit(event, detail) {
    const set = this._listeners.get(event);
    if (!set) return;
    for (const h of [...set]) callSafely(h, detail);
  }
}

// `value` when it is a positive number, else `fallback`.
function positive(value, fallback) {
  return Number.isFinite(value) && value > 0 ? value : fallback;
}

function callSafely(fn, arg) {
  try {
    fn(arg);
  } catch (e) {
    // An app handler's exception must not break delivery to the others.
    setTimeout(() => {
      throw e;
    });
  }
}

// A fresh key per publish() call: crypto.randomUUID() where available (secure contexts only),
// else 128 random bits from crypto.getRandomValues(), else Math.random().
function newIdempotencyKey() {
  const c = globalThis.crypto;
  if (c && typeof c.randomUUID === "function") return c.randomUUID();
  const bytes = new Uint8Array(16);
  if (c && typeof c.getRandomValues === "function") c.getRandomValues(bytes);
  else for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function performanceNow() {
  return globalThis.performance ? globalThis.performance.now() : Date.now();
}
