/// <reference types="node" />
// The [MCP_CONNECTION] stdout event protocol, parent side (docs/api.md; docs/monitoring.md, "The [MCP_CONNECTION] line").

/** Why a connection ended; `evicted` and `instance_lost` (another instance of a fleet stopped heartbeating; docs/deployment.md) come from this package's servers. */
export type DisconnectReason = 'deleted' | 'idle_timeout' | 'closed' | 'shutdown' | 'evicted' | 'instance_lost'

/** `clientInfo` of an event; times are ISO-8601 strings, as on the wire. */
export interface ConnectionEventClientInfo {
  /** Always present on events read by this package: a line that spells it `sessionId` (upstream
   *  mcp-swagger-server's writer) gets `id` copied from it. */
  id: string
  /** Upstream mcp-swagger-server's spelling of `id`, kept as written. */
  sessionId?: string
  remoteAddress?: string
  userAgent?: string
  connectedAt: string
  era?: 'legacy' | 'modern'
  clientName?: string
  clientVersion?: string
  /** the authorized principal, when the server requires authorization */
  subject?: string
  /** the OAuth client the token was issued to */
  clientId?: string
}

/** `connectionStats` of an event: the writing server's own counts. */
export interface ConnectionEventCounts {
  totalConnections: number
  activeConnections: number
  /** absent in the seed's older shape */
  maxConnections?: number
}

interface ConnectionEventBase {
  type: 'MCP_CONNECTION_EVENT'
  /** absent in the seed's older shape */
  serverId?: string
  connectionStats: ConnectionEventCounts
  /** ISO-8601 */
  timestamp: string
}

/** One `[MCP_CONNECTION]` line's JSON object (docs/monitoring.md, "The [MCP_CONNECTION] line"), a union on `eventType`. */
export type ConnectionEvent =
  | (ConnectionEventBase & { eventType: 'connected'; clientInfo: ConnectionEventClientInfo })
  | (ConnectionEventBase & {
      eventType: 'disconnected'
      clientInfo: ConnectionEventClientInfo
      /** always written by this package; absent in the seed's older shape */
      durationMs?: number
      /** one of DisconnectReason; other strings from newer writers are accepted */
      reason?: DisconnectReason | (string & {})
    })
  | (ConnectionEventBase & { eventType: 'stats_update' })
  | (ConnectionEventBase & { eventType: 'connection_rejected'; reason: string; clientInfo?: ConnectionEventClientInfo })

/** One line out of `push`/`end`, in stream order. `line` is the text without its line ending. */
export type OutputLine =
  | { type: 'event'; serverId: string; line: string; event: ConnectionEvent }
  | { type: 'log'; serverId: string; line: string }
  /** a malformed event line, or a line over `maxLineBytes`; `line` is a short excerpt */
  | { type: 'parse_error'; serverId: string; line: string; error: string }

/** What the hub knows about one server, from its events. */
export interface ServerConnectionStats {
  serverId: string
  /** the server's own counts from its latest event */
  activeConnections: number
  totalConnections: number
  maxConnections?: number
  /** connected clients (from connected/disconnected events), oldest first */
  connections: {
    id: string
    remoteAddress?: string
    userAgent?: string
    connectedAt: Date
    era?: 'legacy' | 'modern'
    clientName?: string
    clientVersion?: string
    subject?: string
    clientId?: string
  }[]
  lastEventType?: string
  /** the latest event's `timestamp` */
  lastEventAt?: Date
  eventCount: number
  parseErrorCount: number
  /** quiet mode only (present once `pushQuiet`/`endQuiet` was used for the server): events
   *  queued for `drainEvents()` */
  pendingEvents?: number
  /** quiet mode only: events dropped (oldest first) because the queue was full, in total */
  droppedEvents?: number
}

/** One event taken from the quiet-mode queue by `drainEvents()`. */
export interface QueuedConnectionEvent {
  /** the server whose stdout held the event (the id given to `pushQuiet`) */
  serverId: string
  event: ConnectionEvent
}

export interface ConnectionEventHubOptions {
  /** longest line kept, in bytes (default 1 MiB); a longer line is cut, reported once as a
   *  parse_error, and skipped up to the next newline */
  maxLineBytes?: number
  /** `onParseErrorThreshold` fires once per server, when its parse-error count first exceeds
   *  this (default 10) */
  errorThreshold?: number
  /** called for each event, in order, synchronously within push()/end(); stats already include
   *  the whole chunk. A throwing callback does not lose lines: the error is rethrown in a microtask. */
  onEvent?: (serverId: string, e: ConnectionEvent) => void
  onParseErrorThreshold?: (serverId: string, count: number) => void
  /** quiet mode: events kept per server for `drainEvents()` (default 1024; 0 keeps none, the
   *  stats still count every event). When a server's queue is full its oldest event is dropped
   *  and counted (`getStats().droppedEvents`). Each queued event holds its JSON text natively
   *  (a few hundred bytes; at most `maxLineBytes`) */
  eventCapacity?: number
  /** quiet mode: called after a `pushQuiet`/`endQuiet` that made a full queue drop events, with
   *  how many it dropped. Without it, the hub emits one process warning per server
   *  (code `MCP_CONNECTION_EVENTS_DROPPED`) */
  onEventsDropped?: (serverId: string, dropped: number) => void
  /** coalesced quiet mode: receives, in order, the lines `writeQuiet` would have returned (the
   *  lines that are not valid events), a batch at a time, when what was written is pushed.
   *  Without it those lines are dropped (the stats and the event queue still get everything).
   *  A throwing callback does not lose lines: the error is rethrown in a microtask. */
  onLines?: (serverId: string, lines: string[]) => void
  /** coalesced quiet mode: bytes `writeQuiet` buffers per server before it pushes them
   *  (default 65536, 1 to 2^30); the buffer is allocated on the server's first write and kept
   *  until `remove` */
  coalesceBytes?: number
}

/**
 * Reads the stdout of many MCP server processes. Lines split on `\n` (a `\r` before it is
 * dropped); an unterminated tail is kept per server, so events split across chunks (and UTF-8
 * characters split across Buffers) are reassembled. Invalid UTF-8 is replaced with U+FFFD.
 */
export declare class ConnectionEventHub {
  constructor(opts?: ConnectionEventHubOptions)
  /** event lines parsed; other lines returned as log lines, in order */
  push(serverId: string, chunk: Buffer | Uint8Array | string): OutputLine[]
  /** flush a final unterminated line (stats are kept) */
  end(serverId: string): OutputLine[]
  /**
   * Quiet mode, for hosts that want the stats and the log lines but not an object per event
   * (about twice as fast as `push` on a busy stream, see the README's benchmark). The chunk is
   * split, validated and counted natively exactly as by `push` (same stats, same parse-error
   * count, same `onParseErrorThreshold`); what comes back is only the lines that are not valid
   * events, in order: log lines, and malformed event lines as they were (a line over
   * `maxLineBytes` as its first 160 characters and `…`). Valid events go to the server's queue
   * (at most `eventCapacity`) for `drainEvents()`; `onEvent` is not called for them.
   *
   * @example
   * ```js
   * const { spawn } = require('node:child_process')
   * const { ConnectionEventHub } = require('mcp-swagger-native')
   *
   * const hub = new ConnectionEventHub({
   *   eventCapacity: 4096,
   *   onEventsDropped: (id, n) => console.warn(`${id}: ${n} events dropped (drain more often)`),
   * })
   * const child = spawn(process.execPath, ['-e', `
   *   console.log('starting')
   *   console.log('[MCP_CONNECTION] ' + JSON.stringify({ type: 'MCP_CONNECTION_EVENT',
   *     eventType: 'stats_update', serverId: 'pets', timestamp: new Date().toISOString(),
   *     connectionStats: { totalConnections: 3, activeConnections: 1 } }))`])
   * child.stdout.on('data', (chunk) => {
   *   for (const line of hub.pushQuiet('pets', chunk)) console.log(`[pets] ${line}`) // "[pets] starting"
   * })
   * child.on('close', () => {
   *   hub.endQuiet('pets')
   *   console.log(hub.getStats('pets').activeConnections) // 1
   *   for (const { serverId, event } of hub.drainEvents()) console.log(serverId, event.eventType) // pets stats_update
   *   hub.remove('pets')
   * })
   * ```
   */
  pushQuiet(serverId: string, chunk: Buffer | Uint8Array | string): string[]
  /** quiet mode's `end`: handles a final unterminated line, returns it if it is not an event */
  endQuiet(serverId: string): string[]
  /**
   * Coalesced quiet mode, for streams that arrive in many small chunks: a call into the addon
   * costs about a microsecond whatever the chunk's size, so the chunk is copied into a buffer
   * per server (the caller may reuse its own at once) and the buffer is pushed as by
   * `pushQuiet` when it holds `coalesceBytes`, at the end of the current event-loop turn
   * (`setImmediate`), or before anything reads or feeds that server: `getStats`, `getAllStats`,
   * `parseErrors`, `drainEvents`, `push`, `pushQuiet`, `end`, `endQuiet`, `remove` and `flush`
   * push what was written first, so no read ever sees stale state and the stream's order is
   * kept. The lines come to `onLines`. Cuts anywhere (inside a line or a UTF-8 character) are
   * reassembled as by `pushQuiet`. End the stream with `endQuiet` (it returns the last,
   * unterminated line; the lines before it go to `onLines` first).
   *
   * @example
   * ```js
   * const { spawn } = require('node:child_process')
   * const { ConnectionEventHub } = require('mcp-swagger-native')
   *
   * const hub = new ConnectionEventHub({
   *   eventCapacity: 0, // stats only: no event objects are queued
   *   onLines: (id, lines) => { for (const line of lines) console.log(`[${id}] ${line}`) }, // "[pets] starting"
   * })
   * const child = spawn(process.execPath, ['-e', `
   *   console.log('starting')
   *   console.log('[MCP_CONNECTION] ' + JSON.stringify({ type: 'MCP_CONNECTION_EVENT',
   *     eventType: 'stats_update', serverId: 'pets', timestamp: new Date().toISOString(),
   *     connectionStats: { totalConnections: 3, activeConnections: 1 } }))`])
   * child.stdout.on('data', (chunk) => hub.writeQuiet('pets', chunk))
   * child.on('close', () => {
   *   for (const line of hub.endQuiet('pets')) console.log(`[pets] ${line}`)
   *   console.log(hub.getStats('pets').activeConnections) // 1
   *   hub.remove('pets')
   * })
   * ```
   */
  writeQuiet(serverId: string, chunk: Buffer | Uint8Array | string): void
  /** pushes what `writeQuiet` buffered, of one server or of all (its lines go to `onLines`) */
  flush(serverId?: string): void
  /**
   * Takes queued quiet-mode events, oldest first: of one server, or of every server (server by
   * server, in the order first seen) when `serverId` is undefined; at most `max` (default all).
   */
  drainEvents(serverId?: string, max?: number): QueuedConnectionEvent[]
  /** null for a server never pushed (or removed) */
  getStats(serverId: string): ServerConnectionStats | null
  /** every known server, in the order first seen */
  getAllStats(): ServerConnectionStats[]
  parseErrors(serverId: string): number
  /** forget a stopped server */
  remove(serverId: string): void
}

/** Thrown by parseConnectionEventLine on a malformed event line. */
export declare class ConnectionEventParseError extends Error {
  readonly code: 'MCP_CONNECTION_PARSE_ERROR'
  /** a short excerpt of the line */
  readonly line: string
}

/** null for a non-event line; throws ConnectionEventParseError on a malformed event line.
 *  One trailing '\n' or '\r\n' is ignored. */
export declare function parseConnectionEventLine(line: string): ConnectionEvent | null

/** The exact line a child writes (`[MCP_CONNECTION] {json}\n`), as the native writer formats it;
 *  a `Date` in `timestamp`/`connectedAt` is written as its ISO string. Throws a TypeError for an
 *  object that is not a valid event. */
export declare function formatConnectionEvent(e: ConnectionEvent): string
