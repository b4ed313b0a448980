// Herald's Server-Sent Events link: what herald.js uses where a WebSocket cannot open (a
// proxy that breaks it). It looks like a WebSocket to herald.js (readyState, send, close,
// onopen/onmessage/onclose), so the client's logic (subscriptions, positions, recovery,
// publish and rpc answers) is the same on both; docs/protocol.md "Server-Sent Events".
//
// Down: an EventSource on GET /sse?subscribe=...&last_event_id=... . Up: publish and rpc
// frames are POSTed to /sse and the answer is handed over as the frame it is; a subscribe,
// unsubscribe or token refresh opens a new stream with the new list (or token), resuming
// every stream from the last event id, and the reply is made here once the node greets it.

const CONNECTING = 0;
const OPEN = 1;
const CLOSED = 3;

/** The /sse endpoint for a node's /ws URL: ws(s)://host/ws -> http(s)://host/sse. */
export function sseUrlFor(wsUrl) {
  const url = new URL(wsUrl);
  url.protocol = url.protocol === "wss:" ? "https:" : "http:";
  url.pathname = url.pathname.replace(/\/ws$/, "/sse");
  if (!url.pathname.endsWith("/sse")) url.pathname = "/sse";
  return url;
}

/** The entries of an event id (docs/protocol.md): [personal stream, ...one per channel]. */
export function splitEventId(id) {
  return id ? id.split(",") : [];
}

// How long a stream may take to greet before the link is given up (a proxy that buffers it).
const OPEN_TIMEOUT_MS = 10000;

export class SseLink {
  /**
   * `wsUrl`: the node's /ws URL with herald.js's query (token, user_since). `options`:
   * EventSource, fetch (injectable for tests), withCredentials (send cookies to a node of
   * another origin; it must list the page's origin in allowed_origins).
   */
  constructor(wsUrl, options = {}) {
    this._EventSource = options.EventSource || globalThis.EventSource;
    this._fetch = options.fetch || globalThis.fetch.bind(globalThis);
    this._withCredentials = options.withCredentials === true;
    const url = sseUrlFor(wsUrl);
    this._endpoint = url.origin + url.pathname;
    this._token = url.searchParams.get("token") || "";
    this._channels = []; // ?subscribe=, in order: the event id's entries after the first
    // The last event id received, in the order of _channels; the personal stream's entry
    // starts from herald.js's user_since.
    this._lastId = url.searchParams.get("user_since") || "";
    this._pingIntervalMs = 30000;
    this._lastActivity = Date.now();
    this._waiting = []; // frames whose reply the next greeting makes: {id, kind, channels}
    this._greeted = false; // the first stream's `connected` went to herald.js
    this._openTimer = 0;
    this.readyState = CONNECTING;
    this.onopen = this.onmessage = this.onclose = this.onerror = null;
    this._open();
  }

  // ---- the WebSocket look

  send(text) {
    if (this.readyState !== OPEN) return;
    const frame = JSON.parse(text);
    switch (frame.type) {
      case "publish":
      case "rpc":
        this._post(frame.id, text);
        return;
      case "subscribe":
        this._subscribe(frame);
        return;
      case "unsubscribe":
        this._setChannels(this._channels.filter((c) => !frame.channels.includes(c)));
        this._reopen({ id: frame.id, kind: "unsubscribe", channels: frame.channels });
        return;
      case "authenticate":
        this._token = frame.token;
        this._reopen({ id: frame.id, kind: "authenticate", channels: [] });
        return;
      case "ping":
        // Alive when the stream brought anything (a heartbeat at the latest) lately; else no
        // pong, and herald.js gives the link up.
        if (Date.now() - this._lastActivity <= this._pingIntervalMs + 10000) {
          this._deliver({ type: "pong", id: frame.id });
        }
        return;
      default:
        return;
    }
  }

  close() {
    this.readyState = CLOSED;
    clearTimeout(this._openTimer);
    if (this._es) this._es.close();
    this._es = null;
  }

  // ---- down: the stream

  _streamUrl() {
    const params = [];
    if (this._token) params.push("token=" + encodeURIComponent(this._token));
    if (this._channels.length > 0) {
      params.push("subscribe=" + this._channels.map(encodeURIComponent).join(","));
    }
    // A client of its own: refusals come as `close` events with their code (4001, 4002...),
    // which EventSource's error would hide.
    params.push("close_events=1");
    if (this._lastId !== "" && splitEventId(this._lastId).some((e) => e !== "")) {
      params.push("last_event_id=" + encodeURIComponent(this._lastId));
    }
    return this._endpoint + "?" + params.join("&");
  }

  _open() {
    const es = new this._EventSource(this._streamUrl(), { withCredentials: this._withCredentials });
    this._es = es;
    let greeted = false;
    clearTimeout(this._openTimer);
    this._openTimer = setTimeout(() => {
      if (es === this._es && !greeted) this._down(1006, "stream did not open in time");
    }, OPEN_TIMEOUT_MS);
    es.onmessage = (ev) => {
      if (es !== this._es) return;
      this._lastActivity = Date.now();
      if (ev.lastEventId) this._lastId = ev.lastEventId;
      let frame;
      try {
        frame = JSON.parse(ev.data);
      } catch {
        return this._deliverText(ev.data); // herald.js reports it
      }
      if (frame.type === "connected") {
        greeted = true;
        clearTimeout(this._openTimer);
        return this._onConnected(frame, ev.data);
      }
      if (frame.type === "close") {
        return this._down(frame.code, frame.reason || "");
      }
      if (frame.type === "error" && frame.id === undefined && this._refusing) {
        return this._refused(frame);
      }
      this._deliverText(ev.data);
    };
    es.addEventListener("heartbeat", () => {
      if (es === this._es) this._lastActivity = Date.now();
    });
    es.onerror = () => {
      if (es !== this._es) return;
      // EventSource would retry by itself; herald.js decides instead (backoff, a new token,
      // maybe a WebSocket again), resuming from its own positions.
      this._down(1006, greeted ? "stream lost" : "stream failed to open");
    };
  }

  _onConnected(frame, text) {
    this._pingIntervalMs = (frame.ping_interval || 30) * 1000;
    if (!this._greeted) {
      this._greeted = true;
      this.readyState = OPEN;
      if (this.onopen) this.onopen({});
      this._deliverText(text);
      return;
    }
    // A reopened stream: its greeting answers the frames that reopened it.
    const subscribed = frame.subscribed || [];
    const missing = this._channels.filter((c) => !subscribed.includes(c));
    const waiting = this._waiting;
    this._waiting = [];
    if (missing.length > 0) {
      const asked = waiting.filter((w) => w.kind === "subscribe");
      if (asked.length === 0) {
        // Channels it had are refused now (permissions, limits): start over, so that
        // herald.js subscribes again and hears what is refused.
        this._down(1011, "the node refused this stream's channels");
        return;
      }
      // The new channels were refused (all or nothing): the node's error follows.
      this._refusing = { asked, settled: waiting.filter((w) => w.kind !== "subscribe") };
      return;
    }
    for (const w of waiting) {
      this._deliver({ type: "reply", id: w.id, ok: true, ...(w.kind === "subscribe" ? { channels: w.channels } : {}) });
    }
  }

  // The node refused a reopened stream's subscribe= (all or nothing): the new channels are
  // refused, the others come back on a stream without them.
  _refused(frame) {
    const { asked, settled } = this._refusing;
    this._refusing = null;
    const refused = asked.flatMap((w) => w.channels);
    this._setChannels(this._channels.filter((c) => !refused.includes(c)));
    for (const w of asked) {
      this._deliver({ type: "error", id: w.id, code: frame.code, message: frame.message });
    }
    this._waiting = settled;
    this._reopen(null);
  }

  _subscribe(frame) {
    if (frame.filter !== undefined || frame.conflate_ms !== undefined) {
      this._deliver({
        type: "error",
        id: frame.id,
        code: "bad_request",
        message: "filters and conflate_ms need a WebSocket; this client is on Server-Sent Events",
      });
      return;
    }
    // Positions of the new channels (herald.js's `since`) join those of the current stream.
    const entries = this._entriesByStream();
    const channels = [...this._channels];
    for (const channel of frame.channels) {
      if (!channels.includes(channel)) channels.push(channel);
      const since = frame.since && frame.since[channel];
      if (since) entries.set(channel, since.epoch ? `${since.offset}:${since.epoch}` : String(since.offset));
    }
    this._channels = channels;
    this._lastId = this._idFor(entries);
    this._reopen({ id: frame.id, kind: "subscribe", channels: frame.channels });
  }

  // A new channel list: each stream keeps its own position (entries move with their channel).
  _setChannels(channels) {
    const entries = this._entriesByStream();
    this._channels = channels;
    this._lastId = this._idFor(entries);
  }

  // The current id's entries by stream ("" for the personal one).
  _entriesByStream() {
    const entries = splitEventId(this._lastId);
    const out = new Map();
    out.set("", entries[0] || "");
    this._channels.forEach((channel, i) => out.set(channel, entries[i + 1] || ""));
    return out;
  }

  _idFor(entries) {
    return [entries.get("") || "", ...this._channels.map((c) => entries.get(c) || "")].join(",");
  }

  // A new stream for a new list or token; it resumes every stream from the last event id.
  // Frames that reopen it before it greets are answered together by its greeting.
  _reopen(waiting) {
    if (waiting) this._waiting.push(waiting);
    this._refusing = null;
    if (this._es) this._es.close();
    this._open();
  }

  _down(code, reason) {
    if (this.readyState === CLOSED) return;
    this.close();
    if (this.onclose) this.onclose({ code, reason });
  }

  _deliver(frame) {
    this._deliverText(JSON.stringify(frame));
  }

  _deliverText(text) {
    // Later, as a socket's events come: never inside the caller's own call.
    queueMicrotask(() => {
      if (this.readyState !== CLOSED && this.onmessage) this.onmessage({ data: text });
    });
  }

  // ---- up: a frame POSTed, its answer handed over as the frame it is

  async _post(id, text) {
    const headers = { "Content-Type": "application/json" };
    if (this._token) headers.Authorization = "Bearer " + this._token;
    let answer;
    try {
      const res = await this._fetch(this._endpoint, {
        method: "POST",
        headers,
        body: text,
        credentials: this._withCredentials ? "include" : "same-origin",
      });
      const body = JSON.parse(await res.text());
      // A refusal before the frame was read (no token, a limit, the node's admission) says
      // nothing of the frame: it is the frame's answer all the same.
      answer = body.type ? { ...body, id } : { type: "error", id, code: body.error || "unavailable", message: body.message || `HTTP ${res.status}` };
    } catch (e) {
      answer = { type: "error", id, code: "unavailable", message: `POST /sse failed: ${e && e.message ? e.message : e}` };
    }
    this._deliver(answer);
  }
}
