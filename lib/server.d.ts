/// <reference types="node" />
// The Streamable HTTP MCP server (docs/api.md; the two eras: docs/protocol-eras.md). The MCP wire
// types it takes and returns are in lib/mcp.d.ts (2025-11-25 and 2026-07-28 schemas).

import type {
  CallToolResult,
  ClientCapabilities,
  CompleteReference,
  CompleteResult,
  CreateMessageRequestParams,
  CreateMessageResult,
  ElicitRequestParams,
  ElicitResult,
  GetPromptResult,
  Implementation,
  InputRequiredResult,
  InputResponse,
  ListRootsResult,
  LoggingLevel,
  MetaObject,
  PromptDefinition,
  ReadResourceResult,
  ResourceDefinition,
  ResourceTemplateDefinition,
  ToolDefinition,
} from './mcp'

export * from './mcp'

/** The verified principal of a request (docs/authorization.md). */
export interface AuthInfo {
  subject: string
  clientId?: string
  scopes: string[]
  /** Epoch seconds. */
  expiresAt?: number
  /** Must name the server's `resource` (RFC 8707). */
  audience?: string | string[]
  extra?: Record<string, unknown>
}

/** OAuth 2.1 resource server: exactly one of `verify` and `jwt`. */
export interface AuthOptions {
  /** Issuer URLs published in the protected resource metadata. */
  authorizationServers: string[]
  /** Canonical URI of this server. Default: http://<host>:<port><endpoint>. */
  resource?: string
  scopesSupported?: string[]
  /** Every request needs all of these (403 otherwise). */
  requiredScopes?: string[]
  resourceName?: string
  resourceDocumentation?: string
  /** JS verifier; `null` for an unknown token. Its answer is cached until `expiresAt`. */
  verify?: (token: string, request: { ip: string; userAgent?: string }) => Promise<AuthInfo | null> | AuthInfo | null
  /** JWT access tokens verified in Rust against a JWK Set. */
  jwt?: {
    issuer: string
    /** Accepted `aud` values. Default: `resource`. */
    audience?: string | string[]
    /** A static JWK Set. */
    jwks?: { keys: object[] }
    /** Fetched on first use and on an unknown `kid` (at most every 30 s). */
    jwksUri?: string
    /** Default: RS256/384/512, PS256/384/512, ES256, ES384, EdDSA. */
    algorithms?: string[]
    /** Default 0. */
    clockToleranceSeconds?: number
  }
}

/** How `ctx.request` rejects: an `Error` carrying a JSON-RPC error code and, when the client sent any, its data. */
export interface McpError extends Error {
  code: number
  data?: unknown
}

/** What a callback knows about the request it serves. */
export interface RequestContext {
  /** The tracked connection: the Mcp-Session-Id (legacy) or the monitor's client id (modern). */
  sessionId: string
  era: 'legacy' | 'modern'
  /** Negotiated (legacy) or sent in `_meta` (modern). */
  protocolVersion: string
  clientInfo?: Implementation
  clientCapabilities: ClientCapabilities
  /** On the retry of a request that returned an InputRequiredResult: the client's answers, under
   *  the keys of its `inputRequests`. */
  inputResponses?: { [key: string]: InputResponse }
  /** The state that result carried, verified by the server before the callback sees it. */
  requestState?: string
  requestId: string | number
  /** Aborted on notifications/cancelled, a closed modern response stream, timeout or session end. */
  readonly signal: AbortSignal
  /** notifications/progress on the request's stream; needs the request's progressToken. */
  sendProgress(progress: number, total?: number, message?: string): void
  /** notifications/message; honours logging/setLevel (legacy) or `_meta` logLevel (modern). */
  log(level: LoggingLevel, data: unknown, logger?: string): void
  /**
   * Legacy only: a server→client request on the request's stream, typed per method.
   * Rejects with an {@link McpError}: the client's own error (its `code`, `message`, `data`), or
   * -32000 when the session closed, -32001 when the client did not answer in time, -32603 when the
   * call already finished, the stream is gone, or in the modern era (return an InputRequiredResult
   * instead).
   */
  request(method: 'sampling/createMessage', params: CreateMessageRequestParams): Promise<CreateMessageResult>
  request(method: 'elicitation/create', params: ElicitRequestParams): Promise<ElicitResult>
  request(method: 'roots/list', params?: { _meta?: MetaObject }): Promise<ListRootsResult>
  /** End this request's SSE stream now; the client resumes with GET + Last-Event-ID (SEP-1699). */
  closeStream(): void
  /** The caller's verified principal when `auth` is on. */
  readonly auth?: Readonly<AuthInfo>
  /** The request headers named in `exposeHeaders` (lowercase names; never Authorization). */
  readonly headers?: Record<string, string>
  /** W3C `traceparent` from the request's `params._meta`, when valid: continue the client's trace with it. */
  traceparent?: string
  /** W3C `tracestate` from `params._meta`, when valid and a valid `traceparent` came with it. */
  tracestate?: string
}

/** The level of a core log record given to `logger`. */
export type CoreLogLevel = 'error' | 'warn' | 'info' | 'debug' | 'trace'


export interface StreamableServerOptions {
  /** Default 3322; 0 picks a free port. */
  port?: number
  /** Default '127.0.0.1'. */
  host?: string
  /** Default '/mcp'. */
  endpoint?: string
  /** Sent verbatim as `serverInfo` (2025) and `_meta` io.modelcontextprotocol/serverInfo (2026-07-28). */
  serverInfo?: Implementation
  instructions?: string
  /** Passed to clients verbatim. */
  tools?: ToolDefinition[]
  resources?: ResourceDefinition[]
  resourceTemplates?: ResourceTemplateDefinition[]
  prompts?: PromptDefinition[]
  callTool?: (call: { name: string; arguments: Record<string, unknown> }, ctx: RequestContext) => Promise<CallToolResult | InputRequiredResult> | CallToolResult | InputRequiredResult
  readResource?: (uri: string, ctx: RequestContext) => Promise<ReadResourceResult | InputRequiredResult> | ReadResourceResult | InputRequiredResult
  getPrompt?: (name: string, args: Record<string, string>, ctx: RequestContext) => Promise<GetPromptResult | InputRequiredResult> | GetPromptResult | InputRequiredResult
  complete?: (ref: CompleteReference, argument: { name: string; value: string }, ctx: RequestContext) => Promise<CompleteResult> | CompleteResult
  /** Answer POSTs with application/json instead of SSE. */
  enableJsonResponse?: boolean
  /** Resumability; bounded. Default { maxEventsPerSession: 1000, maxBytesPerSession: 4 MiB, ttlMs: 300000 }. A Last-Event-ID older than what is kept gets 410, never a partial replay. */
  eventStore?: { maxEventsPerSession?: number; maxBytesPerSession?: number; ttlMs?: number } | false
  /** Default: the listen host, localhost, 127.0.0.1, ::1. */
  allowedHosts?: string[]
  /** Origins compared by scheme, host and port. Default: http:// on an allowed host with the server's port. */
  allowedOrigins?: string[]
  /** Default 1000 active connections; more are refused with 503. */
  maxConnections?: number
  /** Default 1_800_000; expired sessions are closed and reported. */
  sessionIdleTimeoutMs?: number
  /** Default 4 MiB; larger bodies get 413. */
  maxBodyBytes?: number
  /** A JS callback that does not settle in time gives the client an error (-32001). Default 300_000; 0 turns the bound off. */
  callbackTimeoutMs?: number
  /** Names this server in stdout events. Default 'mcp-server'. */
  serverId?: string
  /** Write [MCP_CONNECTION] lines to stdout (child-process mode). */
  stdoutEvents?: boolean
  /** stats_update period, default 30_000, minimum 5_000. */
  statsIntervalMs?: number
  /** GET JSON stats (default path /internal/connections); needs the token when set. */
  internalStats?: { path?: string; token?: string } | boolean
  /** Eras served; both default true. */
  protocols?: { legacy?: boolean; modern?: boolean }
  /** A sessionless client counts as connected until this long after its last request. Default 300_000. */
  clientIdleTimeoutMs?: number
  /** Caching hints on 2026-07-28 discover, list and read results. Default { ttlMs: 0, scope: 'private' }. */
  cache?: { ttlMs?: number; scope?: 'public' | 'private' }
  /** How long a sealed requestState stays valid. Default 3_600_000. */
  requestStateTtlMs?: number
  /**
   * Keys (base64, at least 32 bytes each) sealing multi round-trip requestState: the first seals,
   * every key opens, so keys can rotate. Give every instance of a fleet the same list so a retry
   * may land on any of them. Default: one random key per process (single instance only).
   */
  requestStateKeys?: string[]
  /** Take the client IP from X-Forwarded-For (only behind a proxy you trust). Default false. */
  trustProxy?: boolean
  /** Period of SSE keep-alive comments on idle streams. Default 15_000. */
  keepAliveMs?: number
  /** Connections one client IP (after trustProxy) may hold; more get 429. Default 0: only maxConnections applies. */
  maxConnectionsPerClient?: number
  /** resources/subscribe URIs one session may hold. Default 100; more get -32602. */
  maxSubscriptionsPerSession?: number
  /** Longest URI a session subscribes to. Default 2048 bytes; longer gets -32602. */
  maxUriBytes?: number
  /** initialize capabilities + clientInfo name and version kept per session. Default 16384 bytes; more get 400 / -32602. */
  maxClientInfoBytes?: number
  /** Bytes an SSE response may have queued for a reader that does not keep up; past it the stream is closed (onConnectionRejected / stdout reason 'slow_consumer') and stays resumable. Default 1 MiB. */
  maxStreamBacklogBytes?: number
  /** Bytes all SSE responses of the process may have queued together for readers that do not keep up; when it is reached, a stream at least 64 KiB behind is closed like one past maxStreamBacklogBytes (a reader that keeps up is never closed for others). Default 16 MiB. */
  maxStreamBacklogBytesTotal?: number
  /** Bytes of large answers (64 KiB and more) the process may hold for their readers at once, from the callback's return until the answer is written. A large answer that would pass it is dropped and answered with -32000 (the callback is not retried). Default 32 MiB. */
  maxResponseBytesInFlight?: number
  /** Sockets open at once; over it the oldest idle or stalled socket is closed first. Default: the fd limit less a quarter (at least 32 spare). */
  maxSockets?: number
  /** A request body with no bytes for this long gets 408. Default 10_000. */
  requestBodyIdleTimeoutMs?: number
  /** A request body not complete after this long gets 408. Default 60_000. */
  requestBodyTimeoutMs?: number
  /** A peer that reads nothing of a response for this long is dropped. Default 10_000. */
  writeTimeoutMs?: number
  /** A keep-alive connection with no request in flight is closed after this long. Default 5_000. */
  keepAliveTimeoutMs?: number
  /** close() lets calls in flight finish for this long, then aborts them; idle connections close at once. Default 3_000. */
  shutdownGraceMs?: number
  /** Prometheus metrics (OpenMetrics text): `server.metrics()`, and served on the listener at `path` (default '/metrics') behind the internalStats token. */
  metrics?: boolean | { path?: string }
  /** Receives the core's diagnostics in batches (rate-limited, never blocking a request). `fields.target` names the Rust module. */
  logger?: (level: CoreLogLevel, message: string, fields: Record<string, string | number | boolean>) => void
  /** The most verbose level given to `logger`. Default 'info'. */
  logLevel?: CoreLogLevel | 'off'
  /**
   * Tool `arguments` checked against `inputSchema` before JS runs, and `structuredContent`
   * against `outputSchema` before the client sees it (JSON Schema 2020-12 by default). Both on
   * by default; `false` turns both off. See docs/validation.md.
   */
  validation?: boolean | { arguments?: boolean; results?: boolean }
  /** Require OAuth 2.1 bearer tokens (docs/authorization.md). */
  auth?: AuthOptions
  /** CORS for browser clients; without it no CORS headers are sent. */
  cors?: { origins: string[] | '*'; credentials?: boolean; maxAgeSeconds?: number }
  /** Request headers callbacks see as `ctx.headers` (Authorization and Cookie never). */
  exposeHeaders?: string[]
  /** Several instances on one Redis: a bus for list changes and one connection view (docs/deployment.md). */
  shared?: SharedOptions
}

export interface SharedOptions {
  /** `redis://host:port/db`, or `rediss://…` for TLS. */
  redisUrl: string
  /** Prefix of every key and channel; instances sharing it form one cluster. Default 'mcp'. */
  prefix?: string
  /** This instance's name in the cluster view. Default: random per process. */
  instanceId?: string
  /** Heartbeat period; an instance leaves the view 3 periods after its last beat. Default 2_000. */
  heartbeatIntervalMs?: number
  /** `rediss://` only: trust the CA certificates (PEM) in `caFile` instead of the bundled Mozilla roots; `insecure` accepts any certificate (tests only). */
  tls?: { caFile?: string; insecure?: boolean }
}

export interface ClusterInstance {
  instanceId: string
  startedAt: Date
  lastSeen: Date
  active: number
  total: number
  max: number
}

export interface ClusterConnectionInfo extends ConnectionInfo {
  /** The instance that holds the record (the latest active one for a client seen by several). */
  instanceId: string
}

export interface ClusterStats {
  instances: ClusterInstance[]
  /** Every client once: sessions by id, sessionless clients by IP, user agent, client name and version. */
  activeConnections: number
  /** Sum of the instances' totals. */
  totalConnections: number
  maxConnections: number
  connections: ClusterConnectionInfo[]
  lastUpdated: Date
  /** True when Redis could not be read: the view holds this instance alone, `error` says why. */
  degraded: boolean
  error?: string
}

export interface ConnectionInfo {
  sessionId: string
  era: 'legacy' | 'modern'
  clientIP: string
  userAgent: string
  connectedAt: Date
  lastActivity: Date
  requestCount: number
  clientName?: string
  clientVersion?: string
  protocolVersion?: string
  /** The authorized principal, when `auth` is on. */
  auth?: { subject: string; clientId?: string; scopes: string[] }
}

export interface ConnectionStats {
  /** Connections open now: 2025 sessions and active sessionless clients. */
  activeConnections: number
  /** Connections ever opened by this server. */
  totalConnections: number
  connections: ConnectionInfo[]
  /**
   * Open connections per authorized subject (`auth`, or handler mode's host-given principal), the
   * 100 subjects holding the most; absent when no open connection has a principal.
   */
  bySubject?: Record<string, number>
  /** The subjects past those 100 and their connections; absent when `bySubject` names every subject. */
  otherSubjects?: { subjects: number; connections: number }
  lastUpdated: Date
}

/** Why a connection ended (onConnectionClosed, the `disconnected` line's `reason`). */
export type CloseReason = 'deleted' | 'idle_timeout' | 'closed' | 'shutdown' | 'evicted' | 'instance_lost'

export interface ConnectionMonitor {
  onConnectionChange?: (stats: ConnectionStats) => void
  onConnectionEstablished?: (connection: ConnectionInfo) => void
  /** `reason` says why; `instance_lost` reports another instance's connection (the shared option) whose instance stopped heartbeating. */
  onConnectionClosed?: (sessionId: string, durationMs: number, reason: CloseReason) => void
  onConnectionRejected?: (info: { reason: string; clientIP: string; at: Date }) => void
}

export declare class StreamableMcpServer {
  readonly url: string
  readonly port: number
  getConnectionStats(): ConnectionStats
  getActiveConnections(): number
  getConnectionInfo(sessionId: string): ConnectionInfo | null
  /** notifications/tools/list_changed to legacy sessions and listen streams that asked for it. */
  setTools(tools: ToolDefinition[]): void
  setPrompts(prompts: PromptDefinition[]): void
  setResources(resources: ResourceDefinition[], templates?: ResourceTemplateDefinition[]): void
  /** notifications/resources/updated to each legacy session subscribed to uri and each listen stream naming it. */
  notifyResourceUpdated(uri: string): void
  closeSession(sessionId: string): Promise<boolean>
  /** OpenMetrics text of this server's metrics; rejects when the `metrics` option is off. */
  metrics(): Promise<string>
  /** Every instance sharing this one's Redis prefix; rejects when the shared option is not set. */
  getClusterStats(): Promise<ClusterStats>
  /** Drains, closes every session (onConnectionClosed each), frees every handle. */
  close(): Promise<void>
}

export declare function startStreamableMcpServer(opts: StreamableServerOptions, monitor?: ConnectionMonitor): Promise<StreamableMcpServer>
