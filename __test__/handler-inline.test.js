'use strict'
// Handler mode held to the listener's behaviour: the same requests, sent over loopback HTTP to a
// listener and to a handler with the same options, get the same answers (callback errors, sync
// and async results, bad results, timeouts, validation); the client going away before the head,
// monitoring, a burst of mixed concurrent calls and close() with a call pending work too.
const { startStreamableMcpServer, createStreamableMcpHandler } = require('..')
const { post, openSession, deferred, sleep, mountHandler } = require('./helpers/mcp')
const { modernPost } = require('./helpers/eras')

const TOOLS = [
  { name: 'echo', description: 'echo', inputSchema: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] } },
  { name: 'sync', description: 'answers without a promise', inputSchema: { type: 'object' } },
  { name: 'throws', description: 'throws synchronously', inputSchema: { type: 'object' } },
  { name: 'rejects', description: 'rejects with a code and data', inputSchema: { type: 'object' } },
  { name: 'notObject', description: 'returns a string', inputSchema: { type: 'object' } },
  { name: 'hangs', description: 'never settles', inputSchema: { type: 'object' } },
  { name: 'later', description: 'answers after a timer', inputSchema: { type: 'object' } },
  { name: 'getterThrows', description: 'a result whose getter throws', inputSchema: { type: 'object' } },
  { name: 'slow', description: 'waits for its signal', inputSchema: { type: 'object' } },
]

function callbacks(seen) {
  return {
    tools: TOOLS,
    callbackTimeoutMs: 300,
    callTool({ name, arguments: args }, ctx) {
      switch (name) {
        case 'echo':
          return Promise.resolve({ content: [{ type: 'text', text: args.text }] })
        case 'sync':
          return { content: [{ type: 'text', text: `sync ${ctx.requestId}` }] }
        case 'throws':
          throw new Error('sync failure')
        case 'rejects':
          return Promise.reject(Object.assign(new Error('async failure'), { code: -32050, data: { why: 'test' } }))
        case 'notObject':
          return Promise.resolve('text')
        case 'hangs':
          seen.hangStarted.resolve()
          return new Promise(() => {})
        case 'later':
          return sleep(120).then(() => ({ content: [{ type: 'text', text: 'later' }] }))
        case 'getterThrows':
          return Promise.resolve({
            get content() {
              throw new Error('getter failure')
            },
          })
        default:
          seen.slowStarted.resolve()
          return new Promise((resolve) =>
            ctx.signal.addEventListener(
              'abort',
              () => {
                seen.aborted.resolve(ctx.signal.reason)
                resolve({ content: [] })
              },
              { once: true },
            ),
          )
      }
    },
  }
}

let cleanups = []
afterEach(async () => {
  for (const c of cleanups.reverse()) await c()
  cleanups = []
})

async function listener(opts = {}, monitor = {}) {
  const seen = { slowStarted: deferred(), aborted: deferred(), hangStarted: deferred() }
  const server = await startStreamableMcpServer({ port: 0, host: '127.0.0.1', ...callbacks(seen), ...opts }, monitor)
  cleanups.push(() => server.close())
  return { server, url: server.url, seen }
}

async function handlerServer(opts = {}, monitor = {}) {
  const seen = { slowStarted: deferred(), aborted: deferred(), hangStarted: deferred() }
  const handler = await createStreamableMcpHandler({ ...callbacks(seen), ...opts }, monitor)
  const mounted = await mountHandler(handler)
  cleanups.push(mounted.close)
  return { server: handler, url: mounted.url, seen }
}

const CALLS = [
  { name: 'echo', arguments: { text: 'hi' } },
  { name: 'echo', arguments: {} },
  { name: 'sync', arguments: {} },
  { name: 'throws', arguments: {} },
  { name: 'rejects', arguments: {} },
  { name: 'notObject', arguments: {} },
  { name: 'hangs', arguments: {} },
  { name: 'later', arguments: {} },
  { name: 'missing', arguments: {} },
  { name: 'getterThrows', arguments: {} },
]

// Every call of CALLS in one era, answered as JSON (the shape and the answer, not the session).
async function answers(url, era, enableJsonResponse) {
  const out = []
  if (era === 'modern') {
    for (const [i, params] of CALLS.entries()) {
      const r = await modernPost(url, 'tools/call', params, { id: i + 1 })
      out.push({ status: r.status, json: r.json })
    }
    return out
  }
  const session = await openSession(url, '2025-11-25')
  for (const [i, params] of CALLS.entries()) {
    const r = await post(url, { jsonrpc: '2.0', id: i + 1, method: 'tools/call', params }, { session, version: '2025-11-25' })
    out.push({ status: r.status, type: r.headers.get('content-type'), json: r.json })
  }
  if (enableJsonResponse) for (const a of out) expect(a.type).toMatch(/^application\/json/)
  return out
}

for (const era of ['legacy', 'modern']) {
  for (const enableJsonResponse of era === 'legacy' ? [false, true] : [false]) {
    test(`${era}${enableJsonResponse ? ' (JSON responses)' : ''}: the handler answers every call as the listener does`, async () => {
      const opts = { enableJsonResponse }
      const a = await listener(opts)
      const b = await handlerServer(opts)
      const expected = await answers(a.url, era, enableJsonResponse)
      const got = await answers(b.url, era, enableJsonResponse)
      expect(got).toEqual(expected)
      // What the answers are (so equal answers are also right ones).
      const byName = Object.fromEntries(CALLS.map((c, i) => [`${c.name}${i === 1 ? '-invalid' : ''}`, got[i].json]))
      expect(byName.echo.result.content[0].text).toBe('hi')
      expect(byName['echo-invalid'].result.isError).toBe(true)
      expect(byName.sync.result.content[0].text).toBe('sync 3')
      expect(byName.throws.result.isError).toBe(true)
      expect(byName.throws.result.content[0].text).toMatch(/sync failure/)
      expect(byName.rejects.result).toMatchObject({ isError: true, content: [{ text: 'async failure' }] })
      expect(byName.notObject.error.code).toBe(-32603)
      expect(byName.hangs.error.code).toBe(-32001)
      expect(byName.later.result.content[0].text).toBe('later')
      expect(byName.missing.error.code).toBe(-32602)
      // Reading the result threw: the call fails with that error, as a thrown callback does.
      expect(byName.getterThrows.result).toMatchObject({ isError: true, content: [{ text: expect.stringMatching(/getter failure/) }] })
      // The monitor counted the same requests.
      const count = (s) => s.getConnectionStats().connections.reduce((n, c) => n + c.requestCount, 0)
      expect(count(b.server)).toBe(count(a.server))
    })
  }
}

test('a client going away before the head cancels the call at once (ctx.signal)', async () => {
  const { url, seen, server } = await handlerServer({ callbackTimeoutMs: 10_000 })
  const ac = new AbortController()
  const pending = modernPost(url, 'tools/call', { name: 'slow', arguments: {} }, { signal: ac.signal })
  await seen.slowStarted.promise
  // Before the 100 ms after which a slow call is given a stream: the request is still pending.
  const t0 = Date.now()
  ac.abort()
  await pending.catch(() => {})
  const reason = await seen.aborted.promise
  expect(Date.now() - t0).toBeLessThan(1000)
  expect(String(reason && reason.message)).toMatch(/closed|cancel|away/i)
  // The handler still serves afterwards.
  expect((await modernPost(url, 'tools/call', { name: 'echo', arguments: { text: 'after' } })).json.result.content[0].text).toBe('after')
  expect(server.getConnectionStats().totalConnections).toBeGreaterThan(0)
})

test('a burst of concurrent calls of every kind: each gets its own answer', async () => {
  const established = []
  const { url, server } = await handlerServer({}, { onConnectionEstablished: (info) => established.push(info.sessionId) })
  const session = await openSession(url, '2025-11-25')
  const names = ['echo', 'sync', 'throws', 'rejects', 'later']
  const results = await Promise.all(
    Array.from({ length: 100 }, (_, i) => {
      const name = names[i % names.length]
      const params = { name, arguments: name === 'echo' ? { text: `t${i}` } : {} }
      return post(url, { jsonrpc: '2.0', id: 1000 + i, method: 'tools/call', params }, { session, version: '2025-11-25' })
    }),
  )
  results.forEach((r, i) => {
    expect(r.status).toBe(200)
    expect(r.json.id).toBe(1000 + i)
    const name = names[i % names.length]
    if (name === 'echo') expect(r.json.result.content[0].text).toBe(`t${i}`)
    if (name === 'sync') expect(r.json.result.content[0].text).toBe(`sync ${1000 + i}`)
    if (name === 'throws') expect(r.json.result.isError).toBe(true)
    if (name === 'rejects') expect(r.json.result.isError).toBe(true)
    if (name === 'later') expect(r.json.result.content[0].text).toBe('later')
  })
  expect(established).toEqual([session])
  expect(server.getConnectionInfo(session).requestCount).toBeGreaterThanOrEqual(101)
})

test('close() while a call hangs: the client still gets an answer', async () => {
  const { url, server, seen } = await handlerServer({ callbackTimeoutMs: 0, enableJsonResponse: true })
  const session = await openSession(url, '2025-11-25')
  const pending = post(url, { jsonrpc: '2.0', id: 5, method: 'tools/call', params: { name: 'hangs', arguments: {} } }, { session, version: '2025-11-25' })
  await seen.hangStarted.promise
  await server.close()
  const r = await pending
  // An error answer, or 202 when the shutdown ended the call with nothing to answer: a
  // response either way, not a request left hanging.
  expect([200, 202]).toContain(r.status)
  if (r.status === 200) expect(r.json).toMatchObject({ id: 5, error: expect.any(Object) })
})

test('served in a batch after the I/O of its turn: nothing is written inside handle(), a request Rust answers is written in the same turn', async () => {
  const handler = await createStreamableMcpHandler(callbacks({ slowStarted: deferred(), aborted: deferred(), hangStarted: deferred() }))
  const seen = []
  const http = require('node:http')
  const server = http.createServer((req, res) => {
    const chunks = []
    req.on('data', (c) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks)
      const done = handler.handle(req, res, req.method === 'POST' ? { body } : undefined)
      const s = { method: req.method, body: body.toString(), inside: res.writableEnded, turn: null }
      seen.push(s)
      // Queued after the batch's own setImmediate: runs once the batch has been served.
      setImmediate(() => {
        s.turn = res.writableEnded
      })
      done.catch(() => {})
    })
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  cleanups.push(async () => {
    await handler.close()
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  })
  const url = `http://127.0.0.1:${server.address().port}/mcp`
  const session = await openSession(url, '2025-11-25')
  const list = await post(url, { jsonrpc: '2.0', id: 2, method: 'tools/list' }, { session, version: '2025-11-25' })
  expect(list.json.result.tools.map((t) => t.name)).toContain('echo')
  const discover = await modernPost(url, 'server/discover', {}, { id: 3 })
  expect(discover.json.result.supportedVersions).toContain('2026-07-28')
  const call = await post(url, { jsonrpc: '2.0', id: 4, method: 'tools/call', params: { name: 'echo', arguments: { text: 'x' } } }, { session, version: '2025-11-25' })
  expect(call.json.result.content[0].text).toBe('x')
  const of = (m) => seen.find((s) => s.body.includes(`"method":"${m}"`))
  for (const m of ['initialize', 'tools/list', 'server/discover', 'tools/call']) {
    // Nothing is served inside handle(): the batch runs after this turn's I/O.
    expect(of(m).inside).toBe(false)
  }
  // What Rust answers by itself is written by the batch, in the same turn.
  expect(of('initialize').turn).toBe(true)
  expect(of('tools/list').turn).toBe(true)
  expect(of('server/discover').turn).toBe(true)
})

test('requests handed over in one turn are served together, each answered correctly', async () => {
  const handler = await createStreamableMcpHandler(callbacks({ slowStarted: deferred(), aborted: deferred(), hangStarted: deferred() }))
  cleanups.push(() => handler.close())
  // Records how many handle() calls had been made when the native side served each request.
  let handed = 0
  const servedAt = []
  const serve = handler._native.serve.bind(handler._native)
  handler._native.serve = (...args) => {
    servedAt.push(handed)
    return serve(...args)
  }
  const fakeRes = () => {
    const res = { statusCode: 0, headersSent: false, writableEnded: false, destroyed: false, head: null, body: undefined }
    res.setHeader = () => {}
    res.on = () => res
    res.flushHeaders = () => {}
    res.write = () => true
    res.writeHead = (status, headers) => {
      res.statusCode = status
      res.head = headers
      return res
    }
    res.end = (b) => {
      res.writableEnded = true
      res.body = b
    }
    return res
  }
  const hdr = ['Host', '127.0.0.1:1', 'Content-Type', 'application/json', 'Accept', 'application/json, text/event-stream', 'MCP-Protocol-Version', '2026-07-28']
  const modern = (id, method, params, extra = []) => ({
    req: { method: 'POST', rawHeaders: hdr.concat(['Mcp-Method', method], extra), socket: { remoteAddress: '127.0.0.1', remotePort: 9 }, url: '/mcp' },
    body: Buffer.from(JSON.stringify({ jsonrpc: '2.0', id, method, params: { ...params, _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientInfo': { name: 't', version: '1' }, 'io.modelcontextprotocol/clientCapabilities': {} } } })),
  })
  const reqs = [
    modern(1, 'tools/list', {}),
    modern(2, 'tools/call', { name: 'echo', arguments: { text: 'a' } }, ['Mcp-Name', 'echo']),
    modern(3, 'server/discover', {}),
    modern(4, 'tools/call', { name: 'echo', arguments: { text: 'b' } }, ['Mcp-Name', 'echo']),
    modern(5, 'tools/call', { name: 'echo', arguments: { text: 7 } }, ['Mcp-Name', 'echo']),
  ]
  const outs = reqs.map(() => fakeRes())
  const done = reqs.map((r, i) => {
    handed++
    return handler.handle(r.req, outs[i], { body: r.body })
  })
  // Served after the last of them was handed over, all in one batch.
  expect(servedAt).toEqual([])
  await Promise.all(done)
  expect(servedAt).toEqual([5, 5, 5, 5, 5])
  const json = (res) => JSON.parse(String(res.body).replace(/^event: message\ndata: /, ''))
  expect(outs.map((r) => r.statusCode)).toEqual([200, 200, 200, 200, 200])
  expect(json(outs[0]).result.tools.map((t) => t.name)).toContain('echo')
  expect(json(outs[1]).result.content[0].text).toBe('a')
  expect(json(outs[2]).result.supportedVersions).toContain('2026-07-28')
  expect(json(outs[3]).result.content[0].text).toBe('b')
  // Arguments that break the schema: the tool error the revision names, not another call's.
  expect(json(outs[4]).id).toBe(5)
  expect(json(outs[4]).result.isError).toBe(true)
})
