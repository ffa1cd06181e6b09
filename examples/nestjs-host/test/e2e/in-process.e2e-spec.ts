/**
 * In-process mode against the real addon: MCPService runs startStreamableMcpServer inside the Nest
 * process; real MCP SDK clients connect, call tools that reach the pet store REST API, and leave;
 * every REST route, event-bus event and socket.io event must reflect it.
 */
import request from 'supertest'
import { EventEmitter2 } from '@nestjs/event-emitter'
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js'
import type { HostApp } from '../../src/bootstrap'
import { MCPService } from '../../src/mcp/mcp.service'
import { PetsService } from '../../src/petstore/pets.service'
import { MCP_EVENTS } from '../../src/mcp/mcp.types'
import { connectMcp, disconnectMcp, MonitorClient, resultJson, startHost, waitFor, type McpConnection } from '../helpers'

describe('in-process MCP server (MCPModule)', () => {
  let host: HostApp
  let monitor: MonitorClient
  const open: McpConnection[] = []
  const bus: { event: string; payload: any }[] = []
  const http = () => request(host.baseUrl)

  beforeAll(async () => {
    host = await startHost()
    const emitter = host.app.get(EventEmitter2)
    for (const event of [MCP_EVENTS.connectionEstablished, MCP_EVENTS.connectionClosed, MCP_EVENTS.connectionsUpdated]) {
      emitter.on(event, (payload: any) => bus.push({ event, payload }))
    }
    monitor = await MonitorClient.connect(host.baseUrl)
    const ack = await monitor.request('subscribe_mcp_connections', { serverId: 'default' })
    expect(ack).toMatchObject({ status: 'subscribed', room: 'mcp_connections_default', serverId: 'default' })
  })

  afterEach(async () => {
    // a failed test must not leave sessions behind for the next one
    for (const c of open.splice(0)) await disconnectMcp(c).catch(() => undefined)
    host.app.get(PetsService).reset()
  })

  afterAll(async () => {
    monitor?.close()
    await host?.close()
  })

  async function connect(name?: string): Promise<McpConnection> {
    const c = await connectMcp(host.mcpUrl!, name)
    open.push(c)
    return c
  }

  async function leave(c: McpConnection): Promise<void> {
    open.splice(open.indexOf(c), 1)
    await disconnectMcp(c)
  }

  it('serves the status, health and tools routes before any client', async () => {
    const status = (await http().get('/api/mcp/status').expect(200)).body
    expect(status).toMatchObject({ isRunning: true, toolsCount: 4, endpoint: host.mcpUrl, connections: { active: 0, details: [] } })
    expect(status.tools.map((t: any) => t.name)).toEqual(['listPets', 'createPet', 'getPetById', 'deletePet'])
    expect(host.mcpUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/mcp$/)

    const health = (await http().get('/api/mcp/health').expect(200)).body
    expect(health).toMatchObject({ healthy: true, serverRunning: true, toolsCount: 4, connections: { active: 0 } })
    expect(new Date(health.lastCheck).getTime()).toBeGreaterThan(Date.now() - 60_000)

    const tools = (await http().get('/api/mcp/tools').expect(200)).body
    expect(tools.find((t: any) => t.name === 'getPetById').inputSchema).toEqual({
      type: 'object',
      properties: { petId: { type: 'integer', description: 'The id of the pet' } },
      required: ['petId'],
    })
    expect((await http().get('/api/mcp/connections/count').expect(200)).body.activeConnections).toBe(0)
  })

  it('passes the tool definitions to MCP clients verbatim', async () => {
    const c = await connect()
    const listed = await c.client.listTools()
    const served = (await http().get('/api/mcp/tools').expect(200)).body
    expect(listed.tools).toEqual(served)
  })

  it('tracks a client from connect through tool calls to disconnect, on REST, the event bus and socket.io', async () => {
    monitor.clear()
    bus.length = 0
    const before = (await http().get('/api/mcp/connections').expect(200)).body.totalConnections

    const c = await connect('lifecycle-client')

    // REST
    const stats = (await http().get('/api/mcp/connections').expect(200)).body
    expect(stats.activeConnections).toBe(1)
    expect(stats.totalConnections).toBe(before + 1)
    expect(stats.connections).toHaveLength(1)
    expect(stats.connections[0]).toMatchObject({ sessionId: c.sessionId, era: 'legacy' })
    expect(stats.connections[0].clientIP).toMatch(/127\.0\.0\.1/)
    expect((await http().get('/api/mcp/connections/count').expect(200)).body.activeConnections).toBe(1)
    const info = (await http().get(`/api/mcp/connections/${c.sessionId}`).expect(200)).body
    expect(info.sessionId).toBe(c.sessionId)
    expect(typeof info.userAgent).toBe('string')
    expect(Number.isNaN(Date.parse(info.connectedAt))).toBe(false)
    const health = (await http().get('/api/mcp/health').expect(200)).body
    expect(health.connections).toEqual({ active: 1, total: before + 1 })
    const status = (await http().get('/api/mcp/status').expect(200)).body
    expect(status.connections.details.map((d: any) => d.sessionId)).toEqual([c.sessionId])

    // event bus (@nestjs/event-emitter) and socket.io, all for this session
    await waitFor(() => bus.find((b) => b.event === MCP_EVENTS.connectionEstablished && b.payload.sessionId === c.sessionId), 'mcp.connection.established')
    await waitFor(() => bus.find((b) => b.event === MCP_EVENTS.connectionsUpdated && b.payload.activeConnections === 1), 'mcp.connections.updated')
    const est = await monitor.waitForEvent('mcp_connection_established', (d) => d.connection?.sessionId === c.sessionId)
    expect(est.serverId).toBe('default')
    await monitor.waitForEvent('mcpConnectionChanged', (d) => d.eventType === 'connected' && d.clientInfo?.id === c.sessionId)
    await monitor.waitForEvent('mcp_connections_data', (d) => d.serverId === 'default' && d.activeConnections === 1 && d.connections[0]?.sessionId === c.sessionId)

    // tool calls make real requests to the pet store API
    const requestsBefore = info.requestCount
    const list = await c.client.callTool({ name: 'listPets', arguments: { tag: 'cat' } })
    expect(list.isError).toBeFalsy()
    expect(resultJson(list)).toEqual([{ id: 2, name: 'Tom', tag: 'cat' }])

    const created = await c.client.callTool({ name: 'createPet', arguments: { body: { name: 'Polly', tag: 'parrot' } } })
    expect(created.isError).toBeFalsy()
    const polly = resultJson(created)
    expect(polly).toEqual({ id: 4, name: 'Polly', tag: 'parrot' })
    expect((await http().get('/api/pets/4').expect(200)).body).toEqual(polly) // it really reached the API

    const missing = await c.client.callTool({ name: 'getPetById', arguments: { petId: 999 } })
    expect(missing.isError).toBe(true)
    expect((missing.content as any)[0].text).toMatch(/^HTTP 404/)
    expect((missing.content as any)[0].text).toContain('Pet 999 not found')

    // Arguments that break the tool's inputSchema are refused by the addon before the tool (and
    // the upstream API) runs, naming the failing path.
    const bad = await c.client.callTool({ name: 'listPets', arguments: { limit: 0 } })
    expect(bad.isError).toBe(true)
    expect((bad.content as any)[0].text).toMatch(/^Invalid arguments for tool listPets: \/limit: /)

    const deleted = await c.client.callTool({ name: 'deletePet', arguments: { petId: 4, 'X-Request-Reason': 'test' } })
    expect(deleted.isError).toBeFalsy()
    await http().get('/api/pets/4').expect(404)

    const after = (await http().get(`/api/mcp/connections/${c.sessionId}`).expect(200)).body
    expect(after.requestCount).toBeGreaterThanOrEqual(requestsBefore + 5)
    expect(Date.parse(after.lastActivity)).toBeGreaterThanOrEqual(Date.parse(info.lastActivity))

    // disconnect
    await leave(c)
    await waitFor(async () => (await http().get('/api/mcp/connections/count')).body.activeConnections === 0, 'active count back to 0')
    const end = (await http().get('/api/mcp/connections').expect(200)).body
    expect(end).toMatchObject({ activeConnections: 0, totalConnections: before + 1, connections: [] })
    const gone = await http().get(`/api/mcp/connections/${c.sessionId}`).expect(404)
    expect(gone.body).toMatchObject({ error: 'Connection not found', sessionId: c.sessionId })

    const closed = await monitor.waitForEvent('mcp_connection_closed', (d) => d.sessionId === c.sessionId)
    expect(closed.serverId).toBe('default')
    expect(typeof closed.duration).toBe('number')
    await monitor.waitForEvent('mcpConnectionChanged', (d) => d.eventType === 'disconnected' && d.clientInfo?.id === c.sessionId)
    await monitor.waitForEvent('mcp_connections_data', (d) => d.serverId === 'default' && d.activeConnections === 0)
    const busClosed = await waitFor(() => bus.find((b) => b.event === MCP_EVENTS.connectionClosed && b.payload.sessionId === c.sessionId), 'mcp.connection.closed')
    expect(busClosed!.payload.duration).toBeGreaterThanOrEqual(0)
  })

  it('counts concurrent clients separately and drops only the one that leaves', async () => {
    const [a, b] = await Promise.all([connect('client-a'), connect('client-b')])
    expect(a.sessionId).not.toBe(b.sessionId)
    const stats = (await http().get('/api/mcp/connections').expect(200)).body
    expect(stats.activeConnections).toBe(2)
    expect(stats.connections.map((x: any) => x.sessionId).sort()).toEqual([a.sessionId, b.sessionId].sort())

    await leave(a)
    await waitFor(async () => (await http().get('/api/mcp/connections/count')).body.activeConnections === 1, 'one client left')
    await http().get(`/api/mcp/connections/${a.sessionId}`).expect(404)
    await http().get(`/api/mcp/connections/${b.sessionId}`).expect(200)
    // b still works
    expect(resultJson(await b.client.callTool({ name: 'getPetById', arguments: { petId: 1 } }))).toMatchObject({ name: 'Rex' })
  })

  it('reloads tools: connected clients get tools/list_changed and see the new set', async () => {
    const c = await connect()
    let changed = 0
    c.client.setNotificationHandler(ToolListChangedNotificationSchema, async () => {
      changed++
    })
    const r = (await http().post('/api/mcp/reload').send({ only: ['listPets', 'getPetById'] }).expect(200)).body
    expect(r).toMatchObject({ success: true, toolsCount: 2 })
    await waitFor(() => changed > 0, 'notifications/tools/list_changed')
    expect((await c.client.listTools()).tools.map((t) => t.name)).toEqual(['listPets', 'getPetById'])
    expect((await http().get('/api/mcp/tools').expect(200)).body).toHaveLength(2)
    expect((await http().get('/api/mcp/status').expect(200)).body.toolsCount).toBe(2)

    await http().post('/api/mcp/reload').send({}).expect(200)
    expect((await c.client.listTools()).tools).toHaveLength(4)
    await http().post('/api/mcp/reload').send({ only: 'listPets' }).expect(400)
  })

  it('answers getMCPConnectionStats / getAllMCPConnectionStats and stops pushing after unsubscribe', async () => {
    const c = await connect()
    const ack = await monitor.request('getMCPConnectionStats', { serverId: 'default' })
    expect(ack.success).toBe(true)
    expect(ack.stats).toMatchObject({ serverId: 'default', mode: 'in-process', activeConnections: 1 })
    const pushed = await monitor.waitForEvent('mcpConnectionStats', (d) => d.serverId === 'default' && d.stats.activeConnections === 1)
    expect(pushed.stats.connections[0].sessionId).toBe(c.sessionId)

    const all = await monitor.request('getAllMCPConnectionStats')
    expect(all.success).toBe(true)
    expect(all.stats.find((s: any) => s.serverId === 'default')).toMatchObject({ activeConnections: 1 })
    await monitor.waitForEvent('allMCPConnectionStats', (d) => d.stats.some((s: any) => s.serverId === 'default'))

    expect(await monitor.request('getMCPConnectionStats', { serverId: 'no-such-server' })).toMatchObject({ success: false })
    expect(await monitor.request('subscribe_mcp_connections', { serverId: 'no-such-server' })).toMatchObject({ status: 'error' })

    // a second dashboard that unsubscribes gets nothing more, while the first one still does
    const other = await MonitorClient.connect(host.baseUrl)
    try {
      await other.request('subscribe_mcp_connections', {})
      expect(await other.request('unsubscribe_mcp_connections', {})).toMatchObject({ status: 'unsubscribed', room: 'mcp_connections_default' })
      other.clear()
      monitor.clear()
      const d = await connect()
      await monitor.waitForEvent('mcp_connection_established', (e) => e.connection?.sessionId === d.sessionId)
      await new Promise((r) => setTimeout(r, 200))
      expect(other.all('mcp_connection_established')).toHaveLength(0)
      expect(other.all('mcp_connections_data')).toHaveLength(0)
    } finally {
      other.close()
    }
  })

  it('stop() closes open sessions and reports them; start() serves again on a new port', async () => {
    const mcp = host.app.get(MCPService)
    const c = await connect()
    monitor.clear()
    await mcp.stop()
    open.splice(open.indexOf(c), 1)
    await c.client.close()

    await monitor.waitForEvent('mcp_connection_closed', (d) => d.sessionId === c.sessionId)
    const health = (await http().get('/api/mcp/health').expect(200)).body
    expect(health).toMatchObject({ healthy: false, serverRunning: false, connections: { active: 0 } })
    expect((await http().get('/api/mcp/status').expect(200)).body.isRunning).toBe(false)
    await http().get(`/api/mcp/connections/${c.sessionId}`).expect(404)

    const url = await mcp.start({ port: 0 })
    host.mcpUrl = url
    const d = await connect()
    expect((await http().get('/api/mcp/connections/count').expect(200)).body.activeConnections).toBe(1)
    expect(resultJson(await d.client.callTool({ name: 'listPets', arguments: { limit: 1 } }))).toHaveLength(1)
  })
})
