/**
 * In-process mode against the real addon: McpNativeModule serves MCP as a route of the Nest app
 * (mount 'app', under the global prefix) with the tools MCPService generates from the OpenAPI
 * document and a decorated @McpTool method; real MCP SDK clients connect, call tools that reach the
 * pet store REST API, and leave; every REST route, event-bus event and socket.io event must reflect it.
 */
import request from 'supertest'
import { EventEmitter2 } from '@nestjs/event-emitter'
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js'
import type { HostApp } from '../../src/bootstrap'
import { PetsService } from '../../src/petstore/pets.service'
import { MCP_EVENTS } from '../../src/mcp/mcp.types'
import { connectMcp, disconnectMcp, MonitorClient, resultJson, startHost, waitFor, type McpConnection } from '../helpers'

describe('in-process MCP server (McpNativeModule on the app)', () => {
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
    expect(status).toMatchObject({ isRunning: true, toolsCount: 5, endpoint: host.mcpUrl, connections: { active: 0, details: [] } })
    expect(status.config).toEqual({ mount: 'app', path: '/api/mcp', transport: 'streamable' })
    // the decorated tool first, then the ones generated from the OpenAPI document
    expect(status.tools.map((t: any) => t.name)).toEqual(['countPetsByTag', 'listPets', 'createPet', 'getPetById', 'deletePet'])
    expect(host.mcpUrl).toBe(`${host.baseUrl}/api/mcp`)

    const health = (await http().get('/api/mcp/health').expect(200)).body
    expect(health).toMatchObject({ healthy: true, serverRunning: true, toolsCount: 5, connections: { active: 0 } })
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
    expect(busClosed!.payload.durationMs).toBeGreaterThanOrEqual(0)
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
    // the decorated tool stays; of the generated ones only those named
    expect(r).toMatchObject({ success: true, toolsCount: 3 })
    await waitFor(() => changed > 0, 'notifications/tools/list_changed')
    expect((await c.client.listTools()).tools.map((t) => t.name)).toEqual(['countPetsByTag', 'listPets', 'getPetById'])
    expect((await http().get('/api/mcp/tools').expect(200)).body).toHaveLength(3)
    expect((await http().get('/api/mcp/status').expect(200)).body.toolsCount).toBe(3)
    await expect(c.client.callTool({ name: 'deletePet', arguments: { petId: 1 } })).rejects.toThrow(/Unknown tool: deletePet/)
    await http().get('/api/pets/1').expect(200)

    await http().post('/api/mcp/reload').send({}).expect(200)
    expect((await c.client.listTools()).tools).toHaveLength(5)
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

  it('serves the MCP server metrics on GET /metrics (OpenMetrics text)', async () => {
    const count = (text: string, series: string) => {
      const line = text.split('\n').find((l) => l.startsWith(series + ' '))
      return line === undefined ? undefined : Number(line.slice(series.length + 1))
    }
    const before = await http().get('/metrics').expect(200)
    expect(before.headers['content-type']).toMatch(/^application\/openmetrics-text/)
    expect(before.text.trimEnd().endsWith('# EOF')).toBe(true)
    const legacyTotal = 'mcp_connections_total{era="legacy"}'
    const start = count(before.text, legacyTotal)
    expect(start).toEqual(expect.any(Number))
    const c = await connect()
    await c.client.callTool({ name: 'listPets', arguments: { limit: 1 } })
    const after = (await http().get('/metrics').expect(200)).text
    expect(count(after, legacyTotal)).toBe(start! + 1)
    expect(count(after, 'mcp_connections_active{era="legacy"}')).toBeGreaterThanOrEqual(1)
  })

  it('serves the decorated @McpTool method, which injects PetsService; invalid arguments never reach it', async () => {
    const c = await connect()
    const all = await c.client.callTool({ name: 'countPetsByTag', arguments: {} })
    expect(all.isError).toBeFalsy()
    expect(resultJson(all)).toEqual({ dog: 1, cat: 1, fish: 1 })
    await http().post('/api/pets').send({ name: 'Rover', tag: 'dog' }).expect(201)
    expect(resultJson(await c.client.callTool({ name: 'countPetsByTag', arguments: { tag: 'dog' } }))).toEqual({ dog: 2 })

    const wrongType = await c.client.callTool({ name: 'countPetsByTag', arguments: { tag: 5 } })
    expect(wrongType.isError).toBe(true)
    expect((wrongType.content as any)[0].text).toMatch(/^Invalid arguments for tool countPetsByTag: \/tag: /)
    const extra = await c.client.callTool({ name: 'countPetsByTag', arguments: { species: 'dog' } })
    expect(extra.isError).toBe(true)
  })

  it('is a route of the app: on its port, under its global prefix, beside the REST routes', async () => {
    const init = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } }
    const accept = 'application/json, text/event-stream'
    // no prefix, no route
    await http().post('/mcp').set('accept', accept).send(init).expect(404)
    const r = await http().post('/api/mcp').set('accept', accept).send(init).expect(200)
    const sessionId = r.headers['mcp-session-id']
    expect(typeof sessionId).toBe('string')
    await waitFor(async () => (await http().get(`/api/mcp/connections/${sessionId}`)).status === 200, 'the raw session on the REST view')
    await http().delete('/api/mcp').set('mcp-session-id', sessionId).expect(200)
    await http().get(`/api/mcp/connections/${sessionId}`).expect(404)
  })
})

describe('in-process MCP server: app.close()', () => {
  it('closes open sessions and reports them before the app is gone', async () => {
    const host = await startHost()
    const closed: any[] = []
    host.app.get(EventEmitter2).on(MCP_EVENTS.connectionClosed, (p: any) => closed.push(p))
    const c = await connectMcp(host.mcpUrl)
    expect((await request(host.baseUrl).get('/api/mcp/health').expect(200)).body.serverRunning).toBe(true)
    await host.close()
    expect(closed.map((p) => p.sessionId)).toEqual([c.sessionId])
    await c.client.close()
  })
})
