'use strict'
// Lines written by the real upstream mcp-swagger-server (github.com/zaizaizhao/mcp-swagger-server)
// are events for the hub. __test__/fixtures/upstream-mcp-swagger-server.log is rebuilt by hand
// from its writer, MCPConnectionMonitor in packages/mcp-swagger-server/src/transportUtils/stream.ts
// at commit 5cb457d (HEAD; same shape since 70fb058): `console.log('[MCP_CONNECTION] ' +
// JSON.stringify(entry))` with `clientInfo.sessionId`, no serverId, Dates as ISO strings. The
// Rust test tests/events_upstream.rs reads the same file.
const { spawn } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const { ConnectionEventHub, parseConnectionEventLine, formatConnectionEvent } = require('..')

const FIXTURE = path.join(__dirname, 'fixtures', 'upstream-mcp-swagger-server.log')
const TEXT = fs.readFileSync(FIXTURE, 'utf8')
const LINES = TEXT.split('\n').filter((l) => l !== '')
const FIRST = '6f1c2a8e-5d0b-4a52-9d0e-3f5b7c1a2e90'
const SECOND = '0b9e4d71-22c3-4f8a-b6e5-91d0c7a3f412'

test('every upstream event line parses; clientInfo.id is its sessionId', () => {
  const events = LINES.map(parseConnectionEventLine).filter((e) => e !== null)
  expect(events.map((e) => e.eventType)).toEqual(['connected', 'connected', 'stats_update', 'disconnected'])
  expect(events[0].clientInfo).toEqual({
    id: FIRST,
    sessionId: FIRST,
    remoteAddress: '::ffff:127.0.0.1',
    userAgent: 'node',
    connectedAt: '2026-04-19T14:42:55.120Z',
  })
  expect(events[1].clientInfo.id).toBe(SECOND)
  expect(events[3].clientInfo.id).toBe(FIRST)
  // Our writer spells it `id` only.
  const ours = formatConnectionEvent(events[0])
  expect(ours).toContain(`"clientInfo":{"id":"${FIRST}","remoteAddress":"::ffff:127.0.0.1"`)
  expect(ours).not.toContain('sessionId')
})

test("the hub reads an upstream child's stdout through a real pipe and tracks its clients", async () => {
  const seen = []
  const hub = new ConnectionEventHub({ onEvent: (serverId, e) => seen.push([serverId, e.eventType, e.clientInfo?.id]) })
  const out = []
  // A child that writes the lines the way upstream does: one console.log per line.
  const child = spawn(process.execPath, ['-e', `for (const l of require('fs').readFileSync(${JSON.stringify(FIXTURE)}, 'utf8').split('\\n')) if (l) console.log(l)`], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  child.stdout.on('data', (chunk) => out.push(...hub.push('upstream', chunk)))
  await new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`child exited ${code}`))))
  })
  out.push(...hub.end('upstream'))
  expect(out.map((l) => l.type)).toEqual(['log', 'event', 'event', 'event', 'event'])
  expect(out.filter((l) => l.type === 'event').map((l) => l.line)).toEqual(LINES.slice(1))
  expect(seen).toEqual([
    ['upstream', 'connected', FIRST],
    ['upstream', 'connected', SECOND],
    ['upstream', 'stats_update', undefined],
    ['upstream', 'disconnected', FIRST],
  ])
  const stats = hub.getStats('upstream')
  expect(stats.parseErrorCount).toBe(0)
  expect(stats.connections.map((c) => c.id)).toEqual([SECOND])
  expect(stats.connections[0].connectedAt).toEqual(new Date('2026-04-19T14:42:56.004Z'))
  expect([stats.activeConnections, stats.totalConnections, stats.eventCount]).toEqual([1, 1, 4])
  expect(stats.lastEventType).toBe('disconnected')
})

test('a line with neither id nor sessionId is still a parse error', () => {
  const bad = LINES[1].replace(`"sessionId":"${FIRST}",`, '')
  expect(() => parseConnectionEventLine(bad)).toThrow(/clientInfo\.id/)
  const hub = new ConnectionEventHub()
  expect(hub.push('s', bad + '\n').map((l) => l.type)).toEqual(['parse_error'])
})
