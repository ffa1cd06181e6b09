/**
 * ProcessManagerService with the real ConnectionEventHub and a scripted child (test/fixtures):
 * events split across chunks, the seed's older event shape, a malformed event line, log lines,
 * and a final event without a newline that only the hub's end() flush can deliver.
 */
import * as path from 'path'
import request from 'supertest'
import { EventEmitter2 } from '@nestjs/event-emitter'
import type { HostApp } from '../../src/bootstrap'
import { MCP_EVENTS } from '../../src/mcp/mcp.types'
import { ProcessManagerService } from '../../src/servers/process-manager.service'
import { startHost, waitFor } from '../helpers'

const SCRIPT = path.join(__dirname, '..', 'fixtures', 'scripted-child.js')

describe('ProcessManagerService stdout handling', () => {
  let host: HostApp
  let pm: ProcessManagerService
  const changes: any[] = []

  beforeAll(async () => {
    host = await startHost()
    pm = host.app.get(ProcessManagerService)
    host.app.get(EventEmitter2).on(MCP_EVENTS.childConnectionChanged, (p: any) => changes.push(p))
  })

  afterAll(async () => {
    await host?.close()
  })

  it('aggregates split, old-shape and malformed lines, keeps logs, and flushes the last line on exit', async () => {
    const info = await pm.startServer({ id: 'scripted', script: SCRIPT })
    expect(info).toMatchObject({ id: 'scripted', status: 'running', url: 'http://127.0.0.1:9/mcp' })

    await waitFor(() => pm.getLogs('scripted')?.some((l) => l.includes('plain log line')), 'the log line')
    const stats = pm.getMCPConnectionStats('scripted')!
    expect(stats).toMatchObject({ serverId: 'scripted', activeConnections: 2, totalConnections: 2, eventCount: 2, parseErrorCount: 1 })
    expect(stats.connections.map((c) => c.id)).toEqual(['scripted-1', 'seed-shape'])
    expect(stats.connections[0].connectedAt).toBeInstanceOf(Date)

    const logs = pm.getLogs('scripted')!
    expect(logs.filter((l) => l.startsWith('[parse error]'))).toHaveLength(1)
    expect(logs.some((l) => l.includes('[MCP_CONNECTION]') && !l.startsWith('[parse error]'))).toBe(false)
    expect(changes.filter((c) => c.serverId === 'scripted').map((c) => [c.eventType, c.clientInfo.id])).toEqual([
      ['connected', 'scripted-1'],
      ['connected', 'seed-shape'],
    ])
    const rest = (await request(host.baseUrl).get('/api/servers/scripted/mcp/connections').expect(200)).body.data.connectionStats
    expect(rest).toMatchObject({ activeConnections: 2, totalConnections: 2, parseErrorCount: 1 })

    await pm.stopServer('scripted')
    const last = changes.filter((c) => c.serverId === 'scripted').at(-1)
    expect(last).toMatchObject({ eventType: 'disconnected', reason: 'shutdown', durationMs: 5, clientInfo: { id: 'scripted-1' } })
    expect(pm.getProcessInfo('scripted')).toBeNull()
    expect(pm.hub.getStats('scripted')).toBeNull()
    await request(host.baseUrl).get('/api/servers/scripted/mcp/connections').expect(404)
  })

  it('fails a start whose process exits before it is ready, and forgets it', async () => {
    await expect(pm.startServer({ id: 'broken', script: path.join(__dirname, '..', 'fixtures', 'does-not-exist.js') })).rejects.toThrow(/exited/)
    expect(pm.getProcessInfo('broken')).toBeNull()
    expect(pm.getAllProcessInfo().map((p) => p.id)).not.toContain('broken')
  })
})
