// Types for herald.js, the Herald browser client (served by herald-node at /herald.d.ts).

export type ClientStateName = "idle" | "connecting" | "connected" | "reconnect_wait" | "closed";

export declare const ClientState: {
  readonly IDLE: "idle";
  readonly CONNECTING: "connecting";
  readonly CONNECTED: "connected";
  readonly RECONNECT_WAIT: "reconnect_wait";
  readonly CLOSED: "closed";
};

export interface StreamPosition {
  offset: number;
  epoch: string;
}

export interface HeraldClientOptions {
  /** JWT sent as `?token=` on connect. */
  token?: string;
  /** Called before connecting when there is no token or it was refused (close 4001/4002), and
   *  `tokenRefreshMarginS` before the token's `exp` (the new one is sent in `authenticate`). */
  getToken?: () => string | Promise<string>;
  /** Reconnect backoff: doubles from min to max, each delay drawn in [d/2, d]. 250 / 10000. */
  minReconnectDelayMs?: number;
  maxReconnectDelayMs?: number;
  /** Application ping interval and the wait for its answer before reconnecting. 25000 / 10000. */
  pingIntervalMs?: number;
  pongTimeoutMs?: number;
  /** Seconds before `exp` at which `getToken` is asked for a fresh token. 30. */
  tokenRefreshMarginS?: number;
  /** A WebSocket constructor, for runtimes without a global one. */
  WebSocket?: new (url: string) => WebSocket;
  /** Transports to use, the first tried first: a WebSocket that cannot open is followed by
   *  Server-Sent Events (GET /sse, publish and rpc as POST /sse). Default ["websocket", "sse"];
   *  ["websocket"] never falls back; ["sse"] never uses a WebSocket. */
  transports?: Array<"websocket" | "sse">;
  /** An EventSource constructor and a fetch function, for runtimes without global ones. */
  EventSource?: new (url: string, init?: { withCredentials?: boolean }) => EventSource;
  fetch?: typeof fetch;
  /** Send cookies (the herald_token cookie) to a node of another origin over SSE; the node
   *  must list this page's origin in allowed_origins. Same-origin requests always send them. */
  sseWithCredentials?: boolean;
}

interface MessageBase {
  type: "message";
  event?: string;
  /** The publisher's tags (what filters match on); absent when it set none. */
  tags?: Record<string, string>;
  data: unknown;
  /** Unix milliseconds at which herald-control accepted the publication. */
  ts: number;
}

/** Who sent a publication a client made with `publish()`. */
export interface Publisher {
  /** The sender's token subject; absent for an anonymous sender. */
  user?: string;
  /** The sending connection's `client` id (from its `connected` frame). */
  client: string;
}

export interface ChannelMessage extends MessageBase {
  channel: string;
  offset: number;
  epoch: string;
  /** Present only on publications a client sent with `publish()`. */
  publisher?: Publisher;
  /** Only on a filtered or conflated subscription: the offset of the publication sent to it
   *  before this one (0: unknown). Offsets between `prev` and `offset` were filtered out or
   *  conflated, not lost. */
  prev?: number;
  /** Only on a conflated subscription: how many publications this one replaced (they are the
   *  offsets between `prev` and `offset`, filtered ones aside). */
  conflated?: number;
}

export interface PersonalMessage extends MessageBase {
  user: string;
  offset: number;
  epoch: string;
}

export interface BroadcastMessage extends MessageBase {
  broadcast: true;
}

export type Message = ChannelMessage | PersonalMessage | BroadcastMessage;

export interface ConnectedEvent {
  client: string;
  node: string;
  user: string;
  /** False for the first connection, true after a reconnect. */
  reconnected: boolean;
  /** How this connection came: "websocket", or "sse" (the Server-Sent Events fallback). */
  transport: "websocket" | "sse";
}

export interface DisconnectedEvent {
  /** WebSocket close code (1006: no close frame; 4000: the client's ping got no answer). */
  code: number;
  reason: string;
  willReconnect: boolean;
  /** Wait before the next attempt. */
  delayMs: number;
}

export interface ErrorEvent {
  /** A node error code (docs/protocol.md#error-codes) or a client one: token_unavailable,
   *  connect_failed, bad_frame, unauthorized. */
  code: string;
  message: string;
  /** The channel whose subscribe was refused, if any. */
  channel?: string;
  /** A refusal by the application's backend (docs/hooks.md): its own code and message. */
  backend?: { code: string; message: string };
  /** The channel the node refused, when a frame of several was refused for one of them. */
  refusedChannel?: string;
  /** True when the client stopped for good (a refused token and no getToken). */
  fatal?: boolean;
}

export interface GapEvent {
  channel?: string;
  user?: string;
  /** The offsets that will never be delivered, inclusive, in `epoch`. */
  fromOffset: number;
  toOffset: number;
  epoch: string;
  /** not_in_history, timeout, unavailable (from the node's `recovery` frame), skipped (a jump
   *  in live offsets, e.g. dropped for a slow reader) or epoch_changed. */
  reason: string;
}

export interface RecoveredEvent {
  channel?: string;
  user?: string;
  /** Messages delivered from history before live ones resumed. */
  missed: number;
  offset: number;
  epoch: string;
}

/** Connections that subscribed to (`join`) or left (`leave`) a channel of a namespace with
 *  `join_leave`, within about 100 ms (docs/protocol.md "join and leave"). */
export interface JoinLeaveEvent {
  channel: string;
  /** The node whose connections these are (each report comes from one node). */
  node: string;
  /** Key your member list by `client`: a user may hold several connections. */
  clients: { client: string; user: string }[];
  /** How many more joined (or left) than are listed: under churn, lists are capped. */
  unlisted: number;
  /** `leave` only: the node is gone and every connection it had on the channel left
   *  (`clients` is empty). Drop that node's members; keep counts per node to drop its count. */
  all: boolean;
}

export interface EventMap {
  connected: ConnectedEvent;
  disconnected: DisconnectedEvent;
  error: ErrorEvent;
  message: Message;
  personal: PersonalMessage;
  broadcast: BroadcastMessage;
  recovered: RecoveredEvent;
  gap: GapEvent;
  state: { state: ClientStateName };
  /** The server's Subscribe added `channel` to this connection (its messages reach `message`). */
  serverSubscribed: { channel: string };
  /** The server's Unsubscribe removed it. */
  serverUnsubscribed: { channel: string };
  join: JoinLeaveEvent;
  leave: JoinLeaveEvent;
}

/** A filter over publication tags (docs/protocol.md "Tags and filters"). */
export type TagFilter =
  | { and: TagFilter[] }
  | { or: TagFilter[] }
  | { not: TagFilter }
  | ({ key: string } & (
      | { eq: string }
      | { ne: string }
      | { in: string[] }
      | { nin: string[] }
      | { exists: boolean }
      | { gt: string | number }
      | { gte: string | number }
      | { lt: string | number }
      | { lte: string | number }
      | { starts_with: string }
      | { ends_with: string }
      | { contains: string }
    ));

export interface SubscribeOptions {
  /** Start after this position (e.g. one stored across page loads). */
  since?: StreamPosition;
  /** Only publications whose tags match reach this subscription. Set when the channel is first
   *  subscribed; to change it, unsubscribe the channel first (subscribing again with another
   *  filter throws a TypeError). */
  filter?: TagFilter;
  /** At most one message per this many milliseconds, the latest (at least the namespace's
   *  `conflate_ms`; at most 60000). Fixed like `filter`. */
  conflateMs?: number;
  onError?: (error: ErrorEvent) => void;
  /** The node confirmed the subscription (again after each reconnect); `info` is what the
   *  backend's subscribe hook gave for the channel, if anything. */
  onSubscribed?: (event: { channel: string; info?: unknown }) => void;
  /** Connections joining / leaving this channel (namespaces with `join_leave`). */
  onJoin?: (event: JoinLeaveEvent) => void;
  onLeave?: (event: JoinLeaveEvent) => void;
}

export interface PublishOptions {
  /** Event name: at most 128 of `A-Z a-z 0-9 _ - . :`. */
  event?: string;
  /** At most 32 tags (keys 1..64 of `A-Z a-z 0-9 _ - . :`, values up to 256 bytes): what
   *  subscribers' filters match on. */
  tags?: Record<string, string>;
  /** At most 256 bytes. A publish with a key the same user already used on this channel is not
   *  published again (the result has `duplicate: true` and the earlier offset). Default: a new
   *  random key per call; pass your own to retry the same logical publication safely. */
  idempotencyKey?: string;
  /** Wait for the answer before rejecting with code `timeout`. 10000. */
  timeoutMs?: number;
}

export interface PublishResult {
  /** Where the publication landed in the channel (the earlier one when `duplicate`). */
  offset: number;
  epoch: string;
  /** True when the idempotency key matched an earlier publish: nothing was published again. */
  duplicate: boolean;
}

/** What `publish()` rejects with. */
export interface PublishError extends Error {
  /** A node error code (permission_denied, bad_request, unavailable, rate_limited,
   *  limit_exceeded, ...), or `timeout` or `disconnected` from the client. After
   *  `unavailable`, `timeout` or `disconnected` the publication may or may not have happened:
   *  retry with the same idempotency key. */
  code: string;
  /** The key that was sent (or would have been), for a retry. */
  idempotencyKey: string;
}

/** What `rpc()` rejects with. */
export interface RpcError extends Error {
  /** The backend's own code when `backend` is true (e.g. "not_yours"); else the node's
   *  (not_found: no rpc hook, unavailable: the backend failed or was too slow,
   *  limit_exceeded, bad_request, rate_limited) or `timeout` / `disconnected`. */
  code: string;
  backend: boolean;
}

export interface SubscriptionHandle {
  readonly channel: string;
  /** Removes this handler; the last one removed unsubscribes the channel. */
  unsubscribe(): void;
  position(): StreamPosition | null;
}

export declare class HeraldClient {
  constructor(url: string, options?: HeraldClientOptions);
  readonly url: string;
  readonly state: ClientStateName;
  readonly reconnects: number;
  /** "websocket" or "sse": the transport of the current (or next) connection. */
  readonly transport: "websocket" | "sse";
  /** The last `connected` frame from the node. */
  readonly session: Record<string, unknown> | null;
  on<K extends keyof EventMap>(event: K, handler: (detail: EventMap[K]) => void): () => void;
  off<K extends keyof EventMap>(event: K, handler: (detail: EventMap[K]) => void): void;
  connect(): void;
  close(): void;
  subscribe(
    channel: string,
    onMessage?: (message: ChannelMessage) => void,
    options?: SubscribeOptions,
  ): SubscriptionHandle;
  unsubscribe(channel: string): void;
  position(channel: string): StreamPosition | null;
  userPosition(): StreamPosition | null;
  ping(): Promise<number>;
  /** Publishes `data` (any JSON value) to `channel`; rejects with a `PublishError`. Needs a
   *  connection (no queueing across reconnects) and a namespace with allow_client_publish. */
  publish(channel: string, data: unknown, options?: PublishOptions): Promise<PublishResult>;
  /** Asks the backend through the server's rpc hook (docs/hooks.md); resolves with its
   *  answer's data, rejects with an `RpcError`. Never retried. */
  rpc(method: string, data?: unknown, options?: { timeoutMs?: number }): Promise<unknown>;
}

export declare function tokenExpiry(token: string): number;
export declare function reconnectDelay(
  attempt: number,
  minMs: number,
  maxMs: number,
  random?: () => number,
): number;
