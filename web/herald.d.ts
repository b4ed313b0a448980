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
}

interface MessageBase {
  type: "message";
  event?: string;
  data: unknown;
  /** Unix milliseconds at which herald-control accepted the publication. */
  ts: number;
}

export interface ChannelMessage extends MessageBase {
  channel: string;
  offset: number;
  epoch: string;
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
}

export interface SubscribeOptions {
  /** Start after this position (e.g. one stored across page loads). */
  since?: StreamPosition;
  onError?: (error: ErrorEvent) => void;
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
}

export declare function tokenExpiry(token: string): number;
export declare function reconnectDelay(
  attempt: number,
  minMs: number,
  maxMs: number,
  random?: () => number,
): number;
