import { Logger } from '@nestjs/common'
import { OnEvent } from '@nestjs/event-emitter'
import {
  ConnectedSocket, MessageBody, OnGatewayConnection, OnGatewayDisconnect, SubscribeMessage, WebSocketGateway, WebSocketServer,
} from '@nestjs/websockets'
import type { Namespace, Socket } from 'socket.io'
import type { ConnectionEvent, ConnectionInfo, ConnectionStats } from 'mcp-swagger-native'
import { MCPService } from '../mcp/mcp.service'
import { IN_PROCESS_SERVER_ID, MCP_EVENTS } from '../mcp/mcp.types'
import { ProcessManagerService, type MCPConnectionChangedPayload } from '../servers/process-manager.service'

export const roomFor = (serverId?: string) => `mcp_connections_${serverId || IN_PROCESS_SERVER_ID}`
/** Upstream mcp-swagger-api's rooms: one per server, and one for every server. */
export const upstreamRoomFor = (serverId?: string) => (serverId ? `mcp-connections-${serverId}` : 'mcp-connections-all')

/** One server's current stats as pushed in `mcp_connections_data` and returned by the stats requests. */
export interface ServerStatsMessage {
  serverId: string
  mode: 'in-process' | 'child-process'
  activeConnections: number
  totalConnections: number
  connections: unknown[]
  lastUpdated: Date | null
  timestamp: Date
}

/** A server's stats in upstream mcp-swagger-api's shape (`totalRequests`, `lastUpdated`) plus ours. */
export interface UpstreamStats extends ServerStatsMessage {
  /** requests served: summed over the in-process server's connections; 0 for a child process,
   *  whose events do not carry it (upstream reports 0 as well) */
  totalRequests: number
}

/** `mcpConnectionChanged` in upstream's rooms. */
export interface UpstreamConnectionChanged {
  serverId: string
  /** the [MCP_CONNECTION] event (for the in-process server, built in the same shape) */
  connectionEvent: ConnectionEvent
  stats: UpstreamStats | null
  timestamp: string
}

/**
 * socket.io namespace /monitoring. A client subscribes to a server's room
 * (`subscribe_mcp_connections { serverId }`; no serverId = the in-process server, "default") and
 * gets `mcp_connections_data` now and on every change, plus `mcp_connection_established`,
 * `mcp_connection_closed` and `mcpConnectionChanged` for each client of that server.
 * `mcp_servers_changed` goes to every socket when a child server starts or stops.
 *
 * Beside these, upstream mcp-swagger-api's names (its websocket.gateway.ts, same namespace):
 * `subscribe-mcp-connections { serverId? }` joins `mcp-connections-<serverId>` (or
 * `mcp-connections-all`) and answers `subscription-confirmed { room, serverId, timestamp }`; those
 * rooms get `mcpConnectionChanged { serverId, connectionEvent, stats, timestamp }` for every
 * connection event; `get-mcp-connection-stats { serverId }` answers `mcp-connection-stats
 * { serverId, stats, timestamp }` and `get-all-mcp-connection-stats` answers
 * `all-mcp-connection-stats { allStats, timestamp }`. A socket in both kinds of room gets both
 * `mcpConnectionChanged` shapes, one per room kind.
 */
@WebSocketGateway({ namespace: '/monitoring', cors: { origin: '*' } })
export class MonitoringGateway implements OnGatewayConnection, OnGatewayDisconnect {
  private readonly logger = new Logger(MonitoringGateway.name)
  @WebSocketServer() server!: Namespace

  constructor(
    private readonly mcpService: MCPService,
    private readonly processManager: ProcessManagerService,
  ) {}

  handleConnection(client: Socket) {
    this.logger.debug(`monitoring client ${client.id} connected`)
  }

  handleDisconnect(client: Socket) {
    this.logger.debug(`monitoring client ${client.id} disconnected`)
  }

  /** Current stats of one server, or null if there is no such server. */
  statsFor(serverId: string = IN_PROCESS_SERVER_ID): ServerStatsMessage | null {
    if (serverId === IN_PROCESS_SERVER_ID) {
      const s = this.mcpService.getConnectionStats()
      return { serverId, mode: 'in-process', ...s, lastUpdated: s.lastUpdated, timestamp: new Date() }
    }
    const s = this.processManager.getMCPConnectionStats(serverId)
    if (!s) return null
    return { ...s, serverId, mode: 'child-process', timestamp: new Date() }
  }

  allStats(): ServerStatsMessage[] {
    const ids = [...(this.mcpService.isRunning() ? [IN_PROCESS_SERVER_ID] : []), ...this.processManager.getAllMCPConnectionStats().keys()]
    return ids.map((id) => this.statsFor(id)).filter((s): s is ServerStatsMessage => s !== null)
  }

  /** A server's stats as upstream reports them, or null for an unknown server. */
  upstreamStats(serverId: string): UpstreamStats | null {
    const s = this.statsFor(serverId)
    if (!s) return null
    const totalRequests = s.mode === 'in-process' ? (s.connections as ConnectionInfo[]).reduce((n, c) => n + c.requestCount, 0) : 0
    return { ...s, totalRequests }
  }

  upstreamAllStats(): Record<string, UpstreamStats> {
    const all: Record<string, UpstreamStats> = {}
    for (const s of this.allStats()) all[s.serverId] = { ...s, totalRequests: this.upstreamStats(s.serverId)?.totalRequests ?? 0 }
    return all
  }

  @SubscribeMessage('subscribe_mcp_connections')
  async handleSubscribeMcpConnections(@ConnectedSocket() client: Socket, @MessageBody() data?: { serverId?: string }) {
    const serverId = data?.serverId || IN_PROCESS_SERVER_ID
    const stats = this.statsFor(serverId)
    if (!stats) return { status: 'error', error: `Server ${serverId} not found`, serverId, timestamp: new Date() }
    const room = roomFor(serverId)
    await client.join(room)
    client.emit('mcp_connections_data', stats)
    return { status: 'subscribed', room, serverId, timestamp: new Date() }
  }

  @SubscribeMessage('unsubscribe_mcp_connections')
  async handleUnsubscribeMcpConnections(@ConnectedSocket() client: Socket, @MessageBody() data?: { serverId?: string }) {
    const room = roomFor(data?.serverId)
    await client.leave(room)
    return { status: 'unsubscribed', room, serverId: data?.serverId || IN_PROCESS_SERVER_ID, timestamp: new Date() }
  }

  @SubscribeMessage('getMCPConnectionStats')
  handleGetMCPConnectionStats(@ConnectedSocket() client: Socket, @MessageBody() data?: { serverId?: string }) {
    const serverId = data?.serverId || IN_PROCESS_SERVER_ID
    const stats = this.statsFor(serverId)
    if (!stats) return { success: false, error: `Server ${serverId} not found` }
    client.emit('mcpConnectionStats', { serverId, stats, timestamp: new Date() })
    return { success: true, stats }
  }

  @SubscribeMessage('getAllMCPConnectionStats')
  handleGetAllMCPConnectionStats(@ConnectedSocket() client: Socket) {
    const stats = this.allStats()
    client.emit('allMCPConnectionStats', { stats, timestamp: new Date() })
    return { success: true, stats }
  }

  // ---- upstream mcp-swagger-api's message names ----

  @SubscribeMessage('subscribe-mcp-connections')
  async handleUpstreamSubscribe(@ConnectedSocket() client: Socket, @MessageBody() data?: { serverId?: string }) {
    const room = upstreamRoomFor(data?.serverId)
    await client.join(room)
    const confirmation = { room, serverId: data?.serverId, timestamp: new Date().toISOString() }
    client.emit('subscription-confirmed', confirmation)
    return confirmation
  }

  @SubscribeMessage('get-mcp-connection-stats')
  handleUpstreamGetStats(@ConnectedSocket() client: Socket, @MessageBody() data?: { serverId?: string }) {
    const serverId = data?.serverId || IN_PROCESS_SERVER_ID
    const stats = this.upstreamStats(serverId)
    if (!stats) {
      const error = { message: 'Failed to get MCP connection stats', error: `Server ${serverId} not found` }
      client.emit('error', error)
      return error
    }
    const reply = { serverId, stats, timestamp: new Date().toISOString() }
    client.emit('mcp-connection-stats', reply)
    return reply
  }

  @SubscribeMessage('get-all-mcp-connection-stats')
  handleUpstreamGetAllStats(@ConnectedSocket() client: Socket) {
    const reply = { allStats: this.upstreamAllStats(), timestamp: new Date().toISOString() }
    client.emit('all-mcp-connection-stats', reply)
    return reply
  }

  private emitUpstreamChange(serverId: string, connectionEvent: ConnectionEvent) {
    const data: UpstreamConnectionChanged = { serverId, connectionEvent, stats: this.upstreamStats(serverId), timestamp: new Date().toISOString() }
    // One emit to both rooms: a socket in both gets it once.
    this.server.to([upstreamRoomFor(serverId), upstreamRoomFor()]).emit('mcpConnectionChanged', data)
  }

  // ---- in-process server (McpNativeModule's events) ----

  @OnEvent(MCP_EVENTS.connectionsUpdated)
  handleMcpConnectionsUpdated(stats: ConnectionStats) {
    this.server.to(roomFor()).emit('mcp_connections_data', {
      serverId: IN_PROCESS_SERVER_ID, mode: 'in-process', ...stats, timestamp: new Date(),
    })
  }

  @OnEvent(MCP_EVENTS.connectionEstablished)
  handleMcpConnectionEstablished(connection: ConnectionInfo) {
    const room = this.server.to(roomFor())
    room.emit('mcp_connection_established', { serverId: IN_PROCESS_SERVER_ID, timestamp: new Date(), connection })
    room.emit('mcpConnectionChanged', this.inProcessChange('connected', connection.sessionId, connection))
    const s = this.mcpService.getConnectionStats()
    this.emitUpstreamChange(IN_PROCESS_SERVER_ID, {
      type: 'MCP_CONNECTION_EVENT',
      eventType: 'connected',
      serverId: IN_PROCESS_SERVER_ID,
      clientInfo: this.wireClient(connection),
      connectionStats: { activeConnections: s.activeConnections, totalConnections: s.totalConnections },
      timestamp: new Date().toISOString(),
    })
  }

  @OnEvent(MCP_EVENTS.connectionClosed)
  handleMcpConnectionClosed(data: { sessionId: string; durationMs: number }) {
    const { sessionId, durationMs: duration } = data
    const room = this.server.to(roomFor())
    room.emit('mcp_connection_closed', { serverId: IN_PROCESS_SERVER_ID, timestamp: new Date(), sessionId, duration })
    room.emit('mcpConnectionChanged', { ...this.inProcessChange('disconnected', sessionId), durationMs: duration })
    const s = this.mcpService.getConnectionStats()
    this.emitUpstreamChange(IN_PROCESS_SERVER_ID, {
      type: 'MCP_CONNECTION_EVENT',
      eventType: 'disconnected',
      serverId: IN_PROCESS_SERVER_ID,
      // the connection is gone: only its id (and the time it ended) are known here
      clientInfo: { id: sessionId, connectedAt: new Date(Date.now() - duration).toISOString() },
      durationMs: duration,
      connectionStats: { activeConnections: s.activeConnections, totalConnections: s.totalConnections },
      timestamp: new Date().toISOString(),
    })
  }

  private wireClient(c: ConnectionInfo) {
    return {
      id: c.sessionId,
      remoteAddress: c.clientIP,
      userAgent: c.userAgent,
      connectedAt: c.connectedAt.toISOString(),
      era: c.era,
      ...(c.clientName !== undefined ? { clientName: c.clientName } : {}),
      ...(c.clientVersion !== undefined ? { clientVersion: c.clientVersion } : {}),
    }
  }

  private inProcessChange(eventType: string, sessionId: string, c?: ConnectionInfo) {
    const s = this.mcpService.getConnectionStats()
    return {
      serverId: IN_PROCESS_SERVER_ID,
      eventType,
      clientInfo: c
        ? { id: c.sessionId, remoteAddress: c.clientIP, userAgent: c.userAgent, connectedAt: c.connectedAt, era: c.era, clientName: c.clientName, clientVersion: c.clientVersion }
        : { id: sessionId },
      connectionStats: { activeConnections: s.activeConnections, totalConnections: s.totalConnections },
      timestamp: new Date(),
    }
  }

  // ---- child-process servers (ProcessManagerService, from their [MCP_CONNECTION] lines) ----

  @OnEvent(MCP_EVENTS.childConnectionChanged)
  handleMCPConnectionChanged(payload: MCPConnectionChangedPayload) {
    const room = this.server.to(roomFor(payload.serverId))
    room.emit('mcpConnectionChanged', payload)
    if (payload.eventType === 'connected') {
      room.emit('mcp_connection_established', { serverId: payload.serverId, timestamp: payload.timestamp, connection: payload.clientInfo })
    } else if (payload.eventType === 'disconnected') {
      room.emit('mcp_connection_closed', {
        serverId: payload.serverId, timestamp: payload.timestamp, sessionId: payload.clientInfo?.id, duration: payload.durationMs, reason: payload.reason,
      })
    }
    const stats = this.statsFor(payload.serverId)
    if (stats) room.emit('mcp_connections_data', stats)
    this.emitUpstreamChange(payload.serverId, payload.event)
  }

  @OnEvent(MCP_EVENTS.serversChanged)
  handleServersChanged(payload: { serverId: string; status: string; url?: string }) {
    this.server.emit('mcp_servers_changed', { ...payload, timestamp: new Date() })
  }
}
