'use strict'
// Two protocol eras on one endpoint, with real clients at once (issue 9):
// @modelcontextprotocol/client 2.x with automatic version negotiation (settles on 2026-07-28,
// stateless, per-request _meta) and @modelcontextprotocol/sdk 1.x (a 2025 session). One callback
// set serves both: a tool that asks for elicitation returns InputRequiredResult; the modern client
// fulfils it and retries, and for the 2025 client the server itself sends elicitation/create
// and re-runs the callback. Also: the listen stream (client.listen(), i.e. subscriptions/listen)
// gets tools/list_changed after setTools(), the monitor sees each client once with its era, and
// a modern client that falls silent is reported closed (callback and, in a child process, the
// [MCP_CONNECTION] line with reason idle_timeout) within clientIdleTimeoutMs + 1 s.
const path = require('path')
const { spawn } = require('child_process')
const v2 = require('@modelcontextprotocol/client')
const { Client: LegacyClient } = require('@modelcontextprotocol/sdk/client/index.js')
const { StreamableHTTPClientTransport: LegacyTransport } = require('@modelcontextprotocol/sdk/client/streamableHttp.js')
const { ElicitRequestSchema, ToolListChangedNotificationSchema } = require('@modelcontextprotocol/sdk/types.js')
const { parseConnectionEventLine } = require('..')
const { MODERN, sleep, waitFor, pollUntil, startServer, recorder } = require('./helpers/eras')

const IDLE_MS = 400
const OBJ = { type: 'object', properties: {} }
const LEGACY_VERSIONS = ['2025-03-26', '2025-06-18', '2025-11-25']
const TOOLS = [
  { name: 'echo', inputSchema: { type: 'object', properties: { text: { type: 'string' } } } },
  { name: 'ask_name', inputSchema: OBJ },
]
const NAME_REQUEST = {
  method: 'elicitation/create',
  params: { message: 'What is your name?', requestedSchema: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] } },
}

// A fetch that records method, headers and status of every request a client transport makes.
function recordingFetch() {
  const calls = []
  const fetchImpl = async (u, init = {}) => {
    const entry = { method: (init.method || 'GET').toUpperCase(), headers: new Headers(init.headers || {}), body: init.body, status: undefined }
    calls.push(entry)
    const res = await fetch(u, init)
    entry.status = res.status
    return res
  }
  return { fetch: fetchImpl, calls }
}

// The one callback both eras share. `runs` records each run: era, whether inputResponses came.
function makeCallTool(runs) {
  return async ({ name, arguments: args }, ctx) => {
    runs.push({ name, era: ctx.era, sessionId: ctx.sessionId, protocolVersion: ctx.protocolVersion, inputResponses: ctx.inputResponses, requestState: ctx.requestState })
    if (name === 'echo') return { content: [{ type: 'text', text: `${ctx.era}:${args.text}` }] }
    if (name === 'ask_name') {
      const answer = ctx.inputResponses && ctx.inputResponses.user
      if (!answer) return { resultType: 'input_required', inputRequests: { user: NAME_REQUEST }, requestState: 'asked-for-name' }
      return { content: [{ type: 'text', text: `Hello, ${answer.content.name} (${answer.action}, state ${ctx.requestState})` }] }
    }
    throw new Error(`unknown tool ${name}`)
  }
}

// Client 2.x with automatic negotiation (it probes with server/discover, then speaks 2026-07-28).
async function modernClient(url, { name = 'modern-client', answer = 'Grace', capabilities = { elicitation: {} } } = {}) {
  const rec = recordingFetch()
  const client = new v2.Client({ name, version: '2.0.0' }, { capabilities, versionNegotiation: { mode: 'auto' } })
  const elicitations = []
  if (capabilities.elicitation) {
    client.setRequestHandler('elicitation/create', async (request) => {
      elicitations.push(request.params)
      return { action: 'accept', content: { name: answer } }
    })
  }
  const listChanged = []
  client.setNotificationHandler('notifications/tools/list_changed', (n) => listChanged.push(n))
  const transport = new v2.StreamableHTTPClientTransport(new URL(url), { fetch: rec.fetch })
  await client.connect(transport)
  return { client, transport, rec, elicitations, listChanged }
}

// SDK 1.x: initialize, Mcp-Session-Id, a GET stream for server→client messages.
async function legacyClient(url, { name = 'legacy-client', answer = 'Alan', capabilities = { elicitation: {} } } = {}) {
  const rec = recordingFetch()
  const client = new LegacyClient({ name, version: '1.0.0' }, { capabilities })
  const elicitations = []
  if (capabilities.elicitation) {
    client.setRequestHandler(ElicitRequestSchema, async (request) => {
      elicitations.push(request.params)
      return { action: 'accept', content: { name: answer } }
    })
  }
  const listChanged = []
  client.setNotificationHandler(ToolListChangedNotificationSchema, (n) => listChanged.push(n))
  const errors = []
  client.onerror = (e) => errors.push(e)
  const transport = new LegacyTransport(new URL(url), {
    fetch: rec.fetch,
    reconnectionOptions: { initialReconnectionDelay: 50, maxReconnectionDelay: 100, reconnectionDelayGrowFactor: 1, maxRetries: 1 },
  })
  await client.connect(transport)
  return { client, transport, rec, elicitations, listChanged, errors }
}

const textOf = (result) => result.content.map((c) => c.text).join('')

describe('client 2.x (2026-07-28) and sdk 1.x (2025 session) on one server', () => {
  let server
  let rec
  const runs = []
  let modern
  let legacy
  let sub // the modern client's listen subscription

  beforeAll(async () => {
    rec = recorder()
    server = await startServer({ clientIdleTimeoutMs: IDLE_MS, tools: TOOLS, callTool: makeCallTool(runs) }, rec.monitor)
    modern = await modernClient(server.url)
    legacy = await legacyClient(server.url)
  })

  afterAll(async () => {
    if (sub) await sub.close().catch(() => {})
    if (modern) await modern.client.close().catch(() => {})
    if (legacy) await legacy.client.close().catch(() => {})
    await server.close()
  })

  test('client 2.x negotiates 2026-07-28 automatically; sdk 1.x opens a 2025 session', () => {
    expect(modern.client.getNegotiatedProtocolVersion()).toBe(MODERN)
    expect(modern.client.getProtocolEra()).toBe('modern')
    // The modern client used the stateless wire: no initialize, no session id, every POST with
    // the mirrored headers.
    const posts = modern.rec.calls.filter((c) => c.method === 'POST')
    expect(posts.length).toBeGreaterThan(0)
    expect(posts[0].headers.get('mcp-method')).toBe('server/discover')
    for (const c of posts) {
      expect(c.headers.get('mcp-session-id')).toBeNull()
      expect(c.headers.get('mcp-method')).not.toBe('initialize')
    }
    expect(LEGACY_VERSIONS).toContain(legacy.transport.protocolVersion)
    expect(typeof legacy.transport.sessionId).toBe('string')
    expect(legacy.rec.calls[0].body).toContain('"initialize"')
  })

  test('both clients call tools', async () => {
    expect(textOf(await modern.client.callTool({ name: 'echo', arguments: { text: 'hi' } }))).toBe('modern:hi')
    expect(textOf(await legacy.client.callTool({ name: 'echo', arguments: { text: 'hi' } }))).toBe('legacy:hi')
    const modernPosts = modern.rec.calls.filter((c) => c.method === 'POST' && c.headers.get('mcp-method') === 'tools/call')
    expect(modernPosts[modernPosts.length - 1].headers.get('mcp-protocol-version')).toBe(MODERN)
    expect(modernPosts[modernPosts.length - 1].headers.get('mcp-name')).toBe('echo')
  })

  test('both complete a tool that asks for elicitation through InputRequiredResult (one callback)', async () => {
    const start = runs.length
    const m = await modern.client.callTool({ name: 'ask_name', arguments: {} })
    expect(textOf(m)).toBe('Hello, Grace (accept, state asked-for-name)')
    const l = await legacy.client.callTool({ name: 'ask_name', arguments: {} })
    expect(textOf(l)).toBe('Hello, Alan (accept, state asked-for-name)')

    // Each client answered exactly one elicitation, with the callback's own params.
    expect(modern.elicitations).toHaveLength(1)
    expect(modern.elicitations[0]).toMatchObject(NAME_REQUEST.params)
    expect(legacy.elicitations).toHaveLength(1)
    expect(legacy.elicitations[0]).toMatchObject(NAME_REQUEST.params)

    // The callback ran twice per client: first without inputResponses, then with the answer
    // and the requestState it returned.
    const mine = runs.slice(start).filter((r) => r.name === 'ask_name')
    expect(mine.map((r) => [r.era, r.inputResponses === undefined, r.requestState])).toEqual([
      ['modern', true, undefined],
      ['modern', false, 'asked-for-name'],
      ['legacy', true, undefined],
      ['legacy', false, 'asked-for-name'],
    ])
    expect(mine[1].inputResponses.user).toEqual({ action: 'accept', content: { name: 'Grace' } })
    expect(mine[3].inputResponses.user).toEqual({ action: 'accept', content: { name: 'Alan' } })
    expect(mine[0].protocolVersion).toBe(MODERN)
    expect(LEGACY_VERSIONS).toContain(mine[2].protocolVersion)

    // The modern client retried with inputResponses and the sealed state: two tools/call POSTs.
    const asks = modern.rec.calls.filter((c) => c.headers.get('mcp-name') === 'ask_name')
    expect(asks).toHaveLength(2)
    expect(JSON.parse(asks[1].body).params).toMatchObject({ inputResponses: { user: { action: 'accept' } } })
    expect(typeof JSON.parse(asks[1].body).params.requestState).toBe('string')
  })

  test("the modern client's listen stream and the 2025 session both get tools/list_changed after setTools()", async () => {
    // Client 2.x has an API for subscriptions/listen: client.listen(filter).
    sub = await modern.client.listen({ toolsListChanged: true })
    expect(sub.honoredFilter).toEqual({ toolsListChanged: true })
    const listenPost = modern.rec.calls.find((c) => c.headers.get('mcp-method') === 'subscriptions/listen')
    expect(listenPost).toBeDefined()
    expect(listenPost.status).toBe(200)
    // The 2025 client gets server notifications on its GET stream; wait until it is open.
    await waitFor(() => legacy.rec.calls.some((c) => c.method === 'GET' && c.status === 200), 'the legacy GET stream')

    server.setTools([...TOOLS, { name: 'added', inputSchema: OBJ }])
    await waitFor(() => modern.listChanged.length >= 1, 'tools/list_changed on the listen stream')
    await waitFor(() => legacy.listChanged.length >= 1, 'tools/list_changed on the 2025 session')
    expect(modern.listChanged).toHaveLength(1)
    expect(legacy.listChanged).toHaveLength(1)

    const names = (r) => r.tools.map((t) => t.name)
    expect(names(await modern.client.listTools())).toContain('added')
    expect(names(await legacy.client.listTools())).toContain('added')
  })

  test('the monitor reports each client once, with the right era', async () => {
    const established = rec.established()
    expect(established).toHaveLength(2)
    const byEra = Object.fromEntries(established.map((e) => [e.info.era, e.info]))
    expect(Object.keys(byEra).sort()).toEqual(['legacy', 'modern'])
    expect(byEra.modern).toMatchObject({ clientName: 'modern-client', clientVersion: '2.0.0', protocolVersion: MODERN, clientIP: '127.0.0.1' })
    expect(byEra.legacy).toMatchObject({ sessionId: legacy.transport.sessionId, clientName: 'legacy-client', clientVersion: '1.0.0' })
    expect(rec.closed()).toEqual([])

    const stats = server.getConnectionStats()
    expect(stats.activeConnections).toBe(2)
    expect(stats.totalConnections).toBe(2)
    expect(stats.connections.map((c) => [c.era, c.sessionId]).sort()).toEqual(
      [
        ['legacy', byEra.legacy.sessionId],
        ['modern', byEra.modern.sessionId],
      ].sort(),
    )
    const modernInfo = stats.connections.find((c) => c.era === 'modern')
    // discover, echo, two ask_name rounds, listen, tools/list: one record for all of them.
    expect(modernInfo.requestCount).toBeGreaterThanOrEqual(6)
    expect(server.getConnectionInfo(byEra.modern.sessionId).era).toBe('modern')
    expect(server.getConnectionInfo(byEra.legacy.sessionId).era).toBe('legacy')
    // ctx.sessionId is the monitor's id in both eras.
    expect(new Set(runs.filter((r) => r.era === 'modern').map((r) => r.sessionId))).toEqual(new Set([byEra.modern.sessionId]))
    expect(new Set(runs.filter((r) => r.era === 'legacy').map((r) => r.sessionId))).toEqual(new Set([byEra.legacy.sessionId]))
  })

  test(`a modern client that goes quiet is reported closed within clientIdleTimeoutMs (${IDLE_MS}) + 1 s; an open listen stream keeps it`, async () => {
    const modernId = rec.established().find((e) => e.info.era === 'modern').sessionId
    // With the listen stream open the record stays, however long the client sends nothing.
    await sleep(IDLE_MS + 1000 + 200)
    expect(rec.closedFor(modernId)).toEqual([])
    expect(server.getConnectionInfo(modernId)).not.toBeNull()

    await sub.close()
    expect(await sub.closed).toBe('local')
    sub = undefined
    const quietSince = Date.now()
    const closed = await pollUntil(() => rec.closedFor(modernId).length > 0, quietSince + IDLE_MS + 1000)
    expect(closed).toBe(true)
    expect(rec.closedFor(modernId)).toHaveLength(1)
    expect(server.getConnectionInfo(modernId)).toBeNull()

    // The 2025 session is untouched (its own idle timeout is the default, 30 minutes).
    const stats = server.getConnectionStats()
    expect(stats.activeConnections).toBe(1)
    expect(stats.connections.map((c) => c.era)).toEqual(['legacy'])

    // Back again, the modern client is a new connection.
    expect(textOf(await modern.client.callTool({ name: 'echo', arguments: { text: 'back' } }))).toBe('modern:back')
    await waitFor(() => rec.established().length === 3, 'a new modern record')
    expect(rec.established()[2].info.era).toBe('modern')
    expect(server.getConnectionStats()).toMatchObject({ activeConnections: 2, totalConnections: 3 })
  })
})

describe('two eras, other cases', () => {
  test('two modern clients with identical software behind one address share one monitor record', async () => {
    const rec = recorder()
    const server = await startServer({ tools: TOOLS, callTool: makeCallTool([]) }, rec.monitor)
    const a = await modernClient(server.url, { name: 'same-app' })
    const b = await modernClient(server.url, { name: 'same-app' })
    const c = await modernClient(server.url, { name: 'other-app' })
    try {
      for (const x of [a, b, c]) await x.client.callTool({ name: 'echo', arguments: { text: 'x' } })
      const modernRecords = server.getConnectionStats().connections.filter((x) => x.era === 'modern')
      expect(modernRecords.map((r) => r.clientName).sort()).toEqual(['other-app', 'same-app'])
      expect(rec.established()).toHaveLength(2)
    } finally {
      for (const x of [a, b, c]) await x.client.close().catch(() => {})
      await server.close()
    }
  })

  test('a 2025 client without the elicitation capability gets an isError tool result', async () => {
    const runs = []
    const server = await startServer({ tools: TOOLS, callTool: makeCallTool(runs) })
    const legacy = await legacyClient(server.url, { capabilities: {} })
    try {
      const r = await legacy.client.callTool({ name: 'ask_name', arguments: {} })
      expect(r.isError).toBe(true)
      expect(textOf(r)).toMatch(/elicitation/)
      expect(runs.filter((x) => x.name === 'ask_name')).toHaveLength(1)
    } finally {
      await legacy.client.close().catch(() => {})
      await server.close()
    }
  })

  test('server.close() ends an open listen stream gracefully and reports the modern client closed', async () => {
    const rec = recorder()
    const server = await startServer({ tools: TOOLS, callTool: makeCallTool([]) }, rec.monitor)
    const modern = await modernClient(server.url)
    try {
      const sub = await modern.client.listen({ toolsListChanged: true })
      const id = rec.established()[0].sessionId
      await server.close()
      expect(await sub.closed).toBe('graceful')
      expect(rec.closedFor(id)).toHaveLength(1)
      expect(server.getActiveConnections()).toBe(0)
    } finally {
      await modern.client.close().catch(() => {})
      await server.close()
    }
  })
})

describe('stdout events in a child process', () => {
  const FIXTURE = path.join(__dirname, 'fixtures', 'eras-child.js')

  test(`a quiet modern client ends with an idle_timeout disconnected line within clientIdleTimeoutMs + 1 s; eras are in the lines`, async () => {
    const child = spawn(process.execPath, [FIXTURE], {
      cwd: path.join(__dirname, '..'),
      env: { ...process.env, IDLE_MS: String(IDLE_MS) },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const lines = []
    let rest = ''
    let stderr = ''
    child.stdout.setEncoding('utf8')
    child.stdout.on('data', (chunk) => {
      const parts = (rest + chunk).split('\n')
      rest = parts.pop()
      lines.push(...parts)
    })
    child.stderr.setEncoding('utf8')
    child.stderr.on('data', (c) => (stderr += c))
    const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })))
    const events = () => lines.map((l) => parseConnectionEventLine(l)).filter(Boolean)
    let modern
    let legacy
    try {
      const listening = await waitFor(() => lines.find((l) => l.startsWith('LISTENING ')), `LISTENING (stderr: ${stderr})`)
      const url = listening.slice('LISTENING '.length)
      modern = await modernClient(url, { name: 'child-modern' })
      legacy = await legacyClient(url, { name: 'child-legacy' })
      expect(textOf(await modern.client.callTool({ name: 'echo', arguments: { text: 'm' } }))).toBe('modern:m')
      expect(textOf(await legacy.client.callTool({ name: 'echo', arguments: { text: 'l' } }))).toBe('legacy:l')
      const quietSince = Date.now()

      const connected = await waitFor(() => {
        const c = events().filter((e) => e.eventType === 'connected')
        return c.length === 2 && c
      }, 'two connected lines')
      const byEra = Object.fromEntries(connected.map((e) => [e.clientInfo.era, e.clientInfo]))
      expect(byEra.modern).toMatchObject({ clientName: 'child-modern', remoteAddress: '127.0.0.1' })
      expect(byEra.legacy).toMatchObject({ id: legacy.transport.sessionId, clientName: 'child-legacy' })

      const disconnected = () => events().find((e) => e.eventType === 'disconnected' && e.clientInfo.id === byEra.modern.id)
      const line = await pollUntil(disconnected, quietSince + IDLE_MS + 1000)
      expect(line).toBeDefined()
      expect(line.reason).toBe('idle_timeout')
      expect(line.clientInfo.era).toBe('modern')
      expect(line.connectionStats.activeConnections).toBe(1)
      // The callback saw it too (its CB line follows the native line; wait for it, bounded).
      const closedCbs = () =>
        lines
          .filter((l) => l.startsWith('CB '))
          .map((l) => JSON.parse(l.slice(3)))
          .filter((c) => c.kind === 'closed' && c.sessionId === byEra.modern.id)
      await waitFor(() => closedCbs().length > 0, 'the onConnectionClosed CB line')
      expect(closedCbs()).toHaveLength(1)
      expect(events().some((e) => e.eventType === 'disconnected' && e.clientInfo.id === byEra.legacy.id)).toBe(false)
    } finally {
      if (modern) await modern.client.close().catch(() => {})
      if (legacy) await legacy.client.close().catch(() => {})
      child.kill('SIGTERM')
      const { code } = await exited
      expect(code).toBe(0)
    }
    expect(lines).toContain('CLOSED')
    // The 2025 session, still open at shutdown, ends with reason shutdown.
    const last = events().filter((e) => e.eventType === 'disconnected')
    expect(last.map((e) => [e.clientInfo.era, e.reason])).toEqual([
      ['modern', 'idle_timeout'],
      ['legacy', 'shutdown'],
    ])
  })
})
