'use strict'
// Issue 3, in-process: connection tracking seen through the ConnectionMonitor callbacks and the
// queries, with real @modelcontextprotocol/sdk 1.x clients where the scenario names them and raw
// fetch where a test needs to count requests exactly. Loopback only, port 0, bounded waits, no
// timing assertions; every test closes its clients and servers so Jest exits on its own.
const { startStreamableMcpServer } = require('..')
const {
  sleep,
  waitFor,
  recorder,
  sdkClient,
  post,
  initializeBody,
  rawSession,
} = require('./fixtures/monitor-helpers')

const IDLE_MS = 300

function expectInfoShape(info) {
  expect(typeof info.sessionId).toBe('string')
  expect(info.era).toBe('legacy')
  expect(typeof info.clientIP).toBe('string')
  expect(typeof info.userAgent).toBe('string')
  expect(info.connectedAt).toBeInstanceOf(Date)
  expect(info.lastActivity).toBeInstanceOf(Date)
  expect(Number.isNaN(info.connectedAt.getTime())).toBe(false)
  expect(Number.isNaN(info.lastActivity.getTime())).toBe(false)
  expect(info.lastActivity.getTime()).toBeGreaterThanOrEqual(info.connectedAt.getTime())
  expect(Number.isInteger(info.requestCount)).toBe(true)
  expect(info.requestCount).toBeGreaterThanOrEqual(1)
}

function expectStatsShape(stats) {
  expect(stats.lastUpdated).toBeInstanceOf(Date)
  expect(Number.isNaN(stats.lastUpdated.getTime())).toBe(false)
  expect(Array.isArray(stats.connections)).toBe(true)
  expect(stats.connections).toHaveLength(stats.activeConnections)
  for (const c of stats.connections) expectInfoShape(c)
}

// Opens `n` raw sessions with `concurrency` workers; returns them in completion order.
async function openMany(url, n, concurrency = 32, opts = {}) {
  const out = []
  let next = 0
  const worker = async () => {
    while (next < n) {
      next++
      out.push(await rawSession(url, opts))
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker))
  return out
}

describe('three SDK clients: one DELETEs, one idles past sessionIdleTimeoutMs, one stays', () => {
  let server
  let rec
  let A, B, C // A terminates, B idles, C stays
  const snap = {}

  beforeAll(async () => {
    rec = recorder()
    server = await startStreamableMcpServer({ port: 0, host: '127.0.0.1', sessionIdleTimeoutMs: IDLE_MS }, rec.monitor)
    A = await sdkClient(server.url, 'client-a', '1.0.1')
    B = await sdkClient(server.url, 'client-b', '2.0.2')
    C = await sdkClient(server.url, 'client-c', '3.0.3')
    snap.afterConnect = server.getConnectionStats()
    snap.infoC = server.getConnectionInfo(C.sessionId)
    snap.protocolC = C.transport.protocolVersion

    // C stays: it pings well inside the idle timeout while B is left alone. Bounded loop.
    let keepAlive = true
    const keeper = (async () => {
      for (let i = 0; keepAlive && i < 200; i++) {
        try {
          await C.client.ping()
        } catch {}
        await sleep(40)
      }
    })()
    try {
      await A.transport.terminateSession()
      await waitFor(() => rec.closedFor(A.sessionId).length > 0, 'A closed', { soft: true })
      // docs/api.md: an idle session is closed no later than sessionIdleTimeoutMs + 1 s after its
      // last request. Wait a generous bound past that (soft: the tests below say what failed).
      await waitFor(() => rec.closedFor(B.sessionId).length > 0, 'B idle expiry', { tries: 400, intervalMs: 10, soft: true })
      snap.final = server.getConnectionStats()
      snap.finalActive = server.getActiveConnections()
      snap.infoA = server.getConnectionInfo(A.sessionId)
      snap.infoB = server.getConnectionInfo(B.sessionId)
      snap.infoCLater = server.getConnectionInfo(C.sessionId)
      // The last onConnectionChange describes the same counts as the query (coalescing may drop
      // intermediate ones, never the last).
      snap.lastChange = await waitFor(
        () => {
          const s = rec.lastChange()
          return s && s.activeConnections === snap.final.activeConnections && s.totalConnections === snap.final.totalConnections && s
        },
        'final onConnectionChange',
        { soft: true },
      )
    } finally {
      keepAlive = false
      await keeper
    }
    // What had been reported before close() (close() ends C, and would end B if it were still open).
    snap.closedBeforeClose = rec.closed().map((e) => ({ ...e }))
    await server.close()
    // Exactly what had arrived when close() resolved.
    snap.closedAtCloseResolve = rec.closed().map((e) => e.sessionId)
    await Promise.all([A.close(), B.close(), C.close()])
  }, 25000)

  afterAll(async () => {
    if (server) await server.close()
    await Promise.all([A, B, C].filter(Boolean).map((c) => c.close()))
  })

  test('onConnectionEstablished fires once per client, in connect order, with Date fields and the initialize clientInfo', () => {
    const est = rec.established()
    expect(est.map((e) => e.sessionId)).toEqual([A.sessionId, B.sessionId, C.sessionId])
    const byName = Object.fromEntries(est.map((e) => [e.info.clientName, e.info]))
    expect(Object.keys(byName).sort()).toEqual(['client-a', 'client-b', 'client-c'])
    expect(byName['client-a'].clientVersion).toBe('1.0.1')
    expect(byName['client-b'].clientVersion).toBe('2.0.2')
    expect(byName['client-c'].clientVersion).toBe('3.0.3')
    for (const { info } of est) {
      expectInfoShape(info)
      expect(info.clientIP).toBe('127.0.0.1')
      expect(info.requestCount).toBe(1) // initialize itself
      expect(info.protocolVersion).toBe(snap.protocolC)
    }
  })

  test('getConnectionInfo carries clientName/clientVersion/protocolVersion and Dates', () => {
    expect(snap.infoC).not.toBeNull()
    expectInfoShape(snap.infoC)
    expect(snap.infoC).toMatchObject({ sessionId: C.sessionId, clientName: 'client-c', clientVersion: '3.0.3', protocolVersion: snap.protocolC })
    expect(snap.infoCLater.requestCount).toBeGreaterThan(snap.infoC.requestCount) // C's pings
    expect(snap.infoCLater.lastActivity.getTime()).toBeGreaterThanOrEqual(snap.infoC.lastActivity.getTime())
  })

  test('after connecting: 3 total / 3 active', () => {
    expectStatsShape(snap.afterConnect)
    expect(snap.afterConnect.totalConnections).toBe(3)
    expect(snap.afterConnect.activeConnections).toBe(3)
  })

  const closedBeforeCloseFor = (id) => snap.closedBeforeClose.filter((e) => e.sessionId === id)

  test('DELETE (terminateSession) fires onConnectionClosed once with a numeric durationMs', () => {
    const closed = closedBeforeCloseFor(A.sessionId)
    expect(closed).toHaveLength(1)
    expect(typeof closed[0].durationMs).toBe('number')
    expect(closed[0].durationMs).toBeGreaterThanOrEqual(0)
    expect(snap.infoA).toBeNull()
  })

  // A real SDK client keeps its GET stream open after initialize; that stream must not keep an
  // otherwise idle session alive (docs/api.md: closed no later than sessionIdleTimeoutMs + 1 s after
  // its last request).
  test('the idle SDK client is closed by sessionIdleTimeoutMs, once, with durationMs >= the timeout', () => {
    expect(snap.infoB).toBeNull()
    const closed = closedBeforeCloseFor(B.sessionId)
    expect(closed).toHaveLength(1)
    expect(typeof closed[0].durationMs).toBe('number')
    expect(closed[0].durationMs).toBeGreaterThanOrEqual(IDLE_MS)
  })

  test('stats after the DELETE and the idle expiry: 3 total / 1 active, the one that stayed', () => {
    expectStatsShape(snap.final)
    expect(snap.final.totalConnections).toBe(3)
    expect(snap.final.activeConnections).toBe(1)
    expect(snap.finalActive).toBe(1)
    expect(snap.final.connections.map((c) => c.sessionId)).toEqual([C.sessionId])
  })

  test("onConnectionChange's last stats equal getConnectionStats", () => {
    expect(snap.lastChange).toBeDefined()
    expectStatsShape(snap.lastChange)
    expect(snap.lastChange.totalConnections).toBe(snap.final.totalConnections)
    expect(snap.lastChange.activeConnections).toBe(snap.final.activeConnections)
    expect(snap.lastChange.connections.map((c) => c.sessionId)).toEqual(snap.final.connections.map((c) => c.sessionId))
  })

  test('close() fires onConnectionClosed for the session still open before it resolves', () => {
    expect(closedBeforeCloseFor(C.sessionId)).toHaveLength(0)
    expect(snap.closedAtCloseResolve.filter((id) => id === C.sessionId)).toHaveLength(1)
    expect(new Set(snap.closedAtCloseResolve)).toEqual(new Set([A.sessionId, B.sessionId, C.sessionId]))
  })

  test('callbacks arrive in order, once per event: established before closed, one closed per session', () => {
    for (const id of [A.sessionId, B.sessionId, C.sessionId]) {
      const idx = (kind) => rec.events.findIndex((e) => e.kind === kind && e.sessionId === id)
      expect(rec.establishedFor(id)).toHaveLength(1)
      expect(rec.closedFor(id)).toHaveLength(1)
      expect(idx('established')).toBeLessThan(idx('closed'))
    }
    expect(rec.established()).toHaveLength(3)
    expect(rec.closed()).toHaveLength(3)
    expect(rec.rejected()).toHaveLength(0)
    // The last change after close(): nothing active, still 3 ever.
    const last = rec.lastChange()
    expect(last).toMatchObject({ activeConnections: 0, totalConnections: 3 })
  })
})

describe('getConnectionInfo and requestCount', () => {
  let server
  let rec
  afterEach(async () => {
    if (server) await server.close()
    server = undefined
  })

  test('requestCount counts the session POSTs and GETs; fields come from initialize and the socket', async () => {
    rec = recorder()
    server = await startStreamableMcpServer({ port: 0 }, rec.monitor)
    const s = await rawSession(server.url, {
      name: 'raw-info',
      version: '9.9.9',
      protocolVersion: '2025-03-26',
      headers: { 'user-agent': 'monitor-test/1.0' },
    })
    const i1 = server.getConnectionInfo(s.sessionId)
    expectInfoShape(i1)
    expect(i1).toMatchObject({
      sessionId: s.sessionId,
      era: 'legacy',
      clientIP: '127.0.0.1',
      userAgent: 'monitor-test/1.0',
      clientName: 'raw-info',
      clientVersion: '9.9.9',
      protocolVersion: '2025-03-26',
      requestCount: 2, // POST initialize + POST notifications/initialized
    })
    expect(await s.ping()).toBe(200)
    const i2 = server.getConnectionInfo(s.sessionId)
    expect(i2.requestCount).toBe(3)
    expect(i2.lastActivity.getTime()).toBeGreaterThanOrEqual(i1.lastActivity.getTime())
    expect(i2.connectedAt.getTime()).toBe(i1.connectedAt.getTime())
    const get = await s.openGet()
    expect(get.status).toBe(200)
    expect(server.getConnectionInfo(s.sessionId).requestCount).toBe(4)
    await get.abort()
    // DELETE is counted too, but it ends the connection, so no query can show its count.
    expect(await s.del()).toBe(200)
    expect(server.getConnectionInfo(s.sessionId)).toBeNull()
    await waitFor(() => rec.closedFor(s.sessionId).length, 'closed after DELETE')
    expect(rec.closedFor(s.sessionId)).toHaveLength(1)
    // A request to a deleted session is not counted anywhere (and gets 404).
    expect(await s.ping()).toBe(404)
    expect(server.getConnectionStats()).toMatchObject({ activeConnections: 0, totalConnections: 1 })
  })

  test('getConnectionInfo of an unknown id is null', async () => {
    server = await startStreamableMcpServer({ port: 0 })
    expect(server.getConnectionInfo('no-such-session')).toBeNull()
    expect(server.getConnectionInfo('')).toBeNull()
  })
})

describe('ending sessions', () => {
  let server
  afterEach(async () => {
    if (server) await server.close()
    server = undefined
  })

  test('closeSession() ends a session once, reports it, and the client gets 404 afterwards', async () => {
    const rec = recorder()
    server = await startStreamableMcpServer({ port: 0 }, rec.monitor)
    const s = await rawSession(server.url)
    const other = await rawSession(server.url)
    await expect(server.closeSession(s.sessionId)).resolves.toBe(true)
    expect(server.getConnectionInfo(s.sessionId)).toBeNull()
    await waitFor(() => rec.closedFor(s.sessionId).length, 'closed after closeSession')
    expect(await s.ping()).toBe(404)
    await expect(server.closeSession(s.sessionId)).resolves.toBe(false)
    await expect(server.closeSession('no-such-session')).resolves.toBe(false)
    await sleep(20)
    expect(rec.closedFor(s.sessionId)).toHaveLength(1)
    expect(typeof rec.closedFor(s.sessionId)[0].durationMs).toBe('number')
    expect(rec.closedFor(other.sessionId)).toHaveLength(0)
    expect(server.getConnectionStats()).toMatchObject({ activeConnections: 1, totalConnections: 2 })
  })

  test('close() reports every open session (many of them) before it resolves, and a second close() also resolves', async () => {
    const rec = recorder()
    const N = 2500 // several batches of queued threadsafe calls (Node runs at most 1000 a turn)
    server = await startStreamableMcpServer({ port: 0, maxConnections: 5000 }, rec.monitor)
    const sessions = await openMany(server.url, N)
    expect(server.getActiveConnections()).toBe(N)
    const closing = server.close()
    const again = server.close()
    // Hold the JS thread for a moment (a synchronous sleep) while the native side ends every
    // session, so their events are all queued before JS sees any of them: the contract must hold
    // however the deliveries are batched.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 300)
    await closing
    const closedIds = rec.closed().map((e) => e.sessionId)
    await again
    expect(closedIds).toHaveLength(N)
    expect(new Set(closedIds)).toEqual(new Set(sessions.map((s) => s.sessionId)))
    expect(server.getActiveConnections()).toBe(0)
    expect(server.getConnectionStats().totalConnections).toBe(N)
  }, 30000)

  test('a request after close() is refused and the queries still answer', async () => {
    const rec = recorder()
    server = await startStreamableMcpServer({ port: 0 }, rec.monitor)
    const url = server.url
    const s = await rawSession(url)
    await server.close()
    expect(rec.closedFor(s.sessionId)).toHaveLength(1)
    await expect(rawSession(url)).rejects.toThrow()
    expect(server.getConnectionStats()).toMatchObject({ activeConnections: 0, totalConnections: 1 })
  })
})

describe('idle expiry (sessionIdleTimeoutMs)', () => {
  let server
  afterEach(async () => {
    if (server) await server.close()
    server = undefined
  })

  test('a session with no requests is closed once and reported; a busy one is not', async () => {
    const rec = recorder()
    server = await startStreamableMcpServer({ port: 0, sessionIdleTimeoutMs: IDLE_MS }, rec.monitor)
    const idle = await rawSession(server.url)
    const busy = await rawSession(server.url)
    for (let i = 0; i < 300 && rec.closedFor(idle.sessionId).length === 0; i++) {
      await busy.ping(i + 10)
      await sleep(20)
    }
    expect(rec.closedFor(idle.sessionId)).toHaveLength(1)
    expect(rec.closedFor(idle.sessionId)[0].durationMs).toBeGreaterThanOrEqual(IDLE_MS)
    expect(await idle.ping()).toBe(404)
    expect(rec.closedFor(busy.sessionId)).toHaveLength(0)
    expect(server.getConnectionInfo(busy.sessionId)).not.toBeNull()
  })

  test('a GET stream the client already abandoned does not keep the session alive', async () => {
    const rec = recorder()
    server = await startStreamableMcpServer({ port: 0, sessionIdleTimeoutMs: IDLE_MS }, rec.monitor)
    const s = await rawSession(server.url)
    const get = await s.openGet()
    expect(get.status).toBe(200)
    await get.abort()
    // idle + 1 s is the contract; wait up to ~3 s.
    await waitFor(() => rec.closedFor(s.sessionId).length, 'idle expiry after the GET stream was dropped', { tries: 300, intervalMs: 10, soft: true })
    expect(rec.closedFor(s.sessionId)).toHaveLength(1)
    expect(server.getConnectionInfo(s.sessionId)).toBeNull()
  })
})

describe('a throwing monitor callback', () => {
  // Jest gives each test file its own copy of `process`, and Node emits 'warning' on the real
  // one, so here the report is seen through process.emitWarning; the 'warning' event itself is
  // checked in a plain child process (monitor-stdout.test.js).
  test('is reported (process.emitWarning) and the server keeps serving and reporting', async () => {
    const warn = jest.spyOn(process, 'emitWarning').mockImplementation(() => {})
    const rec = recorder({ throwIn: 'onConnectionEstablished' })
    const monitor = {
      ...rec.monitor,
      // An async callback that rejects is reported the same way.
      onConnectionChange: async (stats) => {
        rec.monitor.onConnectionChange(stats)
        throw new Error('host bug in onConnectionChange')
      },
    }
    const server = await startStreamableMcpServer({ port: 0 }, monitor)
    try {
      const a = await sdkClient(server.url, 'thrower-a')
      const b = await sdkClient(server.url, 'thrower-b')
      await expect(a.client.ping()).resolves.toBeDefined()
      await a.transport.terminateSession()
      await waitFor(() => rec.closedFor(a.sessionId).length, 'closed after a throw in established')
      const messages = () => warn.mock.calls.map((c) => String(c[0]))
      await waitFor(
        () =>
          messages().some((m) => /onConnectionEstablished threw/.test(m)) && messages().some((m) => /onConnectionChange threw/.test(m)),
        'both warnings',
      )
      expect(warn.mock.calls.every((c) => c[1] === 'MonitorCallbackWarning')).toBe(true)
      expect(messages().filter((m) => /onConnectionEstablished threw/.test(m))).toHaveLength(2)
      expect(rec.established()).toHaveLength(2)
      expect(server.getConnectionStats()).toMatchObject({ activeConnections: 1, totalConnections: 2 })
      await Promise.all([a.close(), b.close()])
    } finally {
      await server.close()
      warn.mockRestore()
    }
  })
})

describe('maxConnections', () => {
  test('an initialize beyond it gets 503 with a JSON-RPC error body and onConnectionRejected', async () => {
    const rec = recorder()
    const server = await startStreamableMcpServer({ port: 0, maxConnections: 1 }, rec.monitor)
    try {
      const first = await sdkClient(server.url, 'first')
      const r = await post(server.url, initializeBody('second'))
      expect(r.status).toBe(503)
      expect(r.headers.get('content-type')).toMatch(/application\/json/)
      expect(r.headers.get('mcp-session-id')).toBeNull()
      const body = await r.json()
      expect(body.jsonrpc).toBe('2.0')
      expect(body.id).toBe(1)
      expect(body.result).toBeUndefined()
      expect(Number.isInteger(body.error.code)).toBe(true)
      expect(typeof body.error.message).toBe('string')
      await waitFor(() => rec.rejected().length, 'onConnectionRejected')
      const [rej] = rec.rejected()
      expect(rej.info.reason).toBe('max_connections')
      expect(rej.info.clientIP).toBe('127.0.0.1')
      expect(rej.info.at).toBeInstanceOf(Date)
      expect(Number.isNaN(rej.info.at.getTime())).toBe(false)
      // A refusal is neither a connection nor a change of the counts.
      expect(server.getConnectionStats()).toMatchObject({ activeConnections: 1, totalConnections: 1 })
      // A real SDK client sees the refusal too.
      await expect(sdkClient(server.url, 'third')).rejects.toThrow()
      await waitFor(() => rec.rejected().length >= 2, 'second onConnectionRejected')
      // Room again once the first one leaves.
      await first.transport.terminateSession()
      await first.close()
      await waitFor(() => server.getActiveConnections() === 0, 'first gone')
      const later = await rawSession(server.url)
      expect(server.getConnectionInfo(later.sessionId)).not.toBeNull()
      expect(server.getConnectionStats()).toMatchObject({ activeConnections: 1, totalConnections: 2 })
      expect(rec.established()).toHaveLength(2)
    } finally {
      await server.close()
    }
  })
})

describe('client IP', () => {
  const XFF = { 'x-forwarded-for': '203.0.113.7, 10.0.0.1' }

  test('trustProxy takes the first X-Forwarded-For address', async () => {
    const rec = recorder()
    const server = await startStreamableMcpServer({ port: 0, trustProxy: true }, rec.monitor)
    try {
      const s = await rawSession(server.url, { headers: XFF })
      expect(server.getConnectionInfo(s.sessionId).clientIP).toBe('203.0.113.7')
      await waitFor(() => rec.establishedFor(s.sessionId).length, 'established')
      expect(rec.establishedFor(s.sessionId)[0].info.clientIP).toBe('203.0.113.7')
      const plain = await rawSession(server.url)
      expect(server.getConnectionInfo(plain.sessionId).clientIP).toBe('127.0.0.1')
    } finally {
      await server.close()
    }
  })

  test('without trustProxy X-Forwarded-For is ignored: the socket address', async () => {
    const server = await startStreamableMcpServer({ port: 0 })
    try {
      const s = await rawSession(server.url, { headers: XFF })
      expect(server.getConnectionInfo(s.sessionId).clientIP).toBe('127.0.0.1')
    } finally {
      await server.close()
    }
  })
})

describe('onConnectionChange under a burst', () => {
  test('changes may be coalesced, but the last one equals getConnectionStats', async () => {
    const rec = recorder()
    const server = await startStreamableMcpServer({ port: 0 }, rec.monitor)
    try {
      const opened = await Promise.all(Array.from({ length: 40 }, (_, i) => rawSession(server.url, { name: `burst-${i}` })))
      await Promise.all(opened.slice(0, 15).map((s) => s.del()))
      const want = server.getConnectionStats()
      expect(want).toMatchObject({ activeConnections: 25, totalConnections: 40 })
      const last = await waitFor(
        () => {
          const s = rec.lastChange()
          return s && s.activeConnections === 25 && s.totalConnections === 40 && s
        },
        'final change',
      )
      // Nothing newer arrives once it settled.
      await sleep(50)
      expect(rec.lastChange()).toBe(last)
      expectStatsShape(last)
      expect(new Set(last.connections.map((c) => c.sessionId))).toEqual(new Set(want.connections.map((c) => c.sessionId)))
      // Once per event for established/closed; at most one change per event.
      expect(rec.established()).toHaveLength(40)
      expect(rec.closed()).toHaveLength(15)
      expect(rec.changes().length).toBeGreaterThanOrEqual(1)
      expect(rec.changes().length).toBeLessThanOrEqual(55)
    } finally {
      await server.close()
    }
  })
})

describe('internalStats endpoint', () => {
  const UA = { 'user-agent': 'secret-agent/1.0' }

  test('is off by default', async () => {
    const server = await startStreamableMcpServer({ port: 0 })
    try {
      const r = await fetch(new URL('/internal/connections', server.url))
      await r.arrayBuffer()
      expect(r.status).toBe(404)
    } finally {
      await server.close()
    }
  })

  test('with a token: 401 without it, masked with it, revealed with ?reveal=1', async () => {
    const server = await startStreamableMcpServer({ port: 0, internalStats: { token: 's3cret' } })
    try {
      const s = await rawSession(server.url, { headers: UA })
      const at = (q = '') => new URL(`/internal/connections${q}`, server.url)
      const auth = { authorization: 'Bearer s3cret' }

      for (const headers of [{}, { authorization: 'Bearer wrong' }, { authorization: 's3cret' }]) {
        const r = await fetch(at(), { headers })
        await r.arrayBuffer()
        expect(r.status).toBe(401)
      }
      const noTokenReveal = await fetch(at('?reveal=1'))
      await noTokenReveal.arrayBuffer()
      expect(noTokenReveal.status).toBe(401)

      const masked = await fetch(at(), { headers: auth })
      expect(masked.status).toBe(200)
      expect(masked.headers.get('content-type')).toMatch(/application\/json/)
      const m = await masked.json()
      expect(m).toMatchObject({ activeConnections: 1, totalConnections: 1 })
      expect(m.connections).toHaveLength(1)
      expect(m.connections[0].sessionId).toBe(s.sessionId)
      expect(m.connections[0].clientIP).not.toBe('127.0.0.1')
      expect(m.connections[0].userAgent).not.toBe('secret-agent/1.0')
      expect(JSON.stringify(m)).not.toContain('secret-agent')
      expect(JSON.stringify(m)).not.toContain('127.0.0.1')

      const revealed = await (await fetch(at('?reveal=1'), { headers: auth })).json()
      expect(revealed.connections[0]).toMatchObject({ clientIP: '127.0.0.1', userAgent: 'secret-agent/1.0' })
    } finally {
      await server.close()
    }
  })

  test('without a token it masks always (nobody holds a token to reveal with); a custom path moves it', async () => {
    const server = await startStreamableMcpServer({ port: 0, internalStats: { path: '/stats' } })
    try {
      await rawSession(server.url, { headers: UA })
      const r = await fetch(new URL('/stats?reveal=1', server.url))
      expect(r.status).toBe(200)
      const body = await r.json()
      expect(body).toMatchObject({ activeConnections: 1, totalConnections: 1 })
      expect(JSON.stringify(body)).not.toContain('secret-agent')
      expect(JSON.stringify(body)).not.toContain('127.0.0.1')
      const old = await fetch(new URL('/internal/connections', server.url))
      await old.arrayBuffer()
      expect(old.status).toBe(404)
    } finally {
      await server.close()
    }
  })
})
