import type { ConnectionInfo, ConnectionStats, ToolDefinition } from 'mcp-swagger-native'
import { MCP_NATIVE_EVENTS } from 'mcp-swagger-native/nestjs'

/** Events on @nestjs/event-emitter: the module's for the in-process server, this app's for child processes. */
export const MCP_EVENTS = {
  /** in-process server (McpNativeModule): a client connected; payload ConnectionInfo */
  connectionEstablished: MCP_NATIVE_EVENTS.established,
  /** in-process server (McpNativeModule): a client left; payload { sessionId, durationMs } */
  connectionClosed: MCP_NATIVE_EVENTS.closed,
  /** in-process server (McpNativeModule): counts changed; payload ConnectionStats */
  connectionsUpdated: MCP_NATIVE_EVENTS.changed,
  /** child-process server: an [MCP_CONNECTION] event arrived; payload MCPConnectionChangedPayload */
  childConnectionChanged: 'mcp.child.connection.changed',
  /** child-process server list changed (started/stopped); payload { serverId, status } */
  serversChanged: 'mcp.servers.changed',
  /** too many malformed event lines from one child; payload { serverId, errorCount, timestamp } */
  parseErrorThreshold: 'mcp.parse.error.threshold',
} as const

/** The serverId the in-process server uses in rooms and payloads. */
export const IN_PROCESS_SERVER_ID = 'default'

export interface MCPServerConfig {
  /** the endpoint is a route of this app (McpNativeModule's mount 'app') */
  mount: 'app'
  /** the endpoint's path on this app, global prefix included */
  path: string
  transport: 'streamable'
}

export interface MCPServerStatus {
  isRunning: boolean
  toolsCount: number
  endpoint?: string
  tools: Pick<ToolDefinition, 'name' | 'description' | 'inputSchema'>[]
  config: MCPServerConfig
  source?: { title: string; version: string; apiBaseUrl: string }
  connections: { active: number; total: number; details: ConnectionInfo[] }
}

export interface MCPHealth {
  healthy: boolean
  serverRunning: boolean
  toolsCount: number
  endpoint?: string
  connections: { active: number; total: number }
  lastCheck: Date
}

export type { ConnectionInfo, ConnectionStats }
