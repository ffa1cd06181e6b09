'use strict'
// Handler mode: createStreamableMcpHandler served from a plain node:http server, called by the
// real clients of both eras over loopback HTTP.
const v2 = require('@modelcontextprotocol/client')
const { ToolListChangedNotificationSchema } = require('@modelcontextprotocol/sdk/types.js')
const { createStreamableMcpHandler } = require('..')
const { connectClient, post, openSession, deferred, waitFor, sleep, mountHandler } = require('./helpers/mcp')
const { modernPost } = require('./helpers/eras')

const TOOLS = [
  { name: 'echo', description: 'echo', inputSchema: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] } },
  { name: 'slow', description: 'waits for its signal', inputSchema: { type: 'object' } },
  { name: 'progress', description: 'streams progress', inputSchema: { type: 'object' } },
]

let cleanups = []
afterEach(async () => {
  for (const c of cleanups.reverse()) await c()
  cleanups = []
})

// A node:http server whose every request goes to the handler; `parsed` hands the body over
// already read and parsed, as a framework's JSON parser would.
async function serve(opts = {}, monitor = {}, { parsed = false } = {}) {
  const seen = { ips: [], aborted: deferred(), slowStarted: deferred() }
  const handler = await createStreamableMcpHandler(
    {
      tools: TOOLS,
      async callTool({ name, arguments: args }, ctx) {
        if (name === 'echo') return { content: [{ type: 'text', text: args.text }] }
        if (name === 'progress') {
          for (let i = 1; i <= 3; i++) {
            ctx.sendProgress(i, 3, `step ${i}`)
            await sleep(5)
          }
          return { content: [{ type: 'text', text: 'done' }] }
        }
        seen.slowStarted.resolve()
        await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }))
        seen.aborted.resolve(ctx.signal.reason)
        return { content: [{ type: 'text', text: 'aborted' }] }
      },
      ...opts,
    },
    monitor,
  )
  const { server, url, close } = await mountHandler(handler, async (req, res) => {
    if (parsed && req.method === 'POST') {
      const chunks = []
      for await (const c of req) chunks.push(c)
      await handler.handle(req, res, { body: JSON.parse(Buffer.concat(chunks).toString()) })
    } else {
      await handler.handle(req, res)
    }
  })
  cleanups.push(close)
  return { handler, server, url, seen }
}

test('SDK 1.x: session, tools, progress over SSE, list_changed on the GET stream, DELETE', async () => {
  const closed = []
  const { handler, url } = await serve({}, { onConnectionClosed: (id) => closed.push(id) })
  expect(handler.endpoint).toBe('/mcp')
  const changed = deferred()
  const { client, transport } = await connectClient(url, {
    setup: (c) => c.setNotificationHandler(ToolListChangedNotificationSchema, () => changed.resolve()),
  })
  const { tools } = await client.listTools()
  expect(tools.map((t) => t.name)).toEqual(['echo', 'slow', 'progress'])
  expect((await client.callTool({ name: 'echo', arguments: { text: 'hi' } })).content[0].text).toBe('hi')
  const steps = []
  const r = await client.callTool({ name: 'progress', arguments: {} }, undefined, { onprogress: (p) => steps.push(p.progress) })
  expect(r.content[0].text).toBe('done')
  expect(steps).toEqual([1, 2, 3])
  // Validation runs in handler mode too: the callback never sees this call.
  const bad = await client.callTool({ name: 'echo', arguments: {} })
  expect(bad.isError).toBe(true)
  // The SDK opens its GET stream after initialized; wait until the session has it.
  await waitFor(() => handler.getConnectionStats().connections[0]?.requestCount >= 4, 'the GET stream')
  await sleep(50)
  handler.setTools(TOOLS.slice(0, 1))
  await changed.promise
  const sessionId = transport.sessionId
  expect(handler.getConnectionInfo(sessionId)).toMatchObject({ era: 'legacy', clientIP: '127.0.0.1' })
  await transport.terminateSession()
  await waitFor(() => closed.includes(sessionId), 'onConnectionClosed')
  await client.close()
})

test('client 2.x (2026-07-28) through the handler', async () => {
  const { handler, url } = await serve()
  const client = new v2.Client({ name: 'modern', version: '2.0.0' }, { versionNegotiation: { mode: 'auto' } })
  await client.connect(new v2.StreamableHTTPClientTransport(new URL(url)))
  const r = await client.callTool({ name: 'echo', arguments: { text: 'modern' } })
  expect(r.content[0].text).toBe('modern')
  expect(handler.getConnectionStats().connections.map((c) => c.era)).toEqual(['modern'])
  await client.close()
})

test('a body the host already parsed is served the same', async () => {
  const { url } = await serve({}, {}, { parsed: true })
  const session = await openSession(url, '2025-06-18')
  const r = await post(url, { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'echo', arguments: { text: 'pre' } } }, { session, version: '2025-06-18' })
  expect(r.json.result.content[0].text).toBe('pre')
})

test('a 2026 client going away cancels the call (ctx.signal), like a dropped connection', async () => {
  const { url, seen } = await serve()
  const ac = new AbortController()
  const pending = modernPost(url, 'tools/call', { name: 'slow', arguments: {} }, { signal: ac.signal })
  await seen.slowStarted.promise
  // Whether or not the response has become a stream yet, dropping it cancels.
  await sleep(200)
  const t0 = Date.now()
  ac.abort()
  await pending.catch(() => {})
  await seen.aborted.promise
  // Within a moment, not at some timeout.
  expect(Date.now() - t0).toBeLessThan(1000)
})

test('client IP from the socket; X-Forwarded-For only with trustProxy', async () => {
  for (const trustProxy of [false, true]) {
    const { handler, url } = await serve({ trustProxy })
    await post(
      url,
      { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '1' } } },
      { headers: { 'x-forwarded-for': '203.0.113.9, 10.0.0.1' } },
    )
    const ips = handler.getConnectionStats().connections.map((c) => c.clientIP)
    expect(ips).toEqual([trustProxy ? '203.0.113.9' : '127.0.0.1'])
  }
})

test('bad requests are answered by the handler, and close() reports every open session', async () => {
  const closed = []
  const { handler, url } = await serve({ maxBodyBytes: 1024 }, { onConnectionClosed: (id) => closed.push(id) })
  const notJson = await fetch(url, { method: 'POST', headers: { 'content-type': 'text/plain', accept: 'application/json, text/event-stream' }, body: 'x' })
  expect(notJson.status).toBe(415)
  const big = await post(url, { jsonrpc: '2.0', id: 1, method: 'ping', params: { pad: 'x'.repeat(4096) } })
  expect(big.status).toBe(413)
  const put = await fetch(url, { method: 'PUT' })
  expect(put.status).toBe(405)
  const a = await openSession(url)
  const b = await openSession(url)
  await handler.close()
  expect(closed.sort()).toEqual([a, b].sort())
  // After close the handler refuses, as a closed listener would.
  const after = await post(url, { jsonrpc: '2.0', id: 1, method: 'ping' }, { session: a })
  expect(after.status).toBe(503)
})

test('options.auth: the host-authenticated principal reaches ctx.auth and the monitor, and gates requiredScopes', async () => {
  const established = []
  const handler = await createStreamableMcpHandler(
    {
      tools: [
        { name: 'whoami', inputSchema: { type: 'object' } },
        { name: 'admin_only', inputSchema: { type: 'object' }, requiredScopes: ['admin'] },
      ],
      async callTool({ name }, ctx) {
        return { content: [{ type: 'text', text: `${name}:${ctx.auth ? ctx.auth.subject : 'anonymous'}` }] }
      },
    },
    { onConnectionEstablished: (c) => established.push(c) },
  )
  // The host's own authentication: a header names the user and their scopes (a guard would).
  const { url, close } = await mountHandler(handler, (req, res) => {
    const user = req.headers['x-user']
    const scopes = (req.headers['x-scopes'] || '').split(',').filter(Boolean)
    return handler.handle(req, res, user ? { auth: { subject: user, clientId: 'host-app', scopes } } : undefined)
  })
  cleanups.push(close)
  const call = (name, headers) => modernPost(url, 'tools/call', { name, arguments: {} }, { headers })

  const alice = await call('whoami', { 'x-user': 'alice', 'x-scopes': 'read' })
  expect(alice.status).toBe(200)
  expect(alice.json.result.content[0].text).toBe('whoami:alice')
  const anon = await call('whoami', {})
  expect(anon.json.result.content[0].text).toBe('whoami:anonymous')
  // A tool's own requiredScopes apply to the host's principal: 403 without, the call with.
  const refused = await call('admin_only', { 'x-user': 'alice', 'x-scopes': 'read' })
  expect(refused.status).toBe(403)
  const allowed = await call('admin_only', { 'x-user': 'root', 'x-scopes': 'read,admin' })
  expect(allowed.json.result.content[0].text).toBe('admin_only:root')
  await waitFor(() => established.some((c) => c.auth && c.auth.subject === 'alice'), 'alice in the monitor')
  expect(established.find((c) => c.auth && c.auth.subject === 'alice').auth.clientId).toBe('host-app')
})

test('auth option: handle() checks bearer tokens, and answers the protected-resource metadata only on its well-known paths', async () => {
  const issuer = 'https://idp.example.test'
  const { privateKey, publicKey } = require('node:crypto').generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'ES256' }
  // The host mounts the endpoint at /api/mcp (the handler's endpoint stays /mcp): the resource says so.
  const { handler, server } = await serve({
    auth: { authorizationServers: [issuer], resource: 'http://127.0.0.1:1/api/mcp', jwt: { issuer, jwks: { keys: [jwk] } } },
  })
  const base = `http://127.0.0.1:${server.address().port}`
  const expected = { resource: 'http://127.0.0.1:1/api/mcp', authorization_servers: [issuer], bearer_methods_supported: ['header'] }
  for (const path of ['/.well-known/oauth-protected-resource/api/mcp', '/.well-known/oauth-protected-resource', '/.well-known/oauth-protected-resource/mcp?x=1']) {
    const res = await fetch(`${base}${path}`)
    expect(res.status).toBe(200)
    expect(res.headers.get('cache-control')).toBe('public, max-age=3600')
    expect(await res.json()).toEqual(expected)
  }
  // Any other path is the endpoint's (the host routed it here): the bearer check answers.
  for (const path of ['/.well-known/oauth-protected-resource/other', '/api/mcp', '/anything']) {
    const res = await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: '{}' })
    expect(res.status).toBe(401)
    expect(res.headers.get('www-authenticate')).toBe('Bearer resource_metadata="http://127.0.0.1:1/.well-known/oauth-protected-resource/api/mcp"')
  }
  // A valid token for the resource passes.
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url')
  const now = Math.floor(Date.now() / 1000)
  const input = `${b64({ alg: 'ES256', kid: 'k1' })}.${b64({ iss: issuer, sub: 'bob', aud: 'http://127.0.0.1:1/api/mcp', iat: now, exp: now + 60 })}`
  const sig = require('node:crypto').sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')
  const ok = await modernPost(`${base}/api/mcp`, 'tools/call', { name: 'echo', arguments: { text: 'hi' } }, { headers: { authorization: `Bearer ${input}.${sig}` } })
  expect(ok.status).toBe(200)
  expect(ok.json.result.content[0].text).toBe('hi')
  expect(handler.endpoint).toBe('/mcp')
})
