/**
 * Upstream mcp-swagger-api's names beside this host's own, so its clients work here: the REST
 * route `GET api/v1/servers/:id/mcp/connections/stats` and the socket.io messages
 * `subscribe-mcp-connections`, `mcpConnectionChanged { serverId, connectionEvent, stats }`,
 * `get-mcp-connection-stats`, `get-all-mcp-connection-stats` (upstream's servers.controller.ts and
 * websocket.gateway.ts). Fed by a child that writes upstream mcp-swagger-server's lines
 * (`clientInfo.sessionId`), and by real SDK clients of the in-process server.
 */
import * as path from 'path'
import request from 'supertest'
import type { HostApp } from '../../src/bootstrap'
import { ProcessManagerService } from '../../src/servers/process-manager.service'
import { connectMcp, disconnectMcp, MonitorClient, startHost, waitFor } from '../helpers'

const UPSTREAM_CHILD = path.join(__dirname, '..', 'fixtures', 'upstream-child.js')
// the clients in __test__/fixtures/upstream-mcp-swagger-server.log
const FIRST = '6f1c2a8e-5d0b-4a52-9d0e-3f5b7c1a2e90'
const SECOND = '0b9e4d71-22c3-4f8a-b6e5-91d0c7a3f412'

describe("upstream mcp-swagger-api's route and socket.io names", () => {
  let host: HostApp
  let monitor: MonitorClient
  const http = () => request(host.baseUrl)

  beforeAll(async () => {
    host = await startHost()
    monitor = await MonitorClient.connect(host.baseUrl)
  })

  afterAll(async () => {
    monitor?.close()
    await host?.close()
  })

  it('a child writing upstream mcp-swagger-server lines is tracked by session id, on the v1 route and upstream socket.io names', async () => {
    const ack = await monitor.request('subscribe-mcp-connections', {})
    expect(ack).toMatchObject({ room: 'mcp-connections-all' })
    const confirmed = await monitor.waitForEvent('subscription-confirmed', (d) => d.room === 'mcp-connections-all')
    expect(Number.isNaN(Date.parse(confirmed.timestamp))).toBe(false)

    await host.app.get(ProcessManagerService).startServer({ id: 'upstream-1', script: UPSTREAM_CHILD })
    const upstreamChanges = () => monitor.all('mcpConnectionChanged', (d) => d.serverId === 'upstream-1' && d.connectionEvent)
    await waitFor(() => upstreamChanges().length === 4, 'four upstream-shaped mcpConnectionChanged')
    const changes = upstreamChanges()
    expect(changes.map((c: any) => [c.connectionEvent.eventType, c.connectionEvent.clientInfo?.id])).toEqual([
      ['connected', FIRST],
      ['connected', SECOND],
      ['stats_update', undefined],
      ['disconnected', FIRST],
    ])
    // as the child wrote it, with `id` beside upstream's `sessionId`
    expect(changes[0].connectionEvent).toMatchObject({
      type: 'MCP_CONNECTION_EVENT',
      clientInfo: { id: FIRST, sessionId: FIRST, remoteAddress: '::ffff:127.0.0.1', userAgent: 'node', connectedAt: '2026-04-19T14:42:55.120Z' },
      timestamp: '2026-04-19T14:42:55.623Z',
    })
    expect(changes[3].stats).toMatchObject({ serverId: 'upstream-1', mode: 'child-process', activeConnections: 1, totalConnections: 1, totalRequests: 0 })
    expect(changes[3].stats.connections.map((c: any) => c.id)).toEqual([SECOND])

    const one = (await http().get('/api/v1/servers/upstream-1/mcp/connections/stats').expect(200)).body
    expect(one).toMatchObject({ success: true, serverId: 'upstream-1', data: { activeConnections: 1, totalConnections: 1, totalRequests: 0, parseErrorCount: 0 } })
    expect(one.data.connections.map((c: any) => c.id)).toEqual([SECOND])
    expect(Number.isNaN(Date.parse(one.data.lastUpdated))).toBe(false)
    await http().get('/api/v1/servers/nope/mcp/connections/stats').expect(404)
    const all = (await http().get('/api/v1/servers/mcp/connections/stats').expect(200)).body
    expect(all.success).toBe(true)
    expect(Object.keys(all.data).sort()).toEqual(['default', 'upstream-1'])
    expect(all.data['upstream-1']).toMatchObject({ activeConnections: 1 })

    const stats = await monitor.request('get-mcp-connection-stats', { serverId: 'upstream-1' })
    expect(stats).toMatchObject({ serverId: 'upstream-1', stats: { activeConnections: 1, totalRequests: 0 } })
    await monitor.waitForEvent('mcp-connection-stats', (d) => d.serverId === 'upstream-1' && d.stats.connections[0].id === SECOND)
    expect(await monitor.request('get-mcp-connection-stats', { serverId: 'nope' })).toMatchObject({ error: 'Server nope not found' })
    await monitor.request('get-all-mcp-connection-stats')
    const allWs = await monitor.waitForEvent('all-mcp-connection-stats')
    expect(allWs.allStats['upstream-1']).toMatchObject({ activeConnections: 1, totalConnections: 1 })

    await http().delete('/api/servers/upstream-1').expect(200)
  })

  it('the in-process server reports its real clients under the upstream names too', async () => {
    const room = await MonitorClient.connect(host.baseUrl)
    try {
      expect(await room.request('subscribe-mcp-connections', { serverId: 'default' })).toMatchObject({ room: 'mcp-connections-default', serverId: 'default' })
      const c = await connectMcp(host.mcpUrl!, 'upstream-names-client')
      await c.client.listTools()
      const connected = await room.waitForEvent('mcpConnectionChanged', (d) => d.connectionEvent?.eventType === 'connected')
      expect(connected).toMatchObject({
        serverId: 'default',
        connectionEvent: { type: 'MCP_CONNECTION_EVENT', serverId: 'default', clientInfo: { id: c.sessionId, era: 'legacy', clientName: 'upstream-names-client' } },
        stats: { serverId: 'default', mode: 'in-process', activeConnections: 1 },
      })
      const restStats = async () => (await http().get('/api/v1/servers/default/mcp/connections/stats').expect(200)).body
      await waitFor(async () => (await restStats()).data.totalRequests >= 2, 'in-process totalRequests counts initialize and tools/list')
      const rest = await restStats()
      expect(rest).toMatchObject({ success: true, serverId: 'default', data: { activeConnections: 1 } })

      await disconnectMcp(c)
      const closed = await room.waitForEvent('mcpConnectionChanged', (d) => d.connectionEvent?.eventType === 'disconnected')
      expect(closed.connectionEvent).toMatchObject({ clientInfo: { id: c.sessionId } })
      expect(typeof closed.connectionEvent.durationMs).toBe('number')
      expect(closed.stats).toMatchObject({ activeConnections: 0 })
      // only this server's room: no child-process events here
      expect(room.all('mcpConnectionChanged').every((d) => d.serverId === 'default')).toBe(true)
    } finally {
      room.close()
    }
  })
})
