'use strict'
// Two instances on one Redis behind a round-robin HTTP proxy (no sticky routing; issue 16,
// docs/deployment.md). Real clients through the proxy: a 2025 session (@modelcontextprotocol/sdk
// 1.x) opened on one instance works on the other; a slow tool's stream dropped on A is resumed on
// B from the shared event log (every event once, then the result); a 2025 session's GET stream cut
// on A and resumed on B replays what it missed and then carries live notifications, once each; a
// log level or subscription changed on B holds for the copy of the session A already serves; a 2026-07-28 client
// (@modelcontextprotocol/client 2.x) completes a multi round-trip tool whose retry lands on the
// other instance; an elicitation answer and a notifications/cancelled sent to the other instance
// reach the call waiting on the first; every instance's [MCP_CONNECTION] events are on one Redis
// Stream; with Redis stopped, what needs it fails clearly (503) and the rest works, and
// after a restart everything does again.
const crypto = require('node:crypto')
const v2 = require('@modelcontextprotocol/client')
const { Client: LegacyClient } = require('@modelcontextprotocol/sdk/client/index.js')
const { StreamableHTTPClientTransport: LegacyTransport } = require('@modelcontextprotocol/sdk/client/streamableHttp.js')
const { ToolListChangedNotificationSchema, ResourceUpdatedNotificationSchema, LoggingMessageNotificationSchema } = require('@modelcontextprotocol/sdk/types.js')
const { sleep } = require('./helpers/mcp.js')
const { REDIS, waitFor, freePort, redisCmd, startRedis, stopProcess, startInstance, startProxy } = require('./helpers/cluster.js')

jest.setTimeout(60_000)

const PREFIX = `p${crypto.randomBytes(4).toString('hex')}`
const KEYS = JSON.stringify([crypto.randomBytes(32).toString('base64')])
const textOf = (r) => r.content.map((c) => c.text).join('')
const INIT = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
}
// The children's tools (fixtures/cluster-child.js), for a setTools that changes nothing else.
const OBJ = { type: 'object', properties: {} }
const TOOLS = ['echo', 'slow', 'ask', 'logs'].map((name) => ({ name, inputSchema: OBJ }))
const RECONNECT = { initialReconnectionDelay: 50, maxReconnectionDelay: 100, reconnectionDelayGrowFactor: 1, maxRetries: 5 }
const HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }

async function legacyClient(url, name) {
  const client = new LegacyClient({ name, version: '1.0.0' }, { capabilities: {} })
  const errors = []
  client.onerror = (e) => errors.push(e)
  const transport = new LegacyTransport(new URL(url), {
    reconnectionOptions: { initialReconnectionDelay: 50, maxReconnectionDelay: 100, reconnectionDelayGrowFactor: 1, maxRetries: 2 },
  })
  await client.connect(transport)
  return { client, transport, errors }
}

const describeIf = REDIS ? describe : describe.skip

describeIf('two instances behind a round-robin proxy', () => {
  let redisPort
  let redis
  let a
  let b
  let proxy
  const clients = []

  beforeAll(async () => {
    redisPort = await freePort()
    redis = await startRedis(redisPort)
    const opts = { prefix: PREFIX, keys: KEYS }
    ;[a, b] = await Promise.all([startInstance('a', redisPort, opts), startInstance('b', redisPort, opts)])
    proxy = await startProxy([a, b])
  })

  afterEach(() => {
    proxy.pick = null
    proxy.tap = null
  })

  afterAll(async () => {
    for (const cl of clients) await cl.close().catch(() => {})
    if (proxy) await proxy.close()
    await Promise.all([a, b].filter(Boolean).map((i) => stopProcess(i.proc)))
    await stopProcess(redis)
  })

  test('a 2025 session opened on one instance is served by both', async () => {
    // No GET stream here: every request alternates between the instances.
    proxy.pick = (req) => (req.method === 'GET' ? 'a' : null)
    const { client, transport } = await legacyClient(proxy.url, 'rr-legacy')
    clients.push(client)
    const served = new Set()
    for (let i = 0; i < 4; i++) {
      const r = await client.callTool({ name: 'echo', arguments: { text: `n${i}` } })
      expect(textOf(r)).toMatch(new RegExp(`^[ab]:legacy:n${i}$`))
      served.add(textOf(r)[0])
    }
    expect([...served].sort()).toEqual(['a', 'b'])
    const posts = proxy.log.filter(([m]) => m === 'POST')
    expect(posts.every(([, , st]) => st < 300)).toBe(true)
    expect(new Set(posts.map(([, at]) => at)).size).toBe(2)
    expect(transport.sessionId).toMatch(/^[0-9a-f]{32}$/)
  })

  test('a slow tool whose stream drops on A is resumed on B: every event once, then the result', async () => {
    // Everything to A except a resume (Last-Event-ID), which goes to B.
    proxy.pick = (req) => (req.headers['last-event-id'] ? 'b' : 'a')
    const { client } = await legacyClient(proxy.url, 'resumer')
    clients.push(client)
    // The proxy cuts the tool call's SSE response after two progress events, at an event boundary.
    let cut = false
    proxy.tap = (req, res, upRes) => {
      if (cut || req.method !== 'POST' || !String(upRes.headers['content-type']).startsWith('text/event-stream')) return false
      let buf = ''
      let progress = 0
      upRes.on('data', (chunk) => {
        if (cut) return
        buf += chunk.toString()
        let i
        while (!cut && (i = buf.indexOf('\n\n')) >= 0) {
          const event = buf.slice(0, i + 2)
          buf = buf.slice(i + 2)
          res.write(event)
          if (event.includes('notifications/progress') && ++progress === 2) {
            cut = true
            res.end()
            upRes.destroy()
          }
        }
      })
      upRes.on('end', () => res.end())
      return true
    }
    const seen = []
    const result = await client.callTool({ name: 'slow', arguments: { steps: 6, ms: 250 } }, undefined, {
      onprogress: (p) => seen.push(p.message),
      timeout: 30_000,
    })
    expect(cut).toBe(true)
    expect(textOf(result)).toBe('a:slow done')
    expect(seen).toEqual(['a:1', 'a:2', 'a:3', 'a:4', 'a:5', 'a:6'])
    const resumes = proxy.log.filter(([m, , , last]) => m === 'GET' && last && /^[1-9]\d*-\d+$/.test(last) && !last.startsWith('0-'))
    expect(resumes.length).toBeGreaterThanOrEqual(1)
    expect(resumes.every(([, at, st]) => at === 'b' && st === 200)).toBe(true)
  })

  test('a GET stream cut on A and resumed on B: what it missed, then live notifications, once each', async () => {
    // A fresh GET and every POST to A; the GET that resumes (Last-Event-ID) to B.
    proxy.pick = (req) => (req.method === 'GET' && req.headers['last-event-id'] ? 'b' : 'a')
    // The client's resume waits until the test let it go, so an event is surely missed first.
    let release
    const gate = new Promise((resolve) => (release = resolve))
    const fetchImpl = async (u, init = {}) => {
      if ((init.method || 'GET') === 'GET' && new Headers(init.headers).get('last-event-id')) await gate
      return fetch(u, init)
    }
    // Each GET response through the proxy, its text kept and a way to cut it.
    const gets = []
    proxy.tap = (req, res, upRes, entry) => {
      if (req.method !== 'GET' || upRes.statusCode !== 200) return false
      const g = { at: entry[1], last: entry[3], text: '', cut: () => (res.end(), upRes.destroy()) }
      gets.push(g)
      upRes.on('data', (c) => {
        g.text += c.toString()
        res.write(c)
      })
      upRes.on('end', () => res.end())
      res.on('close', () => upRes.destroy())
      return true
    }
    const client = new LegacyClient({ name: 'get-resumer', version: '1.0.0' }, { capabilities: {} })
    const listChanged = []
    const updated = []
    client.setNotificationHandler(ToolListChangedNotificationSchema, (n) => listChanged.push(n))
    client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => updated.push(n.params.uri))
    await client.connect(new LegacyTransport(new URL(proxy.url), { fetch: fetchImpl, reconnectionOptions: RECONNECT }))
    clients.push(client)
    await client.subscribeResource({ uri: 'mem://a' })
    await waitFor(() => gets.length === 1, 'the GET stream on A')
    expect((await a.cmd('setTools', TOOLS)).ok).toBe(true)
    await waitFor(() => listChanged.length === 1, 'list_changed on the GET stream on A')
    gets[0].cut()
    // Sent while no GET stream is open: the resume must replay it.
    expect((await a.cmd('setTools', TOOLS)).ok).toBe(true)
    await sleep(300)
    release()
    await waitFor(() => listChanged.length === 2, 'the missed list_changed, replayed on B')
    expect(gets).toHaveLength(2)
    const resumed = gets[1]
    expect(resumed.at).toBe('b')
    expect(resumed.last).toMatch(/^0-\d+$/)
    // Live now: changes made on B and on A reach the stream held on B.
    expect((await b.cmd('setTools', TOOLS)).ok).toBe(true)
    await waitFor(() => listChanged.length === 3, 'list_changed from B on the resumed stream')
    expect((await a.cmd('notifyResourceUpdated', 'mem://a')).ok).toBe(true)
    await waitFor(() => updated.length === 1, 'resources/updated on the resumed stream')
    await sleep(500)
    expect(listChanged).toHaveLength(3)
    expect(updated).toEqual(['mem://a'])
    // The resumed stream goes on with the ids of the copy that wrote them, after the resume point.
    const ids = resumed.text.match(/^id: \S+$/gm).map((l) => l.slice(4))
    expect(ids).toHaveLength(3)
    const seq = (id) => Number(id.split('-')[1])
    expect(ids.every((id) => id.startsWith('0-') && seq(id) > seq(resumed.last))).toBe(true)
    expect(new Set(ids).size).toBe(3)
    expect(gets[0].text).not.toMatch(/resources\/updated/)
  })

  test('a log level and a subscription changed on B hold for the copy of the session A already serves', async () => {
    // Initialize and the GET stream on A, then each request where `to` says.
    let to = 'a'
    const fetchImpl = (u, init = {}) => fetch(to === 'a' ? a.url : b.url, init)
    const client = new LegacyClient({ name: 'levels', version: '1.0.0' }, { capabilities: {} })
    const logged = []
    const updated = []
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => logged.push(n.params.data))
    client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => updated.push(n.params.uri))
    const transport = new LegacyTransport(new URL(a.url), { fetch: fetchImpl, reconnectionOptions: RECONNECT })
    await client.connect(transport)
    clients.push(client)
    to = 'b'
    await client.listTools() // B holds a copy now too
    to = 'a'
    const logsOnA = async () => {
      logged.length = 0
      expect(textOf(await client.callTool({ name: 'logs', arguments: {} }))).toBe('a:logged')
      await sleep(50)
      return logged.join(',')
    }
    expect(await logsOnA()).toBe('a:info,a:error')
    to = 'b'
    await client.setLoggingLevel('error')
    to = 'a'
    await waitFor(async () => (await logsOnA()) === 'a:error', 'A honouring the level set on B')
    expect(await logsOnA()).toBe('a:error')

    to = 'b'
    await client.subscribeResource({ uri: 'mem://a' })
    to = 'a'
    const notifyOnA = async () => {
      updated.length = 0
      expect((await a.cmd('notifyResourceUpdated', 'mem://a')).ok).toBe(true)
      await sleep(150)
      return updated.length
    }
    await waitFor(async () => (await notifyOnA()) === 1, "A honouring B's subscribe")
    to = 'b'
    await client.unsubscribeResource({ uri: 'mem://a' })
    await waitFor(async () => (await notifyOnA()) === 0, "A honouring B's unsubscribe")
    expect(await notifyOnA()).toBe(0)
  })

  test('a resume on another instance past what the log still holds is refused (410), never partial', async () => {
    proxy.pick = () => 'a'
    const init = await fetch(proxy.url, { method: 'POST', headers: HEADERS, body: JSON.stringify(INIT) })
    const sid = init.headers.get('mcp-session-id')
    await init.text()
    // A request stream that exists only in the shared log: its entries 1..3, then 1 and 2 trimmed.
    const key = `${PREFIX}:events:${sid}:7`
    for (const seq of [1, 2, 3]) {
      const msg = JSON.stringify({ jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: seq } })
      expect(await redisCmd(redisPort, `XADD ${key} 0-${seq} p ${seq - 1} d ${JSON.stringify(msg)}`)).toBe(`$3\r\n0-${seq}`)
    }
    expect(await redisCmd(redisPort, `XADD ${key} 0-18446744073709551615 p 3 e 1`)).toMatch(/0-18446744073709551615/)
    const resume = (last) => fetch(b.url, { headers: { accept: 'text/event-stream', 'mcp-session-id': sid, 'last-event-id': last } })
    // Complete: from 1, entries 2 and 3 then the end.
    const ok = await resume('7-1')
    expect(ok.status).toBe(200)
    const text = await ok.text()
    expect(text.match(/^id: 7-\d+$/gm)).toEqual(['id: 7-2', 'id: 7-3'])
    await redisCmd(redisPort, `XTRIM ${key} MINID 0-3`)
    const gone = await resume('7-1')
    expect(gone.status).toBe(410)
    expect((await gone.json()).error.data).toEqual({ reason: 'events_purged', lastEventId: '7-1' })
    const rest = await resume('7-2')
    expect(rest.status).toBe(200)
    expect((await rest.text()).match(/^id: 7-\d+$/gm)).toEqual(['id: 7-3'])
  })

  test('a 2026-07-28 multi round-trip tool completes with its retry on the other instance', async () => {
    const client = new v2.Client({ name: 'rr-modern', version: '2.0.0' }, { capabilities: { elicitation: {} }, versionNegotiation: { mode: 'auto' } })
    client.setRequestHandler('elicitation/create', async () => ({ action: 'accept', content: { name: 'Grace' } }))
    await client.connect(new v2.StreamableHTTPClientTransport(new URL(proxy.url)))
    clients.push(client)
    const start = proxy.log.length
    const r = await client.callTool({ name: 'ask', arguments: {} })
    const m = /^([ab]):hello Grace \(asked-on-([ab])\)$/.exec(textOf(r))
    expect(m).not.toBeNull()
    // Asked on one instance, answered on the other: the sealed requestState opened there.
    expect(m[1]).not.toBe(m[2])
    expect(proxy.log.slice(start).filter(([mth]) => mth === 'POST')).toHaveLength(2)
  })

  test("a 2025 client's answer to an elicitation lands on B and reaches the call waiting on A", async () => {
    proxy.pick = () => 'a'
    const client = new LegacyClient({ name: 'answers-elsewhere', version: '1.0.0' }, { capabilities: { elicitation: {} } })
    const { ElicitRequestSchema } = require('@modelcontextprotocol/sdk/types.js')
    const asked = []
    client.setRequestHandler(ElicitRequestSchema, async (req) => {
      asked.push(req.params.message)
      return { action: 'accept', content: { name: 'Ada' } }
    })
    await client.connect(new LegacyTransport(new URL(proxy.url)))
    clients.push(client)
    // The call goes to A; the next POST (the client's answer) to B.
    let posts = 0
    proxy.pick = (req) => (req.method === 'POST' ? (posts++ === 0 ? 'a' : 'b') : 'a')
    const start = proxy.log.length
    const r = await client.callTool({ name: 'ask', arguments: {} })
    expect(textOf(r)).toBe('a:hello Ada (asked-on-a)')
    expect(asked).toEqual(['Name?'])
    expect(proxy.log.slice(start).filter(([m]) => m === 'POST').map(([, at]) => at)).toEqual(['a', 'b'])
  })

  test('a notifications/cancelled that lands on B aborts the call running on A', async () => {
    proxy.pick = () => 'a'
    const { client } = await legacyClient(proxy.url, 'canceller')
    clients.push(client)
    const before = (await a.cmd('aborted')).value
    // The call goes to A; the next POST (the client's notifications/cancelled) to B.
    let posts = 0
    proxy.pick = (req) => (req.method === 'POST' ? (posts++ === 0 ? 'a' : 'b') : 'a')
    const start = proxy.log.length
    const ctl = new AbortController()
    const started = []
    const call = client.callTool({ name: 'slow', arguments: { steps: 40, ms: 100 } }, undefined, { signal: ctl.signal, onprogress: (p) => started.push(p) })
    await waitFor(() => started.length >= 1, 'the slow call running on A')
    ctl.abort('changed my mind')
    await expect(call).rejects.toThrow()
    await waitFor(async () => (await a.cmd('aborted')).value === before + 1, 'the call on A aborted')
    expect(proxy.log.slice(start).filter(([m]) => m === 'POST').map(([, at, st]) => [at, st])).toEqual([['a', 200], ['b', 202]])
  })

  test('the [MCP_CONNECTION] events of both instances are on one Redis Stream that a ConnectionEventHub reads', async () => {
    const { execFileSync } = require('node:child_process')
    const { ConnectionEventHub } = require('..')
    // XRANGE in redis-cli's raw form: id, 'instance', id, 'line', line; one a line.
    const entries = () => {
      const out = execFileSync('redis-cli', ['-p', String(redisPort), '--raw', 'XRANGE', `${PREFIX}:connections`, '-', '+']).toString().split('\n')
      const got = []
      for (let i = 0; i + 4 < out.length; i += 5) got.push({ instance: out[i + 2], line: out[i + 4] })
      return got
    }
    let got
    await waitFor(() => {
      got = entries()
      return ['a', 'b'].every((id) => got.some((e) => e.instance === id))
    }, 'events of both instances on the stream')
    const events = []
    const hub = new ConnectionEventHub({ onEvent: (id, e) => events.push([id, e]) })
    for (const e of got) hub.push(e.instance, `${e.line}\n`)
    expect(events).toHaveLength(got.length)
    for (const id of ['a', 'b']) {
      const mine = events.filter(([from]) => from === id).map(([, e]) => e)
      expect(mine.some((e) => e.eventType === 'connected')).toBe(true)
      expect(mine.every((e) => e.serverId === id)).toBe(true)
    }
  })

  test('Redis stopped: clear errors where the shared store is needed, local work goes on; restarted: full service', async () => {
    const { client } = await legacyClient(proxy.url, 'through-outage')
    clients.push(client)
    proxy.pick = (req) => (req.method === 'GET' ? 'a' : null)
    await client.callTool({ name: 'echo', arguments: { text: 'before' } })
    await stopProcess(redis)

    // A session that one instance holds keeps working there.
    proxy.pick = () => 'a'
    expect(textOf(await client.callTool({ name: 'echo', arguments: { text: 'x' } }))).toBe('a:legacy:x')
    // A new session cannot reach the other instance: that one says why (503), not 404.
    const init = await fetch(a.url, { method: 'POST', headers: HEADERS, body: JSON.stringify(INIT) })
    expect(init.status).toBe(200)
    const sid = init.headers.get('mcp-session-id')
    await init.text()
    const elsewhere = await fetch(b.url, {
      method: 'POST',
      headers: { ...HEADERS, 'mcp-session-id': sid },
      body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }),
    })
    expect(elsewhere.status).toBe(503)
    expect((await elsewhere.json()).error.message).toMatch(/shared store/)
    // Sessionless (2026-07-28) requests need no shared store at all.
    const modern = new v2.Client({ name: 'outage-modern', version: '2.0.0' }, { capabilities: {}, versionNegotiation: { mode: 'auto' } })
    proxy.pick = null
    await modern.connect(new v2.StreamableHTTPClientTransport(new URL(proxy.url)))
    clients.push(modern)
    expect((await modern.listTools()).tools.map((t) => t.name)).toContain('echo')

    redis = await startRedis(redisPort)
    // Back: sessions opened now roam again, by themselves.
    await waitFor(async () => {
      const s = await a.clusterStats()
      return !s.degraded && s.instances.length === 2
    }, 'the healed cluster view', 15_000)
    const { client: after } = await legacyClient(proxy.url, 'after-outage')
    clients.push(after)
    const served = new Set()
    for (let i = 0; i < 4; i++) served.add(textOf(await after.callTool({ name: 'echo', arguments: { text: 'y' } }))[0])
    expect([...served].sort()).toEqual(['a', 'b'])
    expect(a.proc.exitCode).toBeNull()
    expect(b.proc.exitCode).toBeNull()
  })
})
