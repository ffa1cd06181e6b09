/**
 * Child-process mode against the real addon: ProcessManagerService spawns MCP server processes
 * (the addon with `stdoutEvents`), feeds their stdout into the addon's ConnectionEventHub, and the
 * REST routes and socket.io rooms reflect what real MCP SDK clients do to those processes.
 */
import request from 'supertest'
import type { HostApp } from '../../src/bootstrap'
import { PetsService } from '../../src/petstore/pets.service'
import { ProcessManagerService } from '../../src/servers/process-manager.service'
import { connectMcp, disconnectMcp, MonitorClient, resultJson, startHost, waitFor, type McpConnection } from '../helpers'

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

describe('child-process MCP servers (ServersModule)', () => {
  let host: HostApp
  let monitor: MonitorClient
  const open: McpConnection[] = []
  const http = () => request(host.baseUrl)

  beforeAll(async () => {
    host = await startHost()
    monitor = await MonitorClient.connect(host.baseUrl)
  })

  afterEach(async () => {
    for (const c of open.splice(0)) await disconnectMcp(c).catch(() => undefined)
    host.app.get(PetsService).reset()
  })

  afterAll(async () => {
    monitor?.close()
    await host?.close() // stops every child process (onApplicationShutdown)
  })

  async function startServer(id: string) {
    const res = await http().post('/api/servers').send({ id }).expect(201)
    expect(res.body.data).toMatchObject({ id, status: 'running', toolsCount: 4 })
    expect(res.body.data.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/mcp$/)
    return res.body.data as { id: string; url: string; pid: number }
  }

  async function connect(url: string): Promise<McpConnection> {
    const c = await connectMcp(url, 'child-test-client')
    open.push(c)
    return c
  }

  async function activeOf(id: string): Promise<number> {
    return (await http().get(`/api/servers/${id}/mcp/connections/count`).expect(200)).body.data.activeConnections
  }

  it('answers 404 for an unknown server on every route', async () => {
    await http().get('/api/servers/nope/mcp/connections').expect(404)
    await http().get('/api/servers/nope/mcp/connections/count').expect(404)
    await http().get('/api/servers/nope').expect(404)
    await http().delete('/api/servers/nope').expect(404)
    const overview = (await http().get('/api/servers/mcp/connections/overview').expect(200)).body.data
    expect(overview.summary).toMatchObject({ totalServers: 0, totalConnections: 0, activeConnections: 0 })
    expect(await monitor.request('getMCPConnectionStats', { serverId: 'nope' })).toMatchObject({ success: false })
  })

  it('tracks a client of a child server through its stdout events, on REST and socket.io', async () => {
    const srv = await startServer('pets-1')
    expect(alive(srv.pid)).toBe(true)
    monitor.clear()
    const ack = await monitor.request('subscribe_mcp_connections', { serverId: 'pets-1' })
    expect(ack).toMatchObject({ status: 'subscribed', room: 'mcp_connections_pets-1' })
    await monitor.waitForEvent('mcp_connections_data', (d) => d.serverId === 'pets-1' && d.activeConnections === 0)

    const empty = (await http().get('/api/servers/pets-1/mcp/connections').expect(200)).body.data
    expect(empty).toMatchObject({ serverId: 'pets-1', processStatus: 'running', connectionStats: { activeConnections: 0, connections: [] } })

    const c = await connect(srv.url)

    // REST, from the hub's aggregate of the child's [MCP_CONNECTION] lines
    await waitFor(async () => (await activeOf('pets-1')) === 1, 'pets-1 active = 1')
    const stats = (await http().get('/api/servers/pets-1/mcp/connections').expect(200)).body.data.connectionStats
    expect(stats).toMatchObject({ serverId: 'pets-1', activeConnections: 1, totalConnections: 1, lastEventType: 'connected', parseErrorCount: 0 })
    expect(stats.connections).toHaveLength(1)
    expect(stats.connections[0].id).toBe(c.sessionId)
    expect(stats.connections[0].remoteAddress).toMatch(/127\.0\.0\.1/)
    const count = (await http().get('/api/servers/pets-1/mcp/connections/count').expect(200)).body.data
    expect(count).toMatchObject({ serverId: 'pets-1', activeConnections: 1, totalConnections: 1 })
    expect(count.lastUpdated).not.toBeNull()
    const overview = (await http().get('/api/servers/mcp/connections/overview').expect(200)).body.data
    expect(overview.summary).toMatchObject({ totalServers: 1, activeServers: 1, totalConnections: 1, activeConnections: 1 })
    expect(overview.servers[0]).toMatchObject({ serverId: 'pets-1', processStatus: 'running', url: srv.url })

    // socket.io room of this server
    const changed = await monitor.waitForEvent('mcpConnectionChanged', (d) => d.eventType === 'connected' && d.clientInfo?.id === c.sessionId)
    expect(changed).toMatchObject({ serverId: 'pets-1', connectionStats: { activeConnections: 1, totalConnections: 1 } })
    expect(Number.isNaN(Date.parse(changed.timestamp))).toBe(false)
    await monitor.waitForEvent('mcp_connection_established', (d) => d.serverId === 'pets-1' && d.connection?.id === c.sessionId)
    await monitor.waitForEvent('mcp_connections_data', (d) => d.serverId === 'pets-1' && d.activeConnections === 1 && d.connections[0]?.id === c.sessionId)
    const ws = await monitor.request('getMCPConnectionStats', { serverId: 'pets-1' })
    expect(ws).toMatchObject({ success: true, stats: { serverId: 'pets-1', mode: 'child-process', activeConnections: 1 } })
    const all = await monitor.request('getAllMCPConnectionStats')
    expect(all.stats.map((s: any) => s.serverId)).toEqual(['default', 'pets-1'])

    // tool calls from the child process reach the pet store API in this process
    const created = await c.client.callTool({ name: 'createPet', arguments: { body: { name: 'Goldie', tag: 'fish' } } })
    expect(created.isError).toBeFalsy()
    const goldie = resultJson(created)
    expect((await http().get(`/api/pets/${goldie.id}`).expect(200)).body).toEqual({ id: goldie.id, name: 'Goldie', tag: 'fish' })
    expect(resultJson(await c.client.callTool({ name: 'listPets', arguments: { tag: 'fish' } })).map((p: any) => p.name)).toEqual(['Nemo', 'Goldie'])
    const missing = await c.client.callTool({ name: 'getPetById', arguments: { petId: 12345 } })
    expect(missing.isError).toBe(true)
    expect((missing.content as any)[0].text).toMatch(/^HTTP 404/)

    // the child's other stdout lines are kept as logs; event lines are not
    const logs: string[] = (await http().get('/api/servers/pets-1/logs').expect(200)).body.data
    expect(logs.some((l) => l.includes('loaded 4 tools'))).toBe(true)
    expect(logs.some((l) => l.includes('[MCP_CONNECTION]'))).toBe(false)

    // disconnect
    open.splice(open.indexOf(c), 1)
    await disconnectMcp(c)
    await waitFor(async () => (await activeOf('pets-1')) === 0, 'pets-1 active = 0')
    const after = (await http().get('/api/servers/pets-1/mcp/connections').expect(200)).body.data.connectionStats
    expect(after).toMatchObject({ activeConnections: 0, totalConnections: 1, connections: [], lastEventType: 'disconnected' })
    const closed = await monitor.waitForEvent('mcp_connection_closed', (d) => d.serverId === 'pets-1' && d.sessionId === c.sessionId)
    expect(closed.reason).toBe('deleted')
    expect(typeof closed.duration).toBe('number')
    await monitor.waitForEvent('mcpConnectionChanged', (d) => d.eventType === 'disconnected' && d.clientInfo?.id === c.sessionId)
    await monitor.waitForEvent('mcp_connections_data', (d) => d.serverId === 'pets-1' && d.activeConnections === 0)

    await http().delete('/api/servers/pets-1').expect(200)
  })

  it('keeps servers apart: counts and socket.io rooms per server', async () => {
    const [a, b] = await Promise.all([startServer('pets-a'), startServer('pets-b')])
    const onlyB = await MonitorClient.connect(host.baseUrl)
    try {
      await onlyB.request('subscribe_mcp_connections', { serverId: 'pets-b' })
      onlyB.clear()
      const c1 = await connect(a.url)
      const c2 = await connect(a.url)
      await waitFor(async () => (await activeOf('pets-a')) === 2, 'pets-a active = 2')
      expect(await activeOf('pets-b')).toBe(0)
      const overview = (await http().get('/api/servers/mcp/connections/overview').expect(200)).body.data
      expect(overview.summary).toMatchObject({ totalServers: 2, activeConnections: 2 })

      const c3 = await connect(b.url)
      await onlyB.waitForEvent('mcp_connection_established', (d) => d.connection?.id === c3.sessionId)
      expect(await activeOf('pets-b')).toBe(1)
      // nothing about pets-a's clients reached the pets-b room
      expect(onlyB.received.filter((r) => r.data?.serverId === 'pets-a')).toEqual([])
      expect(onlyB.all('mcp_connection_established').map((d) => d.connection.id)).toEqual([c3.sessionId])
      void c1
      void c2
    } finally {
      onlyB.close()
      for (const c of open.splice(0)) await disconnectMcp(c).catch(() => undefined)
      await Promise.all([http().delete('/api/servers/pets-a'), http().delete('/api/servers/pets-b')])
    }
  })

  it('stops a server cleanly: its clients are reported closed (shutdown), the process exits and its stats are forgotten', async () => {
    const srv = await startServer('pets-stop')
    await monitor.request('subscribe_mcp_connections', { serverId: 'pets-stop' })
    monitor.clear()
    const c = await connect(srv.url)
    await waitFor(async () => (await activeOf('pets-stop')) === 1, 'pets-stop active = 1')

    await http().delete('/api/servers/pets-stop').expect(200)
    const closed = await monitor.waitForEvent('mcp_connection_closed', (d) => d.serverId === 'pets-stop' && d.sessionId === c.sessionId)
    expect(closed.reason).toBe('shutdown')
    await monitor.waitForEvent('mcp_servers_changed', (d) => d.serverId === 'pets-stop' && d.status === 'stopped')
    expect(alive(srv.pid)).toBe(false)

    await http().get('/api/servers/pets-stop/mcp/connections').expect(404)
    await http().get('/api/servers/pets-stop/mcp/connections/count').expect(404)
    expect(host.app.get(ProcessManagerService).hub.getStats('pets-stop')).toBeNull()
    const overview = (await http().get('/api/servers/mcp/connections/overview').expect(200)).body.data
    expect(overview.servers.map((s: any) => s.serverId)).not.toContain('pets-stop')

    open.splice(open.indexOf(c), 1)
    await c.client.close()
  })

  it('forgets a server that dies on its own', async () => {
    const srv = await startServer('pets-crash')
    const c = await connect(srv.url)
    await waitFor(async () => (await activeOf('pets-crash')) === 1, 'pets-crash active = 1')
    open.splice(open.indexOf(c), 1)
    process.kill(srv.pid, 'SIGKILL')
    await waitFor(async () => (await http().get('/api/servers/pets-crash/mcp/connections')).status === 404, 'pets-crash forgotten')
    expect(host.app.get(ProcessManagerService).hub.getStats('pets-crash')).toBeNull()
    await c.client.close()
  })

  it('refuses a duplicate or invalid server id', async () => {
    await startServer('pets-dup')
    try {
      await http().post('/api/servers').send({ id: 'pets-dup' }).expect(409)
      await http().post('/api/servers').send({ id: 'bad id/../x' }).expect(400)
      const list = (await http().get('/api/servers').expect(200)).body.data
      expect(list.map((p: any) => p.id)).toEqual(['pets-dup'])
    } finally {
      await http().delete('/api/servers/pets-dup').expect(200)
    }
  })
})
