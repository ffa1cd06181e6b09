import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common'
import { EventEmitter2 } from '@nestjs/event-emitter'
import {
  startStreamableMcpServer,
  type ConnectionInfo,
  type ConnectionMonitor,
  type ConnectionStats,
  type CoreLogLevel,
  type StreamableMcpServer,
  type ToolDefinition,
} from 'mcp-swagger-native'
import { executeOperation, openApiToTools, type OperationPlan } from '../openapi/openapi-to-tools'
import { MCP_EVENTS, type MCPHealth, type MCPServerConfig, type MCPServerStatus } from './mcp.types'
import { mcpAuthOption } from './mcp-auth.config'

function emptyStats(): ConnectionStats {
  return { activeConnections: 0, totalConnections: 0, connections: [], lastUpdated: new Date() }
}

/**
 * In-process mode: one MCP server inside the API process, run by the native addon. Its tools come
 * from an OpenAPI document; a tool call makes the real HTTP request to the API the document
 * describes. Monitor callbacks are forwarded to the Nest event bus (MCP_EVENTS).
 */
@Injectable()
export class MCPService implements OnApplicationShutdown {
  private readonly logger = new Logger(MCPService.name)
  /** the native core's own diagnostics, under their Rust module as the context */
  private readonly coreLogger = new Logger('mcp-swagger-native')
  private server: StreamableMcpServer | null = null
  private starting: Promise<StreamableMcpServer> | null = null
  private tools: ToolDefinition[] = []
  private operations: Record<string, OperationPlan> = {}
  private apiBaseUrl = ''
  private doc: Record<string, any> | null = null
  private source?: MCPServerStatus['source']
  private config: MCPServerConfig = { port: 0, host: '127.0.0.1', endpoint: '/mcp', transport: 'streamable' }
  /** last stats a monitor callback delivered, served while no server runs */
  private connectionStats: ConnectionStats = emptyStats()

  constructor(private readonly eventEmitter: EventEmitter2) {}

  /** Load tools from an OpenAPI document; calls go to `apiBaseUrl` (the document's servers[0] is resolved against it). */
  createFromOpenAPI(doc: Record<string, any>, apiBaseUrl: string): ToolDefinition[] {
    const { tools, operations } = openApiToTools(doc)
    this.doc = doc
    this.tools = tools
    this.operations = operations
    this.apiBaseUrl = apiBaseUrl
    this.source = { title: String(doc.info?.title ?? ''), version: String(doc.info?.version ?? ''), apiBaseUrl }
    this.logger.log(`loaded ${tools.length} tools from "${this.source.title}": ${tools.map((t) => t.name).join(', ')}`)
    return tools
  }

  /** Start the native MCP server (port 0 picks a free port). Resolves with its URL. */
  async start(config: Partial<MCPServerConfig> = {}): Promise<string> {
    if (this.server) return this.server.url
    if (this.starting) return (await this.starting).url
    this.config = { ...this.config, ...config, transport: 'streamable' }
    this.starting = startStreamableMcpServer(
      {
        port: this.config.port,
        host: this.config.host,
        endpoint: this.config.endpoint,
        serverInfo: { name: 'mcp-swagger-nestjs-host', version: '0.1.0', title: this.source?.title },
        instructions: this.source ? `Tools for the ${this.source.title} API (${this.source.version}).` : undefined,
        tools: this.tools,
        callTool: (call, ctx) => this.callTool(call.name, call.arguments as Record<string, unknown>, ctx.signal),
        metrics: true,
        // OAuth 2.1 bearer tokens when MCP_AUTH_ISSUER is set (mcp-auth.config.ts, README › Authorization).
        ...mcpAuthOption(),
        logLevel: 'info',
        logger: (level, message, fields) => this.logCore(level, message, fields),
      },
      this.createConnectionMonitor(),
    )
    try {
      this.server = await this.starting
    } finally {
      this.starting = null
    }
    this.connectionStats = this.server.getConnectionStats()
    this.logger.log(`MCP server listening at ${this.server.url}`)
    return this.server.url
  }

  /** Stop the server; every open session is closed (and reported) first. */
  async stop(): Promise<void> {
    const s = this.server ?? (this.starting ? await this.starting.catch(() => null) : null)
    this.server = null
    if (!s) return
    await s.close()
    this.logger.log('MCP server stopped')
  }

  async onApplicationShutdown(): Promise<void> {
    await this.stop()
  }

  /**
   * Rebuild the tools from an OpenAPI document (by default the one loaded last), optionally keeping
   * only the named tools; connected clients get notifications/tools/list_changed.
   */
  reloadTools(opts: { doc?: Record<string, any>; apiBaseUrl?: string; only?: string[] } = {}): ToolDefinition[] {
    const doc = opts.doc ?? this.doc
    if (!doc) throw new Error('no OpenAPI document loaded')
    let tools = this.createFromOpenAPI(doc, opts.apiBaseUrl ?? this.apiBaseUrl)
    if (opts.only) {
      const keep = new Set(opts.only)
      tools = tools.filter((t) => keep.has(t.name))
      this.tools = tools
    }
    this.server?.setTools(tools)
    return tools
  }

  /** The same, with a tool list already made (e.g. a subset). */
  setTools(tools: ToolDefinition[]): void {
    this.tools = tools
    this.server?.setTools(tools)
  }

  getTools(): ToolDefinition[] {
    return this.tools
  }

  get url(): string | undefined {
    return this.server?.url
  }

  isRunning(): boolean {
    return this.server !== null
  }

  async callTool(name: string, args: Record<string, unknown>, signal?: AbortSignal) {
    const plan = this.operations[name]
    if (!plan) return { isError: true, content: [{ type: 'text' as const, text: `Unknown tool: ${name}` }] }
    return executeOperation(plan, args ?? {}, this.apiBaseUrl, { signal })
  }

  /** Prometheus metrics (OpenMetrics text) of the running server, or null when none runs. */
  async metrics(): Promise<string | null> {
    return this.server ? this.server.metrics() : null
  }

  /** Core log records through Nest's Logger: level mapped to its method, module as the context. */
  private logCore(level: CoreLogLevel, message: string, fields: Record<string, string | number | boolean>): void {
    const { target, ...rest } = fields
    const text = Object.keys(rest).length ? `${message} ${JSON.stringify(rest)}` : message
    const context = typeof target === 'string' ? target : 'mcp-swagger-native'
    switch (level) {
      case 'error':
        return this.coreLogger.error(text, undefined, context)
      case 'warn':
        return this.coreLogger.warn(text, context)
      case 'info':
        return this.coreLogger.log(text, context)
      case 'debug':
        return this.coreLogger.debug(text, context)
      default:
        return this.coreLogger.verbose(text, context)
    }
  }

  getConnectionStats(): ConnectionStats {
    return this.server ? this.server.getConnectionStats() : this.connectionStats
  }

  getActiveConnectionCount(): number {
    return this.server ? this.server.getActiveConnections() : this.connectionStats.activeConnections
  }

  getConnectionInfo(sessionId: string): ConnectionInfo | null {
    return this.server ? this.server.getConnectionInfo(sessionId) : null
  }

  async closeSession(sessionId: string): Promise<boolean> {
    return this.server ? this.server.closeSession(sessionId) : false
  }

  getServerStatus(): MCPServerStatus {
    const stats = this.getConnectionStats()
    return {
      isRunning: this.isRunning(),
      toolsCount: this.tools.length,
      endpoint: this.server?.url,
      tools: this.tools.map((t) => ({ name: t.name, description: t.description, inputSchema: t.inputSchema })),
      config: { ...this.config, port: this.server?.port ?? this.config.port },
      source: this.source,
      connections: { active: stats.activeConnections, total: stats.totalConnections, details: stats.connections },
    }
  }

  healthCheck(): MCPHealth {
    const stats = this.getConnectionStats()
    return {
      healthy: this.isRunning() && this.tools.length > 0,
      serverRunning: this.isRunning(),
      toolsCount: this.tools.length,
      endpoint: this.server?.url,
      connections: { active: stats.activeConnections, total: stats.totalConnections },
      lastCheck: new Date(),
    }
  }

  private createConnectionMonitor(): ConnectionMonitor {
    return {
      onConnectionChange: (stats) => {
        this.connectionStats = stats
        this.eventEmitter.emit(MCP_EVENTS.connectionsUpdated, stats)
      },
      onConnectionEstablished: (connection) => {
        this.logger.log(`MCP client connected: ${connection.sessionId} from ${connection.clientIP} (${connection.userAgent})`)
        this.eventEmitter.emit(MCP_EVENTS.connectionEstablished, connection)
      },
      onConnectionClosed: (sessionId, duration) => {
        this.logger.log(`MCP client disconnected: ${sessionId} after ${Math.round(duration / 1000)}s`)
        this.eventEmitter.emit(MCP_EVENTS.connectionClosed, { sessionId, duration })
      },
      onConnectionRejected: (info) => {
        this.logger.warn(`MCP connection rejected from ${info.clientIP}: ${info.reason}`)
      },
    }
  }
}
