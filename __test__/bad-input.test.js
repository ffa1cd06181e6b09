'use strict'
// Bad input over raw HTTP on loopback (issue 2): for each malformed or hostile request, the HTTP
// status and the JSON-RPC error the server answers with. docs/errors.md holds the table of these
// tests; keep the two in step (test names are the table's last column).
const http = require('node:http')
const { startServer, post, openSession, readResponse, waitFor, deferred, ACCEPT_BOTH } = require('./helpers/mcp')

const OBJ = { type: 'object', properties: {} }
const MAX_BODY = 2048

let server
let url
let session // a 2025-06-18 session
const hung = [] // resolvers of callbacks left hanging, settled in afterAll
let lateSettled = 0

beforeAll(async () => {
  server = await startServer({
    maxBodyBytes: MAX_BODY,
    callbackTimeoutMs: 200,
    tools: [
      { name: 'ok', inputSchema: OBJ },
      { name: 'throws', inputSchema: OBJ },
      { name: 'hangs', inputSchema: OBJ },
      { name: 'bigint', inputSchema: OBJ },
    ],
    prompts: [{ name: 'throws' }],
    getPrompt: async () => {
      throw new Error('prompt callback failed')
    },
    callTool: (call) => {
      if (call.name === 'throws') throw new Error('tool callback failed')
      if (call.name === 'bigint') return Promise.resolve({ content: [], structuredContent: { n: 1n } })
      if (call.name === 'hangs') {
        const d = deferred()
        hung.push(d.resolve)
        return d.promise.then(() => {
          lateSettled++
          return { content: [{ type: 'text', text: 'too late' }] }
        })
      }
      return Promise.resolve({ content: [{ type: 'text', text: 'ok' }] })
    },
  })
  url = server.url
  session = await openSession(url, '2025-06-18')
})

afterAll(async () => {
  for (const r of hung) r()
  await server.close()
})

const V = '2025-06-18'
const req = (id, method, params) => ({ jsonrpc: '2.0', id, method, ...(params ? { params } : {}) })

// A JSON-RPC error response: { jsonrpc: '2.0', id, error: { code, message } }. `id` may be a
// list of the ids JSON-RPC allows (null when the server could not tell, or the request's own).
function expectRpcError(r, status, code, id = null) {
  expect(r.status).toBe(status)
  expect(r.json).toBeDefined()
  expect(r.json.jsonrpc).toBe('2.0')
  if (Array.isArray(id)) expect(id).toContain(r.json.id)
  else expect(r.json.id).toBe(id)
  expect(r.json.error.code).toBe(code)
  expect(typeof r.json.error.message).toBe('string')
  expect(r.json.result).toBeUndefined()
}

// node:http for what fetch refuses to send (a foreign Host header).
function rawRequest(target, { method = 'POST', headers = {}, body } = {}) {
  const u = new URL(target)
  return new Promise((resolve, reject) => {
    const rq = http.request({ host: u.hostname, port: u.port, path: u.pathname + u.search, method, headers, agent: false }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (c) => (text += c))
      res.on('end', () => {
        let json
        try {
          json = JSON.parse(text)
        } catch {}
        resolve({ status: res.statusCode, headers: res.headers, text, json })
      })
    })
    rq.on('error', reject)
    if (body !== undefined) rq.write(body)
    rq.end()
  })
}

// The server still answers a good request on the shared session.
async function stillServing() {
  const r = await post(url, req(999, 'tools/list'), { session, version: V })
  expect(r.status).toBe(200)
  expect(r.json.result.tools.map((t) => t.name)).toEqual(['ok', 'throws', 'hangs', 'bigint'])
}

describe('JSON and JSON-RPC framing', () => {
  test('malformed JSON gives 400 and -32700', async () => {
    const r = await post(url, '{"jsonrpc":"2.0","id":1,"method":', { session, version: V, raw: true })
    expectRpcError(r, 400, -32700)
    await stillServing()
  })

  test('a body that is not UTF-8 JSON gives 400 and -32700', async () => {
    const r = await post(url, Buffer.from([0xff, 0xfe, 0x00, 0x7b]), { session, version: V, raw: true })
    expectRpcError(r, 400, -32700)
  })

  test('missing jsonrpc member gives 400 and -32600', async () => {
    const r = await post(url, { id: 1, method: 'tools/list' }, { session, version: V })
    expectRpcError(r, 400, -32600)
  })

  test('jsonrpc other than "2.0" gives 400 and -32600', async () => {
    const r = await post(url, { jsonrpc: '1.0', id: 1, method: 'tools/list' }, { session, version: V })
    expectRpcError(r, 400, -32600)
  })

  test('an id that is not a string or a number gives 400 and -32600', async () => {
    for (const id of [{}, true, null, [1]]) {
      const r = await post(url, { jsonrpc: '2.0', id, method: 'tools/list' }, { session, version: V })
      expectRpcError(r, 400, -32600)
    }
  })

  test('params that are a string gives 400 and -32600', async () => {
    const r = await post(url, { jsonrpc: '2.0', id: 1, method: 'tools/list', params: 'all' }, { session, version: V })
    expectRpcError(r, 400, -32600)
  })

  test('params that are an array gives 400 and -32600', async () => {
    // MCP (every revision) types params as an object; by-position params are not MCP.
    let calls = 0
    const s = await startServer({
      tools: [{ name: 'ok', inputSchema: OBJ }],
      callTool: async () => {
        calls++
        return { content: [] }
      },
    })
    try {
      const sid = await openSession(s.url, V)
      const r = await post(s.url, { jsonrpc: '2.0', id: 1, method: 'tools/call', params: ['ok'] }, { session: sid, version: V })
      expectRpcError(r, 400, -32600, [null, 1])
      expect(calls).toBe(0)
    } finally {
      await s.close()
    }
  })

  test('a JSON value that is not an object gives 400 and -32600', async () => {
    const r = await post(url, '"tools/list"', { session, version: V, raw: true })
    expectRpcError(r, 400, -32600)
  })

  test('a method that is not a string gives 400 and -32600', async () => {
    const r = await post(url, { jsonrpc: '2.0', id: 1, method: 42 }, { session, version: V })
    expectRpcError(r, 400, -32600)
  })

  test('an empty batch gives 400 and -32600', async () => {
    const r = await post(url, [], { session, version: V })
    expectRpcError(r, 400, -32600)
  })

  test('an unknown method gives 200 and -32601', async () => {
    const r = await post(url, req(5, 'tools/explode'), { session, version: V })
    expectRpcError(r, 200, -32601, 5)
  })

  test('initialize without params gives 400 and -32602', async () => {
    const r = await post(url, req(3, 'initialize'))
    expectRpcError(r, 400, -32602, 3)
  })
})

describe('batches', () => {
  test('a batch on a 2025-06-18 session gives 400 and -32600', async () => {
    const r = await post(url, [req(1, 'ping'), req(2, 'tools/list')], { session, version: V })
    expectRpcError(r, 400, -32600)
  })

  test('a batch on a 2025-03-26 session is answered with an array of responses', async () => {
    const old = await openSession(url, '2025-03-26')
    const r = await post(url, [req(1, 'ping'), { jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: 'x', progress: 1 } }, req(2, 'tools/list')], {
      session: old,
      version: '2025-03-26',
    })
    expect(r.status).toBe(200)
    expect(Array.isArray(r.json)).toBe(true)
    const byId = Object.fromEntries(r.json.map((m) => [m.id, m]))
    expect(Object.keys(byId).sort()).toEqual(['1', '2'])
    expect(byId[1].result).toEqual({})
    expect(byId[2].result.tools).toHaveLength(4)
  })

  test('initialize inside a batch gives 400 and -32600', async () => {
    const r = await post(url, [req(1, 'initialize', { protocolVersion: '2025-03-26', capabilities: {}, clientInfo: { name: 'x', version: '1' } })])
    expectRpcError(r, 400, -32600)
  })
})

describe('sessions and headers', () => {
  test('a request without Mcp-Session-Id gives 400 and -32000', async () => {
    const r = await post(url, req(1, 'tools/list'), { version: V })
    expectRpcError(r, 400, -32000)
  })

  test('a GET or DELETE without Mcp-Session-Id gives 400 and -32000', async () => {
    const g = await fetch(url, { headers: { accept: 'text/event-stream', 'mcp-protocol-version': V } })
    expectRpcError(await readResponse(g), 400, -32000)
    const d = await fetch(url, { method: 'DELETE', headers: { 'mcp-protocol-version': V } })
    expectRpcError(await readResponse(d), 400, -32000)
  })

  test('an unknown Mcp-Session-Id gives 404 and -32001', async () => {
    const r = await post(url, req(1, 'tools/list'), { session: 'no-such-session', version: V })
    expectRpcError(r, 404, -32001)
    const g = await fetch(url, { headers: { accept: 'text/event-stream', 'mcp-session-id': 'no-such-session' } })
    expectRpcError(await readResponse(g), 404, -32001)
    const d = await fetch(url, { method: 'DELETE', headers: { 'mcp-session-id': 'no-such-session' } })
    expectRpcError(await readResponse(d), 404, -32001)
  })

  test('a deleted session gives 404 and -32001', async () => {
    const sid = await openSession(url, V)
    const d = await fetch(url, { method: 'DELETE', headers: { 'mcp-session-id': sid, 'mcp-protocol-version': V } })
    expect(d.status).toBe(200)
    await d.body?.cancel()
    const r = await post(url, req(1, 'tools/list'), { session: sid, version: V })
    expectRpcError(r, 404, -32001)
  })

  test('an unsupported MCP-Protocol-Version on a session request gives 400 and -32000', async () => {
    const r = await post(url, req(1, 'tools/list'), { session, version: '1999-01-01' })
    expectRpcError(r, 400, -32000)
    expect(r.json.error.message).toMatch(/1999-01-01/)
    await stillServing()
  })

  test('a wrong Content-Type gives 415 and -32000', async () => {
    const r = await post(url, req(1, 'tools/list'), { session, version: V, headers: { 'content-type': 'text/plain' } })
    expectRpcError(r, 415, -32000)
  })

  test('a POST whose Accept lacks text/event-stream gives 406 and -32000', async () => {
    const r = await post(url, req(1, 'tools/list'), { session, version: V, headers: { accept: 'application/json' } })
    expectRpcError(r, 406, -32000)
  })

  test('a POST whose Accept lacks application/json gives 406 and -32000', async () => {
    const r = await post(url, req(1, 'tools/list'), { session, version: V, headers: { accept: 'text/event-stream' } })
    expectRpcError(r, 406, -32000)
  })

  test('a GET whose Accept lacks text/event-stream gives 406 and -32000', async () => {
    const g = await fetch(url, { headers: { accept: 'application/json', 'mcp-session-id': session, 'mcp-protocol-version': V } })
    expectRpcError(await readResponse(g), 406, -32000)
  })

  test('a second GET stream on one session gives 409 and -32000', async () => {
    const sid = await openSession(url, V)
    const ac = new AbortController()
    const headers = { accept: 'text/event-stream', 'mcp-session-id': sid, 'mcp-protocol-version': V }
    const first = await fetch(url, { headers, signal: ac.signal })
    expect(first.status).toBe(200)
    expect(first.headers.get('content-type')).toMatch(/^text\/event-stream/)
    const second = await fetch(url, { headers })
    expectRpcError(await readResponse(second), 409, -32000)
    // Once the first stream is gone, the session may open one again (bounded retries: the
    // server learns of the disconnect asynchronously).
    ac.abort()
    await first.body?.cancel().catch(() => {})
    let again
    await waitFor(async () => {
      const attempt = await fetch(url, { headers, signal: AbortSignal.timeout(5000) })
      if (attempt.status === 200) {
        again = attempt
        return true
      }
      await attempt.body?.cancel()
      return false
    }, 'a new GET stream after the first closed', { tries: 100, intervalMs: 20 })
    await again.body.cancel().catch(() => {})
    const d = await fetch(url, { method: 'DELETE', headers: { 'mcp-session-id': sid } })
    await d.body?.cancel()
  })

  test('an unknown Last-Event-ID gives 400 and -32000', async () => {
    const g = await fetch(url, { headers: { accept: 'text/event-stream', 'mcp-session-id': session, 'mcp-protocol-version': V, 'last-event-id': 'not-an-event' } })
    expectRpcError(await readResponse(g), 400, -32000)
  })

  test('PUT and PATCH give 405 with Allow and -32000', async () => {
    for (const method of ['PUT', 'PATCH']) {
      const r = await readResponse(await fetch(url, { method, headers: { 'content-type': 'application/json', 'mcp-session-id': session }, body: '{}' }))
      expectRpcError(r, 405, -32000)
      expect(r.headers.get('allow')).toBe('GET, POST, DELETE')
    }
  })

  test('an unknown path gives 404 and -32000', async () => {
    const r = await post(url.replace(/\/mcp$/, '/nope'), req(1, 'tools/list'), { session, version: V })
    expectRpcError(r, 404, -32000)
  })

  test('a POST of notifications only gives 202 with no body', async () => {
    const r = await post(url, { jsonrpc: '2.0', method: 'notifications/roots/list_changed' }, { session, version: V })
    expect(r.status).toBe(202)
    expect(r.text).toBe('')
    // A client's response to nothing the server asked is accepted the same way.
    const r2 = await post(url, { jsonrpc: '2.0', id: 12345, result: {} }, { session, version: V })
    expect(r2.status).toBe(202)
    expect(r2.text).toBe('')
  })
})

describe('size, origin and host', () => {
  test('a body over maxBodyBytes gives 413 and -32000', async () => {
    const big = JSON.stringify(req(1, 'tools/list', { pad: 'x'.repeat(MAX_BODY) }))
    const r = await post(url, big, { session, version: V, raw: true })
    expectRpcError(r, 413, -32000)
    await stillServing()
  })

  test('a chunked body over maxBodyBytes (no Content-Length) gives 413 and -32000', async () => {
    const chunk = new TextEncoder().encode(`{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"pad":"${'x'.repeat(MAX_BODY)}"}}`)
    const body = new ReadableStream({
      start(c) {
        for (let i = 0; i < chunk.length; i += 256) c.enqueue(chunk.slice(i, i + 256))
        c.close()
      },
    })
    const res = await fetch(url, {
      method: 'POST',
      duplex: 'half',
      headers: { 'content-type': 'application/json', accept: ACCEPT_BOTH, 'mcp-session-id': session, 'mcp-protocol-version': V },
      body,
    })
    expectRpcError(await readResponse(res), 413, -32000)
  })

  test('a body of exactly maxBodyBytes is accepted', async () => {
    const base = JSON.stringify(req(1, 'tools/list', { pad: '' }))
    const exact = JSON.stringify(req(1, 'tools/list', { pad: 'x'.repeat(MAX_BODY - base.length) }))
    expect(Buffer.byteLength(exact)).toBe(MAX_BODY)
    const r = await post(url, exact, { session, version: V, raw: true })
    expect(r.status).toBe(200)
    expect(r.json.result.tools).toHaveLength(4)
  })

  test('a foreign Origin gives 403 and -32000', async () => {
    const r = await post(url, req(1, 'tools/list'), { session, version: V, headers: { origin: 'http://evil.example' } })
    expectRpcError(r, 403, -32000)
    // Sandboxed pages and file:// send the literal "null".
    const n = await post(url, req(1, 'tools/list'), { session, version: V, headers: { origin: 'null' } })
    expectRpcError(n, 403, -32000)
    const ok = await post(url, req(1, 'tools/list'), { session, version: V, headers: { origin: `http://localhost:${server.port}` } })
    expect(ok.status).toBe(200)
  })

  test('a foreign Host gives 403 and -32000', async () => {
    const r = await rawRequest(url, {
      headers: { host: 'evil.example', 'content-type': 'application/json', accept: ACCEPT_BOTH, 'mcp-session-id': session },
      body: JSON.stringify(req(1, 'tools/list')),
    })
    expect(r.status).toBe(403)
    expect(r.json).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: -32000 } })
    const ok = await rawRequest(url, {
      headers: { host: `localhost:${server.port}`, 'content-type': 'application/json', accept: ACCEPT_BOTH, 'mcp-session-id': session },
      body: JSON.stringify(req(1, 'tools/list')),
    })
    expect(ok.status).toBe(200)
  })

  test('an Origin outside allowedOrigins gives 403 and -32000', async () => {
    const s = await startServer({ allowedOrigins: ['https://app.example'] })
    try {
      const init = req(1, 'initialize', { protocolVersion: V, capabilities: {}, clientInfo: { name: 'x', version: '1' } })
      expectRpcError(await post(s.url, init, { headers: { origin: `http://localhost:${s.port}` } }), 403, -32000)
      const ok = await post(s.url, init, { headers: { origin: 'https://app.example' } })
      expect(ok.status).toBe(200)
    } finally {
      await s.close()
    }
  })
})

describe('limits', () => {
  test('initialize beyond maxConnections gives 503 and -32000', async () => {
    const rejected = []
    const s = await startServer({ maxConnections: 1 }, { onConnectionRejected: (r) => rejected.push(r) })
    try {
      const first = await openSession(s.url, V)
      const r = await post(s.url, req(7, 'initialize', { protocolVersion: V, capabilities: {}, clientInfo: { name: 'x', version: '1' } }))
      expectRpcError(r, 503, -32000, 7)
      expect(r.headers.get('mcp-session-id')).toBeNull()
      expect(s.getActiveConnections()).toBe(1)
      await waitFor(() => rejected.length === 1, 'onConnectionRejected')
      expect(rejected[0].clientIP).toBe('127.0.0.1')
      // Ending the first session frees the slot.
      const d = await fetch(s.url, { method: 'DELETE', headers: { 'mcp-session-id': first } })
      expect(d.status).toBe(200)
      await d.body?.cancel()
      const again = await post(s.url, req(8, 'initialize', { protocolVersion: V, capabilities: {}, clientInfo: { name: 'x', version: '1' } }))
      expect(again.status).toBe(200)
    } finally {
      await s.close()
    }
  })
})

describe('callbacks', () => {
  test('a throwing callTool gives 200 and an isError tool result', async () => {
    const r = await post(url, req(21, 'tools/call', { name: 'throws', arguments: {} }), { session, version: V })
    expect(r.status).toBe(200)
    expect(r.json).toEqual({ jsonrpc: '2.0', id: 21, result: { content: [{ type: 'text', text: 'tool callback failed' }], isError: true } })
    await stillServing()
  })

  test('a throwing getPrompt gives 200 and -32603', async () => {
    const r = await post(url, req(22, 'prompts/get', { name: 'throws' }), { session, version: V })
    expectRpcError(r, 200, -32603, 22)
    expect(r.json.error.message).toMatch(/prompt callback failed/)
  })

  test('a callTool result that cannot be serialized (BigInt) gives 200 and -32603', async () => {
    const r = await post(url, req(29, 'tools/call', { name: 'bigint', arguments: {} }), { session, version: V })
    expectRpcError(r, 200, -32603, 29)
    expect(r.json.error.message).toMatch(/serializ/i)
    await stillServing()
  })

  test('a hanging callTool past callbackTimeoutMs gives 200 and -32001', async () => {
    const before = hung.length
    const r = await post(url, req(23, 'tools/call', { name: 'hangs', arguments: {} }), { session, version: V })
    expectRpcError(r, 200, -32001, 23)
    expect(hung.length).toBe(before + 1)
    // The stream carried only the error: the late answer has nowhere to go and is dropped.
    hung[hung.length - 1]()
    await waitFor(() => lateSettled === before + 1, 'the late answer')
    await stillServing()
  })

  test('an unknown tool gives 200 and -32602', async () => {
    const r = await post(url, req(24, 'tools/call', { name: 'missing', arguments: {} }), { session, version: V })
    expectRpcError(r, 200, -32602, 24)
  })

  test('tools/call without a name gives 200 and -32602', async () => {
    const r = await post(url, req(25, 'tools/call', { arguments: {} }), { session, version: V })
    expectRpcError(r, 200, -32602, 25)
  })

  test('tools/call with arguments that are not an object gives 200 and -32602', async () => {
    // MCP types tools/call arguments as an object, and the API (docs/api.md) hands callTool `arguments: object`.
    let calls = 0
    const s = await startServer({
      tools: [{ name: 'ok', inputSchema: OBJ }],
      callTool: async () => {
        calls++
        return { content: [] }
      },
    })
    try {
      const sid = await openSession(s.url, V)
      for (const [id, args] of [[26, 'x'], [27, [1, 2]], [28, 5]]) {
        const r = await post(s.url, req(id, 'tools/call', { name: 'ok', arguments: args }), { session: sid, version: V })
        expectRpcError(r, 200, -32602, id)
      }
      expect(calls).toBe(0)
    } finally {
      await s.close()
    }
  })
})

describe('internal stats endpoint', () => {
  let s
  let sid
  beforeAll(async () => {
    s = await startServer({ internalStats: { token: 's3cret' } })
    sid = await openSession(s.url, V)
  })
  afterAll(() => s.close())
  const statsUrl = () => `http://127.0.0.1:${s.port}/internal/connections`

  test('without the token gives 401', async () => {
    const r = await fetch(statsUrl())
    expect(r.status).toBe(401)
    expect(r.headers.get('www-authenticate')).toBe('Bearer')
    expect(await r.json()).toEqual({ error: 'unauthorized' })
    const wrong = await fetch(statsUrl(), { headers: { authorization: 'Bearer s3cre' } })
    expect(wrong.status).toBe(401)
    await wrong.body?.cancel()
  })

  test('with the token gives the stats with masked IP and user agent', async () => {
    const r = await fetch(statsUrl(), { headers: { authorization: 'Bearer s3cret' } })
    expect(r.status).toBe(200)
    const stats = await r.json()
    expect(stats.activeConnections).toBe(1)
    expect(stats.connections).toHaveLength(1)
    expect(stats.connections[0].sessionId).toBe(sid)
    expect(stats.connections[0].clientIP).toBe('***')
    expect(stats.connections[0].userAgent).toBe('***')
    expect(JSON.stringify(stats)).not.toContain('127.0.0.1')
  })

  test('with the token and ?reveal=1 gives the real IP', async () => {
    const r = await fetch(`${statsUrl()}?reveal=1`, { headers: { authorization: 'Bearer s3cret' } })
    expect(r.status).toBe(200)
    const stats = await r.json()
    expect(stats.connections[0].clientIP).toBe('127.0.0.1')
    expect(stats.connections[0].userAgent).not.toBe('***')
  })

  test('?reveal=1 without the token still gives 401', async () => {
    const r = await fetch(`${statsUrl()}?reveal=1`)
    expect(r.status).toBe(401)
    await r.body?.cancel()
  })

  test('a POST to the stats path gives 405 with Allow: GET', async () => {
    const r = await fetch(statsUrl(), { method: 'POST', headers: { authorization: 'Bearer s3cret' } })
    expect(r.status).toBe(405)
    expect(r.headers.get('allow')).toBe('GET')
    await r.body?.cancel()
  })
})
