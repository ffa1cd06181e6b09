import { Injectable, Logger } from '@nestjs/common'
import type { ConnectionInfo, ConnectionStats, ToolDefinition } from 'mcp-swagger-native'
import { McpNativeService } from 'mcp-swagger-native/nestjs'
import { HostConfig } from '../host-config'
import { executeOperation, openApiSourceToTools, openApiToTools, type Credentials, type OperationPlan } from '../openapi/openapi-to-tools'
import type { MCPHealth, MCPServerStatus } from './mcp.types'

/**
 * The in-process MCP server's OpenAPI side and its REST view. The server itself is
 * McpNativeModule's (mounted on this app's HTTP server, at /api/mcp); this service turns an
 * OpenAPI document into tools registered on it, each answered by the real HTTP request to the API
 * the document describes, beside the decorated @McpTool methods the module discovers.
 */
@Injectable()
export class MCPService {
  private readonly logger = new Logger(MCPService.name)
  /** the bundled document (all $refs local) the tools were made from */
  private doc: Record<string, any> | null = null
  private operations: Record<string, OperationPlan> = {}
  private apiBaseUrl = ''
  private credentials: Credentials = {}
  private source?: MCPServerStatus['source']

  constructor(
    private readonly mcp: McpNativeService,
    private readonly hostConfig: HostConfig,
  ) {}

  /**
   * Load an OpenAPI 3 or Swagger 2.0 document (an object, a file path or a URL; external and
   * remote $refs are resolved) and register its operations as tools. Calls go to `apiBaseUrl`
   * (the document's server URL is resolved against it) with `credentials` for its security schemes.
   */
  async loadOpenApi(source: string | Record<string, any>, apiBaseUrl: string, opts: { credentials?: Credentials } = {}): Promise<ToolDefinition[]> {
    const { doc } = await openApiSourceToTools(source)
    this.doc = doc
    this.apiBaseUrl = apiBaseUrl
    this.credentials = opts.credentials ?? {}
    return this.reloadTools()
  }

  /**
   * Rebuild the tools from the loaded document, optionally keeping only the named ones; the
   * decorated tools stay. Connected clients get one notifications/tools/list_changed.
   */
  reloadTools(opts: { only?: string[] } = {}): ToolDefinition[] {
    if (!this.doc) throw new Error('no OpenAPI document loaded')
    const { tools, operations } = openApiToTools(this.doc)
    const keep = opts.only ? new Set(opts.only) : null
    const chosen = keep ? tools.filter((t) => keep.has(t.name)) : tools
    const previous = Object.keys(this.operations)
    this.operations = Object.fromEntries(chosen.map((t) => [t.name, operations[t.name]]))
    this.mcp.registerTools(
      chosen.map((definition) => ({
        definition,
        handler: (args: Record<string, unknown>, ctx: { signal?: AbortSignal }) =>
          executeOperation(this.operations[definition.name], args ?? {}, this.apiBaseUrl, { signal: ctx.signal, credentials: this.credentials }),
      })),
      { remove: previous },
    )
    this.source = { title: String(this.doc.info?.title ?? ''), version: String(this.doc.info?.version ?? ''), apiBaseUrl: this.apiBaseUrl }
    this.logger.log(`${chosen.length} tools from "${this.source.title}": ${chosen.map((t) => t.name).join(', ')}`)
    return this.getTools()
  }

  /** Every tool the server lists: decorated ones first, then the OpenAPI ones. */
  getTools(): ToolDefinition[] {
    return this.mcp.getTools()
  }

  get url(): string {
    return this.hostConfig.mcpUrl
  }

  isRunning(): boolean {
    return this.mcp.state === 'running'
  }

  /** Prometheus metrics (OpenMetrics text) of the running server, or null when none runs. */
  async metrics(): Promise<string | null> {
    return this.isRunning() ? this.mcp.metrics() : null
  }

  getConnectionStats(): ConnectionStats {
    if (this.isRunning()) return this.mcp.getConnectionStats()
    return { activeConnections: 0, totalConnections: 0, connections: [], lastUpdated: new Date() }
  }

  getActiveConnectionCount(): number {
    return this.getConnectionStats().activeConnections
  }

  getConnectionInfo(sessionId: string): ConnectionInfo | null {
    return this.isRunning() ? this.mcp.getConnectionInfo(sessionId) : null
  }

  async closeSession(sessionId: string): Promise<boolean> {
    return this.isRunning() ? this.mcp.closeSession(sessionId) : false
  }

  getServerStatus(): MCPServerStatus {
    const stats = this.getConnectionStats()
    const tools = this.getTools()
    return {
      isRunning: this.isRunning(),
      toolsCount: tools.length,
      endpoint: this.url,
      tools: tools.map((t) => ({ name: t.name, description: t.description, inputSchema: t.inputSchema })),
      config: { mount: 'app', path: new URL(this.url).pathname, transport: 'streamable' },
      source: this.source,
      connections: { active: stats.activeConnections, total: stats.totalConnections, details: stats.connections },
    }
  }

  healthCheck(): MCPHealth {
    const stats = this.getConnectionStats()
    const toolsCount = this.getTools().length
    return {
      healthy: this.isRunning() && toolsCount > 0,
      serverRunning: this.isRunning(),
      toolsCount,
      endpoint: this.url,
      connections: { active: stats.activeConnections, total: stats.totalConnections },
      lastCheck: new Date(),
    }
  }
}
