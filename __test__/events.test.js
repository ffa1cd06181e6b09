'use strict'
const { spawn, spawnSync } = require('node:child_process')
const path = require('node:path')
const {
  ConnectionEventHub,
  ConnectionEventParseError,
  parseConnectionEventLine,
  formatConnectionEvent,
} = require('..')

const T = '2026-11-24T00:00:00.000Z'
const connected = (id, total, active, extra = {}) => ({
  type: 'MCP_CONNECTION_EVENT',
  eventType: 'connected',
  serverId: 's1',
  clientInfo: { id, remoteAddress: '127.0.0.1', userAgent: 'node', connectedAt: T },
  connectionStats: { totalConnections: total, activeConnections: active, maxConnections: 1000 },
  timestamp: T,
  ...extra,
})

describe('formatConnectionEvent / parseConnectionEventLine', () => {
  test('writes the documented line exactly and reads it back', () => {
    const line = formatConnectionEvent(connected('sess', 3, 1))
    expect(line).toBe(
      '[MCP_CONNECTION] {"type":"MCP_CONNECTION_EVENT","eventType":"connected","serverId":"s1",' +
        '"clientInfo":{"id":"sess","remoteAddress":"127.0.0.1","userAgent":"node","connectedAt":"2026-11-24T00:00:00.000Z"},' +
        '"connectionStats":{"totalConnections":3,"activeConnections":1,"maxConnections":1000},' +
        '"timestamp":"2026-11-24T00:00:00.000Z"}\n',
    )
    expect(parseConnectionEventLine(line)).toEqual(connected('sess', 3, 1))
  })

  test('Dates are written as ISO strings; invalid events are a TypeError', () => {
    const e = { ...connected('a', 1, 1), timestamp: new Date(T) }
    expect(formatConnectionEvent(e)).toContain(`"timestamp":"${T}"`)
    expect(() => formatConnectionEvent({ type: 'MCP_CONNECTION_EVENT', eventType: 'nope' })).toThrow(TypeError)
    expect(() => formatConnectionEvent(null)).toThrow(TypeError)
  })

  test('null for a log line; ConnectionEventParseError for a malformed event line', () => {
    expect(parseConnectionEventLine('just a log line')).toBeNull()
    expect(parseConnectionEventLine('')).toBeNull()
    let err
    try {
      parseConnectionEventLine('[MCP_CONNECTION] {"type":"MCP_CONNECTION_EVENT","eventType":"connected"}')
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(ConnectionEventParseError)
    expect(err).toBeInstanceOf(Error)
    expect(err.code).toBe('MCP_CONNECTION_PARSE_ERROR')
    expect(err.line).toContain('[MCP_CONNECTION]')
    expect(err.message).toMatch(/missing field/)
    expect(() => parseConnectionEventLine('[MCP_CONNECTION] ' + 'x'.repeat(10000))).toThrow(
      expect.objectContaining({ line: expect.any(String) }),
    )
    try {
      parseConnectionEventLine('[MCP_CONNECTION] ' + 'x'.repeat(10000))
    } catch (e) {
      expect(e.line.length).toBeLessThan(200)
    }
  })

  test('accepts the seed shape (no serverId, no maxConnections)', () => {
    const seed = `[MCP_CONNECTION] {"type":"MCP_CONNECTION_EVENT","eventType":"stats_update","connectionStats":{"totalConnections":2,"activeConnections":2},"timestamp":"${T}"}`
    expect(parseConnectionEventLine(seed).eventType).toBe('stats_update')
  })
})

describe('ConnectionEventHub', () => {
  test('reassembles events and UTF-8 split across Buffers, keeps order, splits CRLF', () => {
    const seen = []
    const hub = new ConnectionEventHub({ onEvent: (id, e) => seen.push([id, e.clientInfo.id]) })
    const text = 'héllo 中文\r\n' + formatConnectionEvent(connected('a', 1, 1)) + formatConnectionEvent(connected('b', 2, 2)) + 'tail 😀'
    const buf = Buffer.from(text)
    const out = []
    for (let i = 0; i < buf.length; i += 7) out.push(...hub.push('s1', buf.subarray(i, i + 7)))
    expect(out.map((l) => l.type)).toEqual(['log', 'event', 'event'])
    expect(out[0]).toEqual({ type: 'log', serverId: 's1', line: 'héllo 中文' })
    expect(out[1].event).toEqual(connected('a', 1, 1))
    expect(out[1].line).toBe(formatConnectionEvent(connected('a', 1, 1)).slice(0, -1))
    expect(seen).toEqual([
      ['s1', 'a'],
      ['s1', 'b'],
    ])
    expect(hub.end('s1')).toEqual([{ type: 'log', serverId: 's1', line: 'tail 😀' }])
    expect(hub.end('s1')).toEqual([])
  })

  test('string chunks work the same', () => {
    const hub = new ConnectionEventHub()
    const line = formatConnectionEvent(connected('a', 1, 1))
    expect(hub.push('s', line.slice(0, 30))).toEqual([])
    expect(hub.push('s', line.slice(30) + 'x\n')).toEqual([
      { type: 'event', serverId: 's', line: line.slice(0, -1), event: connected('a', 1, 1) },
      { type: 'log', serverId: 's', line: 'x' },
    ])
  })

  test('stats: connections by id, counts from events, Dates, last event', () => {
    const hub = new ConnectionEventHub()
    hub.push('s1', formatConnectionEvent(connected('a', 1, 1)))
    hub.push('s1', formatConnectionEvent(connected('b', 2, 2)))
    hub.push(
      's1',
      formatConnectionEvent({
        type: 'MCP_CONNECTION_EVENT', eventType: 'disconnected', serverId: 's1',
        clientInfo: connected('a', 0, 0).clientInfo, durationMs: 10, reason: 'deleted',
        connectionStats: { totalConnections: 2, activeConnections: 1, maxConnections: 1000 },
        timestamp: '2026-11-24T00:00:05.000Z',
      }),
    )
    const st = hub.getStats('s1')
    expect(st).toEqual({
      serverId: 's1',
      activeConnections: 1,
      totalConnections: 2,
      maxConnections: 1000,
      connections: [{ id: 'b', remoteAddress: '127.0.0.1', userAgent: 'node', connectedAt: new Date(T) }],
      lastEventType: 'disconnected',
      lastEventAt: new Date('2026-11-24T00:00:05.000Z'),
      eventCount: 3,
      parseErrorCount: 0,
    })
    expect(st.connections[0].connectedAt).toBeInstanceOf(Date)
    expect(hub.getStats('unknown')).toBeNull()
    hub.push('s2', 'log only\n')
    expect(hub.getAllStats().map((s) => s.serverId)).toEqual(['s1', 's2'])
    hub.remove('s1')
    expect(hub.getStats('s1')).toBeNull()
    expect(hub.getAllStats().map((s) => s.serverId)).toEqual(['s2'])
  })

  test('malformed event lines are counted, keep the lines around them, threshold fires once', () => {
    const fired = []
    const hub = new ConnectionEventHub({ errorThreshold: 2, onParseErrorThreshold: (id, n) => fired.push([id, n]) })
    const bad = '[MCP_CONNECTION] {"type":"MCP_CONNECTION_EVENT"}\n'
    const out = hub.push('s', 'a\n' + bad + formatConnectionEvent(connected('x', 1, 1)) + bad + bad + bad + 'b\n')
    expect(out.map((l) => l.type)).toEqual(['log', 'parse_error', 'event', 'parse_error', 'parse_error', 'parse_error', 'log'])
    expect(out[1].error).toMatch(/eventType/)
    expect(out[1].line).toBe(bad.slice(0, -1))
    expect(fired).toEqual([['s', 3]])
    expect(hub.parseErrors('s')).toBe(4)
    expect(hub.getStats('s').parseErrorCount).toBe(4)
    expect(hub.getStats('s').eventCount).toBe(1)
  })

  test('an over-long line is cut, reported once, and the stream resynchronises', () => {
    const hub = new ConnectionEventHub({ maxLineBytes: 1024 })
    const out = []
    for (let i = 0; i < 50; i++) out.push(...hub.push('s', Buffer.alloc(1000, 'y')))
    out.push(...hub.push('s', 'still long\n' + formatConnectionEvent(connected('a', 1, 1))))
    expect(out.map((l) => l.type)).toEqual(['parse_error', 'event'])
    expect(out[0].error).toMatch(/longer than 1024 bytes/)
    expect(out[0].line.length).toBeLessThan(200)
    expect(hub.parseErrors('s')).toBe(1)
  })

  test('a throwing onEvent does not lose lines; the error surfaces afterwards', () => {
    // Run in a plain Node process: Jest intercepts uncaught errors itself.
    const script = `
      const { ConnectionEventHub, formatConnectionEvent } = require(${JSON.stringify(path.join(__dirname, '..'))})
      const ev = (id) => formatConnectionEvent({ type: 'MCP_CONNECTION_EVENT', eventType: 'connected',
        clientInfo: { id, connectedAt: '${T}' }, connectionStats: { totalConnections: 1, activeConnections: 1 }, timestamp: '${T}' })
      const calls = []
      const hub = new ConnectionEventHub({ onEvent: (_, e) => { calls.push(e.clientInfo.id); throw new Error('listener failed') } })
      process.on('uncaughtException', (e) => { console.log(JSON.stringify({ calls, lines: out.length, error: e.message })) })
      const out = hub.push('s', ev('a') + ev('b') + 'log\\n')
    `
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' })
    expect(r.stderr).toBe('')
    expect(JSON.parse(r.stdout)).toEqual({ calls: ['a', 'b'], lines: 3, error: 'listener failed' })
  })

  test('argument checks', () => {
    expect(() => new ConnectionEventHub({ maxLineBytes: -1 })).toThrow()
    expect(() => new ConnectionEventHub({ onEvent: 1 })).toThrow(TypeError)
    const hub = new ConnectionEventHub()
    expect(() => hub.push('s', 42)).toThrow(TypeError)
    expect(() => hub.push(1, 'x')).toThrow(TypeError)
  })
})

function runChild(script, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    const chunks = []
    let stderr = ''
    child.stdout.on('data', (c) => chunks.push(c))
    child.stderr.on('data', (c) => (stderr += c))
    child.on('error', reject)
    child.on('close', (code) => (code === 0 ? resolve({ chunks, stderr }) : reject(new Error(`child exit ${code}: ${stderr}`))))
  })
}

describe('a real child process piped into the hub', () => {
  const script = path.join(__dirname, 'fixtures', 'events-child.js')

  test('every line arrives in order and the stats match the child’s own', async () => {
    const hub = new ConnectionEventHub()
    const out = []
    let childStats
    const child = spawn(process.execPath, [script, 'child-1', '3000'], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stderr = ''
    let chunks = 0
    child.stderr.on('data', (c) => (stderr += c))
    child.stdout.on('data', (chunk) => {
      chunks++
      for (const l of hub.push('child-1', chunk)) {
        out.push(l)
        if (l.type === 'log' && l.line.startsWith('CHILD_STATS ')) {
          childStats = JSON.parse(l.line.slice('CHILD_STATS '.length))
          // At this point in the stream the hub has seen exactly the events the child had sent.
          const st = hub.getStats('child-1')
          expect(st.activeConnections).toBe(childStats.activeConnections)
          expect(st.totalConnections).toBe(childStats.totalConnections)
          expect(st.connections.map((c) => ({ ...c, connectedAt: c.connectedAt.toISOString() }))).toEqual(childStats.connections)
        }
      }
    })
    const code = await new Promise((r) => child.on('close', r))
    out.push(...hub.end('child-1'))
    expect(code).toBe(0)
    const sent = JSON.parse(stderr)
    expect(chunks).toBeGreaterThan(5)
    expect(out.map((l) => ({ type: l.type, line: l.line }))).toEqual(sent)
    expect(childStats).toBeDefined()
    const st = hub.getStats('child-1')
    expect(st.eventCount).toBe(sent.filter((l) => l.type === 'event').length)
    expect(st.parseErrorCount).toBe(1)
    expect(st.activeConnections).toBe(1)
    expect(st.connections.map((c) => c.id)).toEqual(['sess-中文-1'])
  })

  test('two children interleaved into one hub never mix', async () => {
    const hub = new ConnectionEventHub()
    const runs = ['a', 'b'].map((id) => {
      const out = []
      const child = spawn(process.execPath, [script, id, '500'], { stdio: ['ignore', 'pipe', 'pipe'] })
      let stderr = ''
      child.stderr.on('data', (c) => (stderr += c))
      child.stdout.on('data', (c) => out.push(...hub.push(id, c)))
      return new Promise((resolve) =>
        child.on('close', () => {
          out.push(...hub.end(id))
          resolve({ id, out, sent: JSON.parse(stderr) })
        }),
      )
    })
    for (const { id, out, sent } of await Promise.all(runs)) {
      expect(out.map((l) => ({ type: l.type, line: l.line }))).toEqual(sent)
      expect(out.every((l) => l.serverId === id)).toBe(true)
      for (const l of out) if (l.type === 'event') expect(l.event.serverId).toBe(id)
    }
    expect(hub.getAllStats()).toHaveLength(2)
  })

  test('the child’s raw output (as the old per-chunk parser saw it) is the same bytes', async () => {
    // Sanity check of the fixture: the stream really is cut awkwardly.
    const { chunks } = await runChild(script, ['c', '10'])
    expect(chunks.length).toBeGreaterThan(5)
    const cutInsideLine = chunks.slice(0, -1).some((c) => c[c.length - 1] !== 0x0a)
    expect(cutInsideLine).toBe(true)
  })
})
