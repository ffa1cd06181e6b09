'use strict'
// Hostile clients (issue 13): each test asserts one row of docs/hardening.md over real HTTP on
// loopback. A second client address (127.0.0.2, still loopback) stands for "another client".
const http = require('node:http')
const net = require('node:net')
const { startServer, post, openSession, readResponse, waitFor } = require('./helpers/mcp')
const { meta, modernHeaders, modernPost } = require('./helpers/eras')

jest.setTimeout(60_000)

const V = '2025-06-18'
const req = (id, method, params) => ({ jsonrpc: '2.0', id, method, ...(params ? { params } : {}) })

function expectRpcError(r, status, code) {
  expect({ status: r.status, code: r.json && r.json.error && r.json.error.code }).toEqual({ status, code })
  expect(r.json.jsonrpc).toBe('2.0')
  expect(typeof r.json.error.message).toBe('string')
}

// node:http with a chosen local address (fetch cannot bind one).
function request(target, { method = 'POST', headers = {}, body, localAddress } = {}) {
  const u = new URL(target)
  return new Promise((resolve, reject) => {
    const rq = http.request(
      { host: u.hostname, port: u.port, path: u.pathname, method, headers, agent: false, localAddress },
      (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (c) => (text += c))
        res.on('end', () => {
          let json
          const type = res.headers['content-type'] || ''
          if (type.startsWith('application/json') && text) json = JSON.parse(text)
          if (type.startsWith('text/event-stream')) {
            const data = text.split('\n').filter((l) => l.startsWith('data: ') && l.length > 6)
            const msgs = data.map((l) => JSON.parse(l.slice(6)))
            json = msgs.find((m) => 'result' in m || 'error' in m)
          }
          resolve({ status: res.statusCode, headers: res.headers, text, json })
        })
      },
    )
    rq.on('error', reject)
    if (body !== undefined) rq.write(typeof body === 'string' ? body : JSON.stringify(body))
    rq.end()
  })
}

const jsonHeaders = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }

async function initializeFrom(url, localAddress, clientInfo = { name: 'c', version: '1' }) {
  return request(url, {
    headers: jsonHeaders,
    body: req(0, 'initialize', { protocolVersion: V, capabilities: {}, clientInfo }),
    localAddress,
  })
}

function modernFrom(url, localAddress, userAgent) {
  const params = { _meta: meta({ clientInfo: { name: userAgent, version: '1' } }) }
  return request(url, {
    headers: { ...modernHeaders('server/discover', params), 'user-agent': userAgent },
    body: { jsonrpc: '2.0', id: 1, method: 'server/discover', params },
    localAddress,
  })
}

function getStream(url, session, lastEventId) {
  return fetch(url, {
    headers: { accept: 'text/event-stream', 'mcp-session-id': session, 'mcp-protocol-version': V, 'last-event-id': lastEventId },
  })
}

describe('resumption', () => {
  let server
  beforeAll(async () => {
    server = await startServer({
      eventStore: { maxEventsPerSession: 1000, maxBytesPerSession: 64 * 1024 },
      tools: [
        { name: 'chatty', inputSchema: { type: 'object', properties: { n: { type: 'number' } } } },
        { name: 'big', inputSchema: { type: 'object', properties: {} } },
      ],
      callTool: async (call, ctx) => {
        if (call.name === 'chatty') {
          for (let i = 0; i < call.arguments.n; i++) ctx.log('info', { i })
          return { content: [{ type: 'text', text: 'done' }] }
        }
        ctx.log('info', 'start') // an SSE answer, so it is stored
        return { content: [{ type: 'text', text: 'x'.repeat(40 * 1024) }] }
      },
    })
  })
  afterAll(() => server.close())

  test('Last-Event-ID 0-18446744073709551615 (overflowing) gives 400 and -32000', async () => {
    const session = await openSession(server.url, V)
    for (const id of ['0-18446744073709551615', '0-99999999999999999999', '1-+2', '01-1', '1-2-3']) {
      const r = await readResponse(await getStream(server.url, session, id))
      expectRpcError(r, 400, -32000)
    }
  })

  test('1500 events while the client is away, then Last-Event-ID from the start: 410, never a partial replay', async () => {
    const session = await openSession(server.url, V)
    const r = await post(server.url, req(1, 'tools/call', { name: 'chatty', arguments: { n: 1500 } }), { session, version: V })
    expect(r.status).toBe(200)
    expect(r.json.result.content[0].text).toBe('done')
    const ids = r.events.filter((e) => e.id).map((e) => e.id)
    expect(ids.length).toBe(1501)
    // The first event is no longer stored: refused with a clear error, nothing replayed.
    const gone = await readResponse(await getStream(server.url, session, ids[0]))
    expectRpcError(gone, 410, -32000)
    expect(gone.json.error.data).toEqual({ reason: 'events_purged', lastEventId: ids[0] })
    // From an id whose successors are all held, the replay is complete and exact.
    const from = ids[ids.length - 11]
    const ok = await getStream(server.url, session, from)
    expect(ok.status).toBe(200)
    const replay = await readResponse(ok)
    expect(replay.events.map((e) => e.id)).toEqual(ids.slice(-10))
  })

  test('the event store is capped in bytes: of four 40 KiB answers only the last is kept (64 KiB cap), and resuming an evicted one gives 410', async () => {
    const session = await openSession(server.url, V)
    const streams = []
    for (let i = 0; i < 4; i++) {
      const r = await post(server.url, req(i + 1, 'tools/call', { name: 'big', arguments: {} }), { session, version: V })
      expect(r.status).toBe(200)
      expect(r.json.result.content[0].text.length).toBe(40 * 1024)
      // The log event first (seq 1), then the answer (seq 2).
      streams.push(r.events.filter((e) => e.id).map((e) => e.id))
    }
    const gone = await readResponse(await getStream(server.url, session, streams[0][0]))
    expectRpcError(gone, 410, -32000)
    const kept = await readResponse(await getStream(server.url, session, streams[3][0]))
    expect(kept.status).toBe(200)
    expect(kept.events.map((e) => e.id)).toEqual([streams[3][1]])
    expect(kept.json.result.content[0].text.length).toBe(40 * 1024)
  })
})

describe('fairness', () => {
  test('one client is capped by maxConnectionsPerClient (per IP, both eras): 429, onConnectionRejected', async () => {
    const rejected = []
    const s = await startServer({ maxConnectionsPerClient: 2 }, { onConnectionRejected: (r) => rejected.push(r) })
    try {
      expect((await initializeFrom(s.url, '127.0.0.1')).status).toBe(200)
      expect((await modernFrom(s.url, '127.0.0.1', 'ua-1')).status).toBe(200)
      const third = await initializeFrom(s.url, '127.0.0.1')
      expectRpcError(third, 429, -32000)
      expect(third.headers['mcp-session-id']).toBeUndefined()
      expectRpcError(await modernFrom(s.url, '127.0.0.1', 'ua-2'), 429, -32000)
      // Another client is not affected.
      expect((await initializeFrom(s.url, '127.0.0.2')).status).toBe(200)
      expect((await modernFrom(s.url, '127.0.0.2', 'ua-1')).status).toBe(200)
      await waitFor(() => rejected.length >= 2, 'two rejections')
      expect(rejected.map((r) => r.reason)).toEqual(['max_connections_per_client', 'max_connections_per_client'])
      expect(rejected[0].clientIP).toBe('127.0.0.1')
      expect(s.getConnectionStats().activeConnections).toBe(4)
    } finally {
      await s.close()
    }
  })

  test('maxConnections reached by one client: its idle sessions are evicted for a new client (both eras)', async () => {
    const closed = []
    const s = await startServer({ maxConnections: 4 }, { onConnectionClosed: (id) => closed.push(id) })
    try {
      const grabbed = []
      for (let i = 0; i < 3; i++) {
        const r = await initializeFrom(s.url, '127.0.0.1')
        expect(r.status).toBe(200)
        grabbed.push(r.headers['mcp-session-id'])
      }
      expect((await modernFrom(s.url, '127.0.0.1', 'grabber')).status).toBe(200)
      // Full, and the grabber gets nothing more by evicting its own.
      expectRpcError(await initializeFrom(s.url, '127.0.0.1'), 503, -32000)
      await new Promise((r) => setTimeout(r, 1100)) // evictable once idle for 1 s
      const newcomer = await initializeFrom(s.url, '127.0.0.2')
      expect(newcomer.status).toBe(200)
      // The grabber's least recently active session went first.
      await waitFor(() => closed.includes(grabbed[0]), 'the eviction')
      const stale = await post(s.url, req(1, 'tools/list'), { session: grabbed[0], version: V })
      expectRpcError(stale, 404, -32001)
      // A sessionless newcomer evicts too.
      expect((await modernFrom(s.url, '127.0.0.3', 'other')).status).toBe(200)
      await waitFor(() => closed.length === 2, 'the second eviction')
      expect(grabbed).toContain(closed[1])
      expect(s.getConnectionStats().activeConnections).toBe(4)
    } finally {
      await s.close()
    }
  })
})

describe('origin', () => {
  test('Origin http://localhost:8080 or chrome-extension://localhost against another port: 403', async () => {
    const s = await startServer({})
    try {
      const init = req(0, 'initialize', { protocolVersion: V, capabilities: {}, clientInfo: { name: 'c', version: '1' } })
      for (const origin of ['http://localhost:8080', 'chrome-extension://localhost', `https://localhost:${s.port}`, `chrome-extension://localhost:${s.port}`]) {
        expectRpcError(await post(s.url, init, { headers: { origin } }), 403, -32000)
      }
      for (const origin of [`http://localhost:${s.port}`, `http://127.0.0.1:${s.port}`]) {
        expect((await post(s.url, init, { headers: { origin } })).status).toBe(200)
      }
    } finally {
      await s.close()
    }
  })
})

describe('stored input caps', () => {
  let server
  let url
  beforeAll(async () => {
    server = await startServer({
      maxSubscriptionsPerSession: 3,
      resources: [{ uri: 'mem://a', name: 'a' }],
      readResource: async (uri) => ({ contents: [{ uri, text: 'a' }] }),
      tools: [{ name: 'hdr', inputSchema: { type: 'object', properties: { region: { type: 'string', 'x-mcp-header': 'Region' } } } }],
      callTool: async () => {
        calls++
        return { content: [] }
      },
    })
    url = server.url
  })
  let calls = 0
  afterAll(() => server.close())

  test('a 1 MB resources/subscribe URI gives -32602 and nothing is stored', async () => {
    const session = await openSession(url, V)
    const r = await post(url, req(1, 'resources/subscribe', { uri: 'mem://' + 'x'.repeat(1 << 20) }), { session, version: V })
    expectRpcError(r, 200, -32602)
    expect(r.json.error.data).toEqual({ limit: 2048 })
  })

  test('subscriptions past maxSubscriptionsPerSession give -32602; a repeat is free', async () => {
    const session = await openSession(url, V)
    for (const u of ['mem://1', 'mem://2', 'mem://3', 'mem://3']) {
      const ok = await post(url, req(1, 'resources/subscribe', { uri: u }), { session, version: V })
      expect(ok.json.result).toEqual({})
    }
    const r = await post(url, req(2, 'resources/subscribe', { uri: 'mem://4' }), { session, version: V })
    expectRpcError(r, 200, -32602)
    expect(r.json.error.data).toEqual({ limit: 3 })
    await post(url, req(3, 'resources/unsubscribe', { uri: 'mem://1' }), { session, version: V })
    expect((await post(url, req(4, 'resources/subscribe', { uri: 'mem://4' }), { session, version: V })).json.result).toEqual({})
  })

  test('3 MB of clientInfo/capabilities gives 400 / -32602, no session, and stats stay fast', async () => {
    const before = server.getConnectionStats().activeConnections
    const big = { experimental: { blob: 'x'.repeat(3 << 20) } }
    const r = await post(url, req(0, 'initialize', { protocolVersion: V, capabilities: big, clientInfo: { name: 'c', version: '1' } }))
    expectRpcError(r, 400, -32602)
    expect(r.headers.get('mcp-session-id')).toBeNull()
    const longName = await post(url, req(0, 'initialize', { protocolVersion: V, capabilities: {}, clientInfo: { name: 'n'.repeat(1 << 20), version: '1' } }))
    expectRpcError(longName, 400, -32602)
    // A sessionless client's long user agent is cut, so every stats query stays small.
    const r2 = await modernPost(url, 'tools/list', {}, { headers: { 'user-agent': 'u'.repeat(64 * 1024) } })
    expect(r2.status).toBe(200)
    const t0 = process.hrtime.bigint()
    const stats = server.getConnectionStats()
    const ms = Number(process.hrtime.bigint() - t0) / 1e6
    expect(stats.activeConnections).toBe(before + 1)
    expect(Math.max(...stats.connections.map((c) => c.userAgent.length))).toBeLessThanOrEqual(256)
    expect(ms).toBeLessThan(100)
  })

  test('Mcp-Param-* check with unreadable arguments (1e400, a lone surrogate, nesting > 128): 400 / -32602, the callback does not run', async () => {
    const before = calls
    const deep = '['.repeat(200) + '1' + ']'.repeat(200)
    for (const args of ['{"region":1e400}', '{"region":"\\ud800"}', `{"other":${deep}}`]) {
      const params = { name: 'hdr', _meta: meta() }
      const body = `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"hdr","arguments":${args},"_meta":${JSON.stringify(params._meta)}}}`
      const res = await fetch(url, { method: 'POST', headers: modernHeaders('tools/call', params), body })
      const r = await readResponse(res)
      expectRpcError(r, 400, -32602)
    }
    expect(calls).toBe(before)
  })
})

// `count` raw sockets, each sending a 2026 tools/call of the `big` tool and then never reading.
async function unreadBigCalls(port, count) {
  const params = { name: 'big', arguments: {}, _meta: meta() }
  const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params })
  const head = Object.entries(modernHeaders('tools/call', params)).map(([k, v]) => `${k}: ${v}\r\n`).join('')
  const socks = []
  for (let i = 0; i < count; i++) {
    const r = rawSocket(port, { read: false })
    await r.connected
    r.sock.write(`POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n${head}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`)
    socks.push(r)
  }
  return socks
}

describe('bounded queues', () => {
  test('an SSE stream that is never read while the server sends notifications: closed as slow_consumer, memory bounded, the session goes on', async () => {
    const rejected = []
    const uri = 'mem://' + 'u'.repeat(2000)
    const s = await startServer(
      { maxStreamBacklogBytes: 256 * 1024, resources: [{ uri, name: 'u' }], readResource: async (u) => ({ contents: [{ uri: u, text: '' }] }) },
      { onConnectionRejected: (r) => rejected.push(r) },
    )
    const sock = net.connect({ host: '127.0.0.1', port: s.port })
    const connected = new Promise((r) => sock.once('connect', r))
    sock.on('error', () => {})
    try {
      const session = await openSession(s.url, V)
      const sub = await post(s.url, req(1, 'resources/subscribe', { uri }), { session, version: V })
      expect(sub.json.result).toEqual({})
      await connected
      sock.write(`GET /mcp HTTP/1.1\r\nHost: 127.0.0.1:${s.port}\r\nAccept: text/event-stream\r\nMcp-Session-Id: ${session}\r\nMcp-Protocol-Version: ${V}\r\n\r\n`)
      sock.pause() // never read
      await new Promise((r) => setTimeout(r, 100))
      const rss0 = process.memoryUsage().rss
      // ~2 KB a notification: 40 MB in all, far past socket buffers and the 256 KiB cap.
      for (let i = 0; i < 20_000; i++) {
        s.notifyResourceUpdated(uri)
        if (i % 1000 === 999) await new Promise((r) => setImmediate(r))
      }
      await waitFor(() => rejected.some((r) => r.reason === 'slow_consumer'), 'the slow_consumer report')
      expect(rejected.find((r) => r.reason === 'slow_consumer').clientIP).toBe('127.0.0.1')
      expect(process.memoryUsage().rss - rss0).toBeLessThan(32 * 1024 * 1024)
      // The session goes on: requests work and a new GET stream may open.
      expect((await post(s.url, req(2, 'resources/list'), { session, version: V })).status).toBe(200)
      const ctl = new AbortController()
      const g = await fetch(s.url, { headers: { accept: 'text/event-stream', 'mcp-session-id': session, 'mcp-protocol-version': V }, signal: ctl.signal })
      expect(g.status).toBe(200)
      ctl.abort()
    } finally {
      sock.destroy()
      await s.close()
    }
  })
})

describe('bounded queues: the process-wide total', () => {
  test('non-reading streams under a large per-stream cap are closed at maxStreamBacklogBytesTotal, while a stream that keeps reading goes on', async () => {
    const rejected = []
    const uri = 'mem://' + 'u'.repeat(2000)
    const s = await startServer(
      {
        maxStreamBacklogBytes: 64 * 1024 * 1024,
        maxStreamBacklogBytesTotal: 512 * 1024,
        resources: [{ uri, name: 'u' }],
        readResource: async (u) => ({ contents: [{ uri: u, text: '' }] }),
      },
      { onConnectionRejected: (r) => rejected.push(r) },
    )
    const socks = []
    const ctl = new AbortController()
    try {
      const openGet = async (session) => {
        const sock = net.connect({ host: '127.0.0.1', port: s.port })
        sock.on('error', () => {})
        await new Promise((r) => sock.once('connect', r))
        sock.write(`GET /mcp HTTP/1.1\r\nHost: 127.0.0.1:${s.port}\r\nAccept: text/event-stream\r\nMcp-Session-Id: ${session}\r\nMcp-Protocol-Version: ${V}\r\n\r\n`)
        sock.pause() // never read
        socks.push(sock)
      }
      for (let i = 0; i < 3; i++) {
        const session = await openSession(s.url, V)
        expect((await post(s.url, req(1, 'resources/subscribe', { uri }), { session, version: V })).json.result).toEqual({})
        await openGet(session)
      }
      // The reader: its own session and GET stream, read as it comes.
      const good = await openSession(s.url, V)
      await post(s.url, req(1, 'resources/subscribe', { uri }), { session: good, version: V })
      const g = await fetch(s.url, { headers: { accept: 'text/event-stream', 'mcp-session-id': good, 'mcp-protocol-version': V }, signal: ctl.signal })
      expect(g.status).toBe(200)
      let seen = 0
      const reading = (async () => {
        const dec = new TextDecoder()
        let carry = ''
        for await (const chunk of g.body) {
          carry += dec.decode(chunk, { stream: true })
          const events = carry.split('\n\n')
          carry = events.pop()
          seen += events.filter((e) => e.includes('notifications/resources/updated')).length
        }
      })().catch(() => {})
      await new Promise((r) => setTimeout(r, 100))
      // ~2 KB a notification, 40 MB to each stream; a pause every 10 so the reader (on this
      // same JS thread) keeps up.
      const N = 20_000
      for (let i = 0; i < N; i++) {
        s.notifyResourceUpdated(uri)
        if (i % 10 === 9) await new Promise((r) => setTimeout(r, 1))
      }
      await waitFor(() => rejected.filter((r) => r.reason === 'slow_consumer').length >= 3, 'three slow_consumer reports')
      await waitFor(() => seen >= N, 'the reader to get every notification', { tries: 3000 }).catch(() => {})
      expect(seen).toBe(N)
      // Exactly the three that never read were closed.
      expect(rejected.filter((r) => r.reason === 'slow_consumer').length).toBe(3)
    } finally {
      ctl.abort()
      for (const sock of socks) sock.destroy()
      await s.close()
    }
  })
})

describe('bounded queues (2026-07-28)', () => {
  test('a 2026 request stream never read while its callback sends progress: slow_consumer names the client IP', async () => {
    const rejected = []
    let sent = 0
    const s = await startServer(
      {
        maxStreamBacklogBytes: 128 * 1024,
        tools: [{ name: 'chatty', inputSchema: { type: 'object', properties: {} } }],
        callTool: async (call, ctx) => {
          for (let i = 0; i < 20_000 && !ctx.signal.aborted; i++) {
            ctx.sendProgress(i, 20_000, 'p'.repeat(1000))
            sent++
            if (i % 500 === 499) await new Promise((r) => setImmediate(r))
          }
          return { content: [{ type: 'text', text: 'done' }] }
        },
      },
      { onConnectionRejected: (r) => rejected.push(r) },
    )
    const r = rawSocket(s.port, { read: false })
    try {
      await r.connected
      const params = { name: 'chatty', arguments: {}, _meta: meta({ progressToken: 'p1' }) }
      const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params })
      const head = Object.entries(modernHeaders('tools/call', params)).map(([k, v]) => `${k}: ${v}\r\n`).join('')
      r.sock.write(`POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:${s.port}\r\n${head}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`)
      await waitFor(() => rejected.some((x) => x.reason === 'slow_consumer'), 'the slow_consumer report')
      expect(rejected.find((x) => x.reason === 'slow_consumer').clientIP).toBe('127.0.0.1')
      expect(sent).toBeGreaterThan(0)
    } finally {
      r.sock.destroy()
      await s.close()
    }
  })
})

// A raw loopback socket; `text()` is what it has read so far, `closed` resolves on close.
function rawSocket(port, { read = true } = {}) {
  const sock = net.connect({ host: '127.0.0.1', port })
  let text = ''
  let bytes = 0
  sock.on('error', () => {})
  if (read) {
    sock.setEncoding('latin1')
    sock.on('data', (c) => {
      text += c
      bytes += c.length
    })
  }
  const connected = new Promise((r) => sock.once('connect', r))
  const closed = new Promise((r) => sock.once('close', r))
  return { sock, connected, closed, text: () => text, bytes: () => bytes }
}

// The timer is cleared once `p` settles: a pending one kept Jest from exiting.
const within = (p, ms) => {
  let timer
  const late = new Promise((r) => (timer = setTimeout(() => r(false), ms)))
  return Promise.race([p.then(() => true), late]).finally(() => clearTimeout(timer))
}

describe('timeouts and sockets', () => {
  test('a body that never finishes: 408 after requestBodyIdleTimeoutMs and the connection closes', async () => {
    const s = await startServer({ requestBodyIdleTimeoutMs: 300 })
    try {
      const socks = []
      for (let i = 0; i < 20; i++) {
        const r = rawSocket(s.port)
        await r.connected
        r.sock.write(`POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:${s.port}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: 1000\r\n\r\n{"jsonrpc":`)
        socks.push(r)
      }
      for (const r of socks) {
        expect(await within(r.closed, 3000)).toBe(true)
        expect(r.text()).toMatch(/^HTTP\/1\.1 408/)
        expect(r.text()).toContain('-32000')
      }
    } finally {
      await s.close()
    }
  })

  test('sockets are capped apart from sessions: stalled sockets beyond maxSockets are closed oldest first, and new clients still get answers', async () => {
    const s = await startServer({ maxSockets: 10 })
    try {
      const stalled = []
      for (let i = 0; i < 30; i++) {
        const r = rawSocket(s.port)
        await r.connected
        r.sock.write(`POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:${s.port}\r\n`) // a head never finished
        stalled.push(r)
      }
      // A well-behaved client gets its answer at once.
      const init = await initializeFrom(s.url, '127.0.0.2')
      expect(init.status).toBe(200)
      // The oldest stalled sockets were closed to make room; never more than the cap are open.
      expect(await within(stalled[0].closed, 2000)).toBe(true)
      await new Promise((r) => setTimeout(r, 100))
      const open = stalled.filter((r) => !r.sock.destroyed && r.sock.readyState === 'open').length
      expect(open).toBeLessThanOrEqual(10)
      for (const r of stalled) r.sock.destroy()
    } finally {
      await s.close()
    }
  })

  test('20 clients that ask for an 8 MB answer and never read it are dropped after writeTimeoutMs', async () => {
    const big = 'x'.repeat(8 * 1024 * 1024)
    const s = await startServer({
      writeTimeoutMs: 300,
      // Room for every answer: this test is about the write timeout, not the bytes-in-flight cap.
      maxResponseBytesInFlight: 1024 * 1024 * 1024,
      tools: [{ name: 'big', inputSchema: { type: 'object', properties: {} } }],
      callTool: async () => ({ content: [{ type: 'text', text: big }] }),
    })
    try {
      const socks = await unreadBigCalls(s.port, 20)
      // The answers are built (20 × 8 MB on the JS thread), written until the sockets stall, and
      // dropped writeTimeoutMs later; generous for a loaded machine.
      await new Promise((r) => setTimeout(r, 5000))
      // Reading now, each gets what the kernel buffered and then the end: never the whole answer.
      for (const r of socks) {
        let n = 0
        r.sock.on('data', (c) => (n += c.length))
        r.sock.resume()
        expect(await within(r.closed, 5000)).toBe(true)
        expect(n).toBeLessThan(big.length)
      }
    } finally {
      await s.close()
    }
  })

  test('answers in flight are capped: of 6 never-read 8 MB answers under maxResponseBytesInFlight 20 MiB at most two are held, the others get -32000, and the room comes back', async () => {
    const big = 'x'.repeat(8 * 1024 * 1024)
    const s = await startServer({
      maxResponseBytesInFlight: 20 * 1024 * 1024,
      tools: [{ name: 'big', inputSchema: { type: 'object', properties: {} } }],
      callTool: async () => ({ content: [{ type: 'text', text: big }] }),
    })
    try {
      const socks = await unreadBigCalls(s.port, 6)
      await new Promise((r) => setTimeout(r, 1500))
      // Now read everything each socket gets within 3 s.
      const got = await Promise.all(
        socks.map(
          (r) =>
            new Promise((resolve) => {
              const chunks = []
              r.sock.on('data', (c) => chunks.push(c))
              r.sock.resume()
              setTimeout(() => resolve(Buffer.concat(chunks).toString('latin1')), 3000)
            }),
        ),
      )
      const served = got.filter((t) => t.length > big.length)
      const refused = got.filter((t) => t.includes('maxResponseBytesInFlight'))
      expect(served.length).toBeGreaterThanOrEqual(1)
      expect(served.length).toBeLessThanOrEqual(2)
      expect(refused.length).toBe(6 - served.length)
      for (const t of refused) expect(t).toMatch(/"code":-32000/)
      for (const r of socks) r.sock.destroy()
      // The readers are gone: the room is back and a big answer goes out whole.
      await new Promise((r) => setTimeout(r, 200))
      const again = await modernPost(s.url, 'tools/call', { name: 'big', arguments: {} })
      expect(again.status).toBe(200)
      expect(again.json.result.content[0].text.length).toBe(big.length)
    } finally {
      await s.close()
    }
  })

  test('a large answer is handed to Rust in parts and arrives exactly (quotes, escapes, control characters, non-ASCII; both eras)', async () => {
    const unit = 'a"b\\c\n\t\u0001é😀\u2028</script>'
    const big = unit.repeat(Math.ceil((100 * 1024) / unit.length))
    const result = {
      content: [
        { type: 'text', text: big },
        { type: 'text', text: 'small' },
        { type: 'resource', resource: { uri: 'mem://x', text: big.slice(0, 5000) } },
      ],
      structuredContent: { n: 1, s: big.slice(0, 100) },
    }
    const s = await startServer({
      tools: [{ name: 'big', inputSchema: { type: 'object', properties: {} } }],
      callTool: async () => result,
    })
    try {
      const modern = await modernPost(s.url, 'tools/call', { name: 'big', arguments: {} })
      expect(modern.status).toBe(200)
      const { resultType, ...rest } = modern.json.result
      expect(resultType).toBe('complete')
      expect(rest).toEqual(result)
      const session = await openSession(s.url, V)
      const legacy = await post(s.url, req(2, 'tools/call', { name: 'big', arguments: {} }), { session, version: V })
      expect(legacy.json.result).toEqual(result)
    } finally {
      await s.close()
    }
  })

  test('a keep-alive connection with no request in flight is closed after keepAliveTimeoutMs', async () => {
    const s = await startServer({ keepAliveTimeoutMs: 200 })
    try {
      const r = rawSocket(s.port)
      await r.connected
      const body = JSON.stringify(req(0, 'initialize', { protocolVersion: V, capabilities: {}, clientInfo: { name: 'c', version: '1' } }))
      r.sock.write(`POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:${s.port}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: ${body.length}\r\n\r\n${body}`)
      expect(await within(r.closed, 3000)).toBe(true)
      expect(r.text()).toMatch(/^HTTP\/1\.1 200/)
    } finally {
      await s.close()
    }
  })

  test('close() with 10 half-sent request lines open resolves at once; a call in flight gets shutdownGraceMs, then its signal aborts', async () => {
    let aborted = false
    const s = await startServer({
      shutdownGraceMs: 500,
      tools: [{ name: 'hang', inputSchema: { type: 'object', properties: {} } }],
      callTool: (call, ctx) =>
        new Promise((resolve) => {
          ctx.signal.addEventListener('abort', () => {
            aborted = true
            resolve({ content: [] })
          })
        }),
    })
    const half = []
    for (let i = 0; i < 10; i++) {
      const r = rawSocket(s.port)
      await r.connected
      r.sock.write('POST /mc')
      half.push(r)
    }
    let t0 = Date.now()
    const quick = await startServer({})
    const q = []
    for (let i = 0; i < 10; i++) {
      const r = rawSocket(quick.port)
      await r.connected
      r.sock.write('POST /mc')
      q.push(r)
    }
    t0 = Date.now()
    await quick.close()
    expect(Date.now() - t0).toBeLessThan(1000)
    for (const r of q) expect(await within(r.closed, 1000)).toBe(true)
    // With a call in flight: the grace, then the abort.
    const session = await openSession(s.url, V)
    const call = post(s.url, req(1, 'tools/call', { name: 'hang', arguments: {} }), { session, version: V }).catch(() => null)
    await new Promise((r) => setTimeout(r, 100))
    t0 = Date.now()
    await s.close()
    const took = Date.now() - t0
    expect(took).toBeGreaterThanOrEqual(400)
    expect(took).toBeLessThan(2500)
    expect(aborted).toBe(true)
    await call
    for (const r of half) expect(await within(r.closed, 1000)).toBe(true)
  })
})

describe('internal stats', () => {
  test('internalStats without a token, Host: evil.example: 403 (routed after the Host/Origin checks)', async () => {
    const s = await startServer({ internalStats: true })
    try {
      const r = await request(`http://127.0.0.1:${s.port}/internal/connections`, { method: 'GET', headers: { host: 'evil.example' } })
      expect(r.status).toBe(403)
      const o = await request(`http://127.0.0.1:${s.port}/internal/connections`, { method: 'GET', headers: { origin: 'http://evil.example' } })
      expect(o.status).toBe(403)
    } finally {
      await s.close()
    }
  })

  test('internalStats without a token never lists session ids (masked); with the token it does', async () => {
    const open = await startServer({ internalStats: true })
    const tokened = await startServer({ internalStats: { token: 't0k' } })
    try {
      const sid = await openSession(open.url, V)
      const r = await request(`http://127.0.0.1:${open.port}/internal/connections`, { method: 'GET' })
      expect(r.status).toBe(200)
      expect(r.text).not.toContain(sid)
      expect(r.json.connections[0].sessionId).toBe(sid.slice(0, 4) + '***')
      const sid2 = await openSession(tokened.url, V)
      const t = await request(`http://127.0.0.1:${tokened.port}/internal/connections`, { method: 'GET', headers: { authorization: 'Bearer t0k' } })
      expect(t.json.connections[0].sessionId).toBe(sid2)
    } finally {
      await open.close()
      await tokened.close()
    }
  })

  test('internalStats without a token on a non-loopback bind refuses to start', async () => {
    await expect(startServer({ host: '0.0.0.0', internalStats: true })).rejects.toThrow(/internalStats needs a token/)
  })
})
