'use strict'
// Authorization (issue 14): the server as an OAuth 2.1 resource server, in both eras, over
// real HTTP on loopback. The rows of docs/authorization.md's table and of docs/errors.md's
// authorization rows are asserted here; a small local authorization server
// (fixtures/oauth-server.js) issues real RS256 tokens for the `jwt` mode and the real clients.
const { startOAuthServer } = require('./fixtures/oauth-server.js')
const { MODERN, KEY, ACCEPT_BOTH, meta, modernPost, readResponse, startServer, sleep, waitFor, recorder } = require('./helpers/eras')

const OBJ = { type: 'object', properties: {} }
const TOOLS = [
  { name: 'whoami', inputSchema: OBJ },
  { name: 'admin_only', inputSchema: OBJ, requiredScopes: ['mcp:admin'] },
  { name: 'ask', inputSchema: OBJ },
]

// Parses `Bearer a="b", c="d"` into { a: 'b', c: 'd' }.
function challengeParams(header) {
  expect(header).toMatch(/^Bearer /)
  const out = {}
  const re = /([a-z_]+)="((?:[^"\\]|\\.)*)"/g
  let m
  while ((m = re.exec(header))) out[m[1]] = m[2].replace(/\\(.)/g, '$1')
  return out
}

function callTool(ctx) {
  return async ({ name }, c) => {
    ctx.calls.push({ name, auth: c.auth, headers: c.headers })
    if (name === 'ask') {
      if (!c.inputResponses) {
        return { resultType: 'input_required', inputRequests: { q: { method: 'elicitation/create', params: { message: 'ok?', requestedSchema: OBJ } } }, requestState: 'asked' }
      }
      return { content: [{ type: 'text', text: `answered:${c.requestState}` }] }
    }
    return { content: [{ type: 'text', text: `${c.auth && c.auth.subject}:${(c.auth && c.auth.scopes || []).join(' ')}` }] }
  }
}

// 2025 session over raw HTTP with a bearer token.
function legacyHeaders(token, extra = {}) {
  const h = { 'content-type': 'application/json', accept: ACCEPT_BOTH, ...extra }
  if (token !== undefined) h.authorization = `Bearer ${token}`
  return h
}

async function legacyInit(url, token, headers) {
  const res = await fetch(url, {
    method: 'POST',
    headers: legacyHeaders(token, headers),
    body: JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '0' } } }),
  })
  return readResponse(res)
}

async function legacyCall(url, token, session, body, extra = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: legacyHeaders(token, { 'mcp-session-id': session, 'mcp-protocol-version': '2025-11-25', ...extra }),
    body: JSON.stringify(body),
  })
  return readResponse(res)
}

// One request in the era under test; `token` undefined sends no Authorization header.
async function request(era, url, token, method, params = {}, { headers = {}, path = '' } = {}) {
  const target = url + path
  if (era === 'modern') {
    const h = { ...headers }
    if (token !== undefined) h.authorization = `Bearer ${token}`
    return modernPost(target, method, params, { headers: h })
  }
  return legacyInit(target, token, headers)
}

describe('auth with a JS verifier', () => {
  let as, server, url, resource, ctx, rec
  const now = () => Math.floor(Date.now() / 1000)
  const table = new Map()
  let verifyCalls = 0

  beforeAll(async () => {
    as = await startOAuthServer()
    ctx = { calls: [] }
    rec = recorder()
    server = await startServer({
      tools: TOOLS,
      callTool: callTool(ctx),
      exposeHeaders: ['X-Tenant', 'Authorization'],
      resources: [
        { uri: 'users://public/profile', name: 'public profile' },
        { uri: 'users://me/private', name: 'my private page', requiredScopes: ['mcp:admin'] },
      ],
      resourceTemplates: [
        { uriTemplate: 'users://{id}/profile', name: 'profile', requiredScopes: ['mcp:admin'] },
        { uriTemplate: 'notes://{+path}', name: 'notes' },
      ],
      readResource: async (uri) => ({ contents: [{ uri, text: `read:${uri}` }] }),
      auth: {
        authorizationServers: [as.issuer],
        scopesSupported: ['mcp:read', 'mcp:admin'],
        requiredScopes: ['mcp:read'],
        resourceName: 'auth test',
        verify: async (token, req) => {
          verifyCalls += 1
          expect(req.ip).toBe('127.0.0.1')
          const entry = table.get(token)
          if (entry === 'throw') throw new Error('verifier exploded')
          return entry || null
        },
      },
    }, rec.monitor)
    url = server.url
    resource = url
    const at = (sub, scopes, extra = {}) => ({ subject: sub, clientId: `cli-${sub}`, scopes, audience: resource, expiresAt: now() + 600, ...extra })
    table.set('alice', at('alice', ['mcp:read']))
    table.set('alice-admin', at('alice', ['mcp:read', 'mcp:admin']))
    table.set('bob', at('bob', ['mcp:read']))
    table.set('noscope', at('carol', []))
    table.set('expired', at('dave', ['mcp:read'], { expiresAt: now() - 5 }))
    table.set('elsewhere', at('eve', ['mcp:read'], { audience: 'http://127.0.0.1:1/mcp' }))
    table.set('boom', 'throw')
  })

  afterAll(async () => {
    await server.close()
    await as.close()
  })

  test('metadata at the path-aware and the root well-known URL', async () => {
    const origin = new URL(url).origin
    for (const p of ['/.well-known/oauth-protected-resource/mcp', '/.well-known/oauth-protected-resource']) {
      const res = await fetch(origin + p)
      expect(res.status).toBe(200)
      expect(res.headers.get('access-control-allow-origin')).toBe('*')
      expect(res.headers.get('cache-control')).toMatch(/max-age=\d+/)
      const md = await res.json()
      expect(md).toEqual({
        resource,
        authorization_servers: [as.issuer],
        scopes_supported: ['mcp:read', 'mcp:admin'],
        bearer_methods_supported: ['header'],
        resource_name: 'auth test',
      })
    }
  })

  describe.each(['legacy', 'modern'])('%s era', (era) => {
    const method = era === 'modern' ? 'tools/list' : 'initialize'

    test('no token: 401 with resource_metadata and scope, no error code', async () => {
      const r = await request(era, url, undefined, method)
      expect(r.status).toBe(401)
      const p = challengeParams(r.headers.get('www-authenticate'))
      expect(p).toEqual({ scope: 'mcp:read', resource_metadata: `${new URL(url).origin}/.well-known/oauth-protected-resource/mcp` })
    })

    test('malformed Authorization header: 400 invalid_request', async () => {
      const r = await request(era, url, undefined, method, {}, { headers: { authorization: 'Bearer a b' } })
      expect(r.status).toBe(400)
      expect(challengeParams(r.headers.get('www-authenticate')).error).toBe('invalid_request')
    })

    test.each([
      ['unknown token', 'nobody'],
      ['expired token', 'expired'],
      ['wrong audience', 'elsewhere'],
    ])('%s: 401 invalid_token', async (_row, token) => {
      const r = await request(era, url, token, method)
      expect(r.status).toBe(401)
      const p = challengeParams(r.headers.get('www-authenticate'))
      expect(p.error).toBe('invalid_token')
      expect(p.resource_metadata).toMatch(/\/\.well-known\/oauth-protected-resource\/mcp$/)
    })

    test('missing server scope: 403 insufficient_scope', async () => {
      const r = await request(era, url, 'noscope', method)
      expect(r.status).toBe(403)
      const p = challengeParams(r.headers.get('www-authenticate'))
      expect(p.error).toBe('insufficient_scope')
      expect(p.scope).toBe('mcp:read')
    })

    test('token in the query string: refused even with a valid header', async () => {
      const r = await request(era, url, 'alice', method, {}, { path: '?access_token=alice' })
      expect(r.status).toBe(400)
      expect(challengeParams(r.headers.get('www-authenticate')).error).toBe('invalid_request')
    })

    test('verifier failure: 500', async () => {
      const r = await request(era, url, 'boom', method)
      expect(r.status).toBe(500)
    })
  })

  // resources/read and resources/templates/list in either era, as `token`.
  async function resourcesAs(era, token, method, params) {
    if (era === 'modern') return modernPost(url, method, params, { headers: { authorization: `Bearer ${token}` } })
    const init = await legacyInit(url, token)
    return legacyCall(url, token, init.headers.get('mcp-session-id'), { jsonrpc: '2.0', id: 7, method, params })
  }

  test.each(['legacy', 'modern'])('%s: a resource template\'s requiredScopes guard the URIs it describes and its listing', async (era) => {
    const read = (token, uri) => resourcesAs(era, token, 'resources/read', { uri })
    const denied = await read('alice', 'users://42/profile')
    expect(denied.status).toBe(403)
    expect(challengeParams(denied.headers.get('www-authenticate'))).toMatchObject({ error: 'insufficient_scope', scope: 'mcp:read mcp:admin' })
    const allowed = await read('alice-admin', 'users://42/profile')
    expect(allowed.status).toBe(200)
    expect(allowed.json.result.contents[0].text).toBe('read:users://42/profile')
    // A listed resource's own requiredScopes win over a template it also matches.
    expect((await read('alice', 'users://public/profile')).status).toBe(200)
    expect((await read('alice', 'users://me/private')).status).toBe(403)
    // Outside every protected template: only the server-wide scope.
    expect((await read('alice', 'notes://a/b/c')).status).toBe(200)
    expect((await read('alice', 'users://42/profile/extra')).status).toBe(200)
    const names = async (token) => (await resourcesAs(era, token, 'resources/templates/list', {})).json.result.resourceTemplates.map((t) => t.name).sort()
    expect(await names('alice')).toEqual(['notes'])
    expect(await names('alice-admin')).toEqual(['notes', 'profile'])
  })

  test('modern: ctx.auth and ctx.headers in the callback, lists filtered, tool scope 403', async () => {
    ctx.calls.length = 0
    const list = await modernPost(url, 'tools/list', {}, { headers: { authorization: 'Bearer alice' } })
    expect(list.status).toBe(200)
    expect(list.json.result.tools.map((t) => t.name).sort()).toEqual(['ask', 'whoami'])
    const listAdmin = await modernPost(url, 'tools/list', {}, { headers: { authorization: 'Bearer alice-admin' } })
    expect(listAdmin.json.result.tools.map((t) => t.name).sort()).toEqual(['admin_only', 'ask', 'whoami'])
    const call = await modernPost(url, 'tools/call', { name: 'whoami', arguments: {} }, { headers: { authorization: 'Bearer alice', 'x-tenant': 't1' } })
    expect(call.json.result.content[0].text).toBe('alice:mcp:read')
    expect(ctx.calls[0].auth).toMatchObject({ subject: 'alice', clientId: 'cli-alice', scopes: ['mcp:read'] })
    expect(ctx.calls[0].headers).toEqual({ 'x-tenant': 't1' })
    // ctx.auth is parsed once per principal: the token's calls share one frozen object.
    await modernPost(url, 'tools/call', { name: 'whoami', arguments: {} }, { headers: { authorization: 'Bearer alice' } })
    expect(ctx.calls[1].auth).toBe(ctx.calls[0].auth)
    expect(Object.isFrozen(ctx.calls[0].auth) && Object.isFrozen(ctx.calls[0].auth.scopes)).toBe(true)
    const denied = await modernPost(url, 'tools/call', { name: 'admin_only', arguments: {} }, { headers: { authorization: 'Bearer alice' } })
    expect(denied.status).toBe(403)
    const p = challengeParams(denied.headers.get('www-authenticate'))
    expect(p).toMatchObject({ error: 'insufficient_scope', scope: 'mcp:read mcp:admin' })
    const allowed = await modernPost(url, 'tools/call', { name: 'admin_only', arguments: {} }, { headers: { authorization: 'Bearer alice-admin' } })
    expect(allowed.status).toBe(200)
  })

  test('legacy: a session belongs to its subject (another subject gets 404)', async () => {
    const init = await legacyInit(url, 'alice')
    expect(init.status).toBe(200)
    const session = init.headers.get('mcp-session-id')
    const mine = await legacyCall(url, 'alice', session, { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'whoami', arguments: {} } })
    expect(mine.status).toBe(200)
    expect(mine.json.result.content[0].text).toBe('alice:mcp:read')
    // Same subject, another token of hers: fine.
    const again = await legacyCall(url, 'alice-admin', session, { jsonrpc: '2.0', id: 2, method: 'tools/list', params: {} })
    expect(again.status).toBe(200)
    const theirs = await legacyCall(url, 'bob', session, { jsonrpc: '2.0', id: 3, method: 'tools/list', params: {} })
    expect(theirs.status).toBe(404)
    const tool403 = await legacyCall(url, 'alice', session, { jsonrpc: '2.0', id: 4, method: 'tools/call', params: { name: 'admin_only', arguments: {} } })
    expect(tool403.status).toBe(403)
    expect(challengeParams(tool403.headers.get('www-authenticate')).scope).toBe('mcp:read mcp:admin')
  })

  test('modern: a requestState replayed by another subject is refused', async () => {
    const first = await modernPost(url, 'tools/call', { name: 'ask', arguments: {}, _meta: meta({ capabilities: { elicitation: {} } }) }, { headers: { authorization: 'Bearer alice' } })
    expect(first.json.result.resultType).toBe('input_required')
    const state = first.json.result.requestState
    const retry = (token) =>
      modernPost(url, 'tools/call', { name: 'ask', arguments: {}, _meta: meta({ capabilities: { elicitation: {} } }), inputResponses: { q: { action: 'accept', content: {} } }, requestState: state }, { headers: { authorization: `Bearer ${token}` } })
    const stolen = await retry('bob')
    expect(stolen.json.error).toBeDefined()
    const own = await retry('alice')
    expect(own.json.result.content[0].text).toBe('answered:asked')
  })

  test('connections carry their principal: callbacks, records, per subject in both eras', async () => {
    const init = await legacyInit(url, 'bob')
    const session = init.headers.get('mcp-session-id')
    await modernPost(url, 'tools/list', {}, { headers: { authorization: 'Bearer bob' } })
    await modernPost(url, 'tools/list', {}, { headers: { authorization: 'Bearer alice' } })
    await waitFor(() => rec.established().some((e) => e.sessionId === session), 'the legacy record')
    const legacy = server.getConnectionInfo(session)
    expect(legacy.auth).toEqual({ subject: 'bob', clientId: 'cli-bob', scopes: ['mcp:read'] })
    const stats = server.getConnectionStats()
    const modern = stats.connections.filter((c) => c.era === 'modern' && c.auth)
    // Same address and client, two subjects: two connections.
    const subjects = new Set(modern.map((c) => c.auth.subject))
    expect(subjects.has('alice') && subjects.has('bob')).toBe(true)
    expect(rec.established().find((e) => e.sessionId === session).info.auth.subject).toBe('bob')
  })

  test('the verifier runs once per token, not once per request', async () => {
    table.set('counted', { subject: 'zed', scopes: ['mcp:read'], audience: resource, expiresAt: now() + 600 })
    const before = verifyCalls
    for (let i = 0; i < 20; i++) {
      const r = await modernPost(url, 'tools/list', {}, { headers: { authorization: 'Bearer counted' } })
      expect(r.status).toBe(200)
    }
    expect(verifyCalls - before).toBe(1)
  })
})

describe('auth with jwt (verified in Rust against the issuer JWKS)', () => {
  let as, server, url

  beforeAll(async () => {
    as = await startOAuthServer({ subject: 'jwt-user', accessTokenTtlSeconds: 2 })
    server = await startServer({
      tools: TOOLS,
      callTool: callTool({ calls: [] }),
      auth: { authorizationServers: [as.issuer], requiredScopes: ['mcp:read'], jwt: { issuer: as.issuer, jwksUri: as.jwksUri } },
    })
    url = server.url
  })

  afterAll(async () => {
    await server.close()
    await as.close()
  })

  test.each(['legacy', 'modern'])('%s: a valid token works; expired, other audience, other issuer do not', async (era) => {
    const method = era === 'modern' ? 'tools/list' : 'initialize'
    const ok = await request(era, url, as.mint({ aud: url, scope: 'mcp:read' }), method)
    expect(ok.status).toBe(200)
    for (const token of [
      as.mint({ aud: url, scope: 'mcp:read', expiresIn: -30 }),
      as.mint({ aud: 'http://127.0.0.1:1/mcp', scope: 'mcp:read' }),
      as.mint({ aud: url, scope: 'mcp:read', iss: 'http://127.0.0.1:1' }),
    ]) {
      const r = await request(era, url, token, method)
      expect(r.status).toBe(401)
      expect(challengeParams(r.headers.get('www-authenticate')).error).toBe('invalid_token')
    }
  })

  test('legacy: a GET stream ends when its token expires', async () => {
    const token = as.mint({ aud: url, scope: 'mcp:read', expiresIn: 2 })
    const init = await legacyInit(url, token)
    expect(init.status).toBe(200)
    const session = init.headers.get('mcp-session-id')
    const started = Date.now()
    const res = await fetch(url, {
      headers: { accept: 'text/event-stream', authorization: `Bearer ${token}`, 'mcp-session-id': session, 'mcp-protocol-version': '2025-11-25' },
    })
    expect(res.status).toBe(200)
    await res.text() // resolves when the server ends the stream
    const took = Date.now() - started
    expect(took).toBeGreaterThan(500)
    expect(took).toBeLessThan(6_000)
  })

  test('modern: a listen stream ends when its token expires', async () => {
    const token = as.mint({ aud: url, scope: 'mcp:read', expiresIn: 2 })
    const started = Date.now()
    const res = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: ACCEPT_BOTH,
        authorization: `Bearer ${token}`,
        'mcp-protocol-version': MODERN,
        'mcp-method': 'subscriptions/listen',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'subscriptions/listen', params: { _meta: meta(), notifications: { toolsListChanged: true } } }),
    })
    expect(res.status).toBe(200)
    await res.text() // resolves when the server ends the stream
    const took = Date.now() - started
    expect(took).toBeGreaterThan(900)
    expect(took).toBeLessThan(6_000)
  })
})

describe('per-subject accounting (jwt mode)', () => {
  let as, server, url, rec
  const token = (sub) => as.mint({ sub, aud: url, scope: 'mcp:read', expiresIn: 600 })

  beforeAll(async () => {
    as = await startOAuthServer()
    rec = recorder()
    server = await startServer({
      tools: TOOLS,
      callTool: callTool({ calls: [] }),
      maxConnectionsPerClient: 2,
      auth: { authorizationServers: [as.issuer], requiredScopes: ['mcp:read'], jwt: { issuer: as.issuer, jwksUri: as.jwksUri } },
    }, rec.monitor)
    url = server.url
  })

  afterAll(async () => {
    await server.close()
    await as.close()
  })

  // A sessionless client is one record per (address, user agent, client, subject): a new
  // user agent makes a new connection.
  const modernAs = (sub, ua) => modernPost(url, 'tools/list', {}, { headers: { authorization: `Bearer ${token(sub)}`, 'user-agent': ua } })

  test('getConnectionStats() counts by subject across both eras', async () => {
    expect(server.getConnectionStats().bySubject).toBeUndefined()
    const a1 = await legacyInit(url, token('alice'))
    expect(a1.status).toBe(200)
    expect((await modernAs('alice', 'ua-1')).status).toBe(200)
    expect((await modernAs('bob', 'ua-1')).status).toBe(200)
    const stats = server.getConnectionStats()
    expect(stats.bySubject).toEqual({ alice: 2, bob: 1 })
    expect(stats.otherSubjects).toBeUndefined()
    const sessionsBySubject = {}
    for (const c of stats.connections) sessionsBySubject[c.auth.subject] = (sessionsBySubject[c.auth.subject] || 0) + 1
    expect(sessionsBySubject).toEqual(stats.bySubject)
    // onConnectionChange carries the same shape.
    await waitFor(() => rec.events.some((e) => e.kind === 'change' && e.stats.bySubject.bob === 1), 'a change with bob')
    expect(await server.closeSession(a1.headers.get('mcp-session-id'))).toBe(true)
    expect(server.getConnectionStats().bySubject).toEqual({ alice: 1, bob: 1 })
  })

  test.each(['legacy', 'modern'])('%s: maxConnectionsPerClient counts per subject, not per address', async (era) => {
    const open = (sub, i) => (era === 'legacy' ? legacyInit(url, token(sub), { 'user-agent': `cap-${i}` }) : modernAs(sub, `cap-${era}-${sub}-${i}`))
    const before = server.getConnectionStats().bySubject
    const carol = `carol-${era}`
    const dave = `dave-${era}`
    expect((await open(carol, 1)).status).toBe(200)
    expect((await open(carol, 2)).status).toBe(200)
    // Her third is over the cap of 2 per client...
    const third = await open(carol, 3)
    expect(third.status).toBe(429)
    expect(rec.rejected().at(-1).info.reason).toBe('max_connections_per_client')
    // ...while another user from the same address still gets in.
    expect((await open(dave, 1)).status).toBe(200)
    const after = server.getConnectionStats().bySubject
    expect(after).toEqual({ ...before, [carol]: 2, [dave]: 1 })
  })
})

describe('cors', () => {
  let withCors, without
  const ORIGIN = 'http://app.test:8080'

  beforeAll(async () => {
    const verify = async (token) => (token === 'ok' ? { subject: 's', scopes: [], audience: withCors.url } : null)
    withCors = await startServer({
      tools: TOOLS,
      callTool: callTool({ calls: [] }),
      cors: { origins: [ORIGIN], credentials: true, maxAgeSeconds: 600 },
      auth: { authorizationServers: ['http://127.0.0.1:9'], verify },
    })
    without = await startServer({ tools: TOOLS, callTool: callTool({ calls: [] }) })
  })

  afterAll(async () => {
    await withCors.close()
    await without.close()
  })

  test('preflight from an allowed origin: 204 with methods and headers; others 403', async () => {
    const res = await fetch(withCors.url, {
      method: 'OPTIONS',
      headers: { origin: ORIGIN, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type, mcp-param-city' },
    })
    expect(res.status).toBe(204)
    expect(res.headers.get('access-control-allow-origin')).toBe(ORIGIN)
    expect(res.headers.get('access-control-allow-credentials')).toBe('true')
    expect(res.headers.get('access-control-max-age')).toBe('600')
    expect(res.headers.get('access-control-allow-methods')).toBe('GET, POST, DELETE, OPTIONS')
    const allowed = res.headers.get('access-control-allow-headers').toLowerCase()
    for (const h of ['content-type', 'authorization', 'mcp-session-id', 'mcp-protocol-version', 'last-event-id', 'mcp-method', 'mcp-name', 'mcp-param-city']) {
      expect(allowed).toContain(h)
    }
    const evil = await fetch(withCors.url, { method: 'OPTIONS', headers: { origin: 'http://evil.test', 'access-control-request-method': 'POST' } })
    expect(evil.status).toBe(403)
    expect(evil.headers.get('access-control-allow-origin')).toBeNull()
  })

  test('responses (a 401 included) expose Mcp-Session-Id and WWW-Authenticate to the allowed origin', async () => {
    const refused = await modernPost(withCors.url, 'tools/list', {}, { headers: { origin: ORIGIN } })
    expect(refused.status).toBe(401)
    expect(refused.headers.get('access-control-allow-origin')).toBe(ORIGIN)
    expect(refused.headers.get('access-control-expose-headers')).toMatch(/WWW-Authenticate/)
    const ok = await modernPost(withCors.url, 'tools/list', {}, { headers: { origin: ORIGIN, authorization: 'Bearer ok' } })
    expect(ok.status).toBe(200)
    expect(ok.headers.get('access-control-expose-headers')).toMatch(/Mcp-Session-Id/)
  })

  test('an allowed origin still needs an allowed Host (DNS rebinding)', async () => {
    const http = require('node:http')
    const u = new URL(withCors.url)
    const status = await new Promise((resolve, reject) => {
      const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, method: 'OPTIONS', headers: { host: 'evil.test', origin: ORIGIN, 'access-control-request-method': 'POST' } }, (res) => {
        res.resume()
        resolve(res.statusCode)
      })
      req.on('error', reject)
      req.end()
    })
    expect(status).toBe(403)
  })

  test('without the option: no CORS headers, OPTIONS is not answered, foreign origins are refused', async () => {
    const pre = await fetch(without.url, { method: 'OPTIONS', headers: { origin: ORIGIN, 'access-control-request-method': 'POST' } })
    expect(pre.status).not.toBe(204)
    expect(pre.headers.get('access-control-allow-origin')).toBeNull()
    const r = await modernPost(without.url, 'tools/list', {}, { headers: { origin: ORIGIN } })
    expect(r.status).toBe(403)
    expect(r.headers.get('access-control-allow-origin')).toBeNull()
  })
})

module.exports = { challengeParams }
void KEY
void sleep
void waitFor

test('mcp_auth_failures_total counts each refusal once, by reason', async () => {
  const now = Math.floor(Date.now() / 1000)
  let s
  const tokens = new Map()
  s = await startServer({
    metrics: true,
    tools: TOOLS,
    callTool: callTool({ calls: [] }),
    auth: {
      authorizationServers: ['http://127.0.0.1:1'],
      requiredScopes: ['mcp:read'],
      verify: async (token) => tokens.get(token) || null,
    },
  })
  try {
    const at = (scopes, extra = {}) => ({ subject: 'u', scopes, audience: s.url, expiresAt: now + 600, ...extra })
    tokens.set('ok', at(['mcp:read']))
    tokens.set('noscope', at([]))
    tokens.set('expired', at(['mcp:read'], { expiresAt: now - 5 }))
    tokens.set('elsewhere', at(['mcp:read'], { audience: 'http://127.0.0.1:1/mcp' }))
    const call = (token, name = 'whoami', headers = {}) =>
      modernPost(s.url, 'tools/call', { name, arguments: {} }, { headers: token === undefined ? headers : { authorization: `Bearer ${token}`, ...headers } })
    expect((await call(undefined)).status).toBe(401)
    expect((await call('unknown')).status).toBe(401)
    expect((await call('expired')).status).toBe(401)
    expect((await call('elsewhere')).status).toBe(401)
    expect((await call('noscope')).status).toBe(403)
    expect((await call('ok', 'admin_only')).status).toBe(403)
    // A token in the query string: 400 invalid_request, counted under the bounded other label.
    const inQuery = await modernPost(`${s.url}?access_token=ok`, 'tools/call', { name: 'whoami', arguments: {} })
    expect(inQuery.status).toBe(400)
    expect((await call('ok')).status).toBe(200)
    const counts = {}
    for (const m of (await s.metrics()).matchAll(/^mcp_auth_failures_total\{reason="([^"]+)"\} (\d+)$/gm)) counts[m[1]] = Number(m[2])
    expect(counts).toEqual({
      missing_token: 1,
      invalid_token: 1,
      expired_token: 1,
      wrong_audience: 1,
      insufficient_scope: 2,
      _OTHER: 1,
    })
  } finally {
    await s.close()
  }
})

// ctx.auth travels by principal id: each principal's JSON reaches JS once, with the first call
// that names it, and both sides start over past 1024 principals. A call dispatched before such a
// reset still reads its own principal afterwards.
test('ctx.auth by principal id: many principals, a reset, a call that outlives it', async () => {
  const resource = 'http://auth-ids.test/mcp'
  const exp = Math.floor(Date.now() / 1000) + 600
  let release
  const held = new Promise((r) => (release = r))
  const seen = []
  let lateStarted = false
  const s = await startServer({
    tools: [{ name: 'whoami', inputSchema: OBJ }, { name: 'late', inputSchema: OBJ }],
    // Each subject is a sessionless client of its own.
    maxConnections: 5000,
    callTool: async ({ name }, c) => {
      if (name === 'late') {
        lateStarted = true
        await held
      }
      seen.push(c.auth)
      return { content: [{ type: 'text', text: c.auth.subject }] }
    },
    auth: {
      authorizationServers: ['http://127.0.0.1:9'],
      resource,
      verify: async (token) => (token.startsWith('u-') ? { subject: `sub-${token.slice(2)}`, scopes: [], audience: resource, expiresAt: exp } : null),
    },
  })
  try {
    const call = (token, name = 'whoami') => modernPost(s.url, 'tools/call', { name, arguments: {} }, { headers: { authorization: `Bearer ${token}` } })
    const late = call('u-late', 'late')
    await waitFor(() => lateStarted, 'the late call dispatched')
    // 1100 principals, 16 at a time: past the 1024 the native side and JS keep.
    const N = 1100
    let next = 0
    const worker = async () => {
      while (next < N) {
        const i = next++
        const r = await call(`u-${i}`)
        expect(r.status).toBe(200)
        expect(r.json.result.content[0].text).toBe(`sub-${i}`)
      }
    }
    await Promise.all(Array.from({ length: 16 }, worker))
    // The calls of one principal share one frozen object, before and after the reset.
    const again = await call('u-3')
    expect(again.json.result.content[0].text).toBe('sub-3')
    await call('u-3')
    expect(seen[seen.length - 1]).toBe(seen[seen.length - 2])
    expect(Object.isFrozen(seen[seen.length - 1])).toBe(true)
    release()
    const r = await late
    expect(r.json.result.content[0].text).toBe('sub-late')
  } finally {
    release()
    await s.close()
  }
}, 60_000)
