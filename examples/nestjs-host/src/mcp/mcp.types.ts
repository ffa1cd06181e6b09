import type { ConnectionInfo, ConnectionStats, ToolDefinition } from 'mcp-swagger-native'

/** Events this app puts on @nestjs/event-emitter (names from the seed host). */
export const MCP_EVENTS = {
  /** in-process server: a client connected; payload ConnectionInfo */
  connectionEstablished: 'mcp.connection.established',
  /** in-process server: a client left; payload { sessionId, duration } */
  connectionClosed: 'mcp.connection.closed',
  /** in-process server: counts changed; payload ConnectionStats */
  connectionsUpdated: 'mcp.connections.updated',
  /** child-process server: an [MCP_CONNECTION] event arrived; payload McpConnectionChangedPayload */
  connectionChanged: 'mcp.connection.changed',
  /** child-process server list changed (started/stopped); payload { serverId, status } */
  serversChanged: 'mcp.servers.changed',
  /** too many malformed event lines from one child; payload { serverId, errorCount, timestamp } */
  parseErrorThreshold: 'mcp.parse.error.threshold',
} as const

/** The serverId the in-process server uses in rooms and payloads. */
export const IN_PROCESS_SERVER_ID = 'default'

export interface MCPServerConfig {
  port: number
  host: string
  endpoint: string
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
