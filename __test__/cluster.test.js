'use strict'
// Several instances on one Redis (issue 16; docs/deployment.md): a real redis-server on a free
// loopback port and addon servers in child processes sharing one prefix and key set. Checks that
// setTools / notifyResourceUpdated on one instance reach a 2026-07-28 listen stream
// (@modelcontextprotocol/client 2.x) and a 2025 session's GET stream (@modelcontextprotocol/sdk
// 1.x) on another exactly once; that a 2025 session opened on one instance is served by another
// and a DELETE there ends it (and its GET stream) everywhere; that getClusterStats() on either shows both instances and every
// client once; that kill -9 of an instance removes it within its heartbeat TTL, the other
// reporting its connections closed with reason instance_lost (once on the shared event stream);
// that Redis stopped and restarted mid-run crashes nothing, flags the view meanwhile and heals by
// itself; and that rediss:// works against redis-server --tls-port with a CA openssl makes here.
const crypto = require('node:crypto')
const { execFileSync } = require('node:child_process')
const v2 = require('@modelcontextprotocol/client')
const { Client: LegacyClient } = require('@modelcontextprotocol/sdk/client/index.js')
const { StreamableHTTPClientTransport: LegacyTransport } = require('@modelcontextprotocol/sdk/client/streamableHttp.js')
const { ToolListChangedNotificationSchema, ResourceUpdatedNotificationSchema } = require('@modelcontextprotocol/sdk/types.js')
const { sleep } = require('./helpers/mcp.js')
const cluster = require('./helpers/cluster.js')
const { REDIS, waitFor, freePort, redisCmd, startRedis, stopProcess } = cluster
// The children's internalStats token (fixtures/cluster-child.js).
const STATS_AUTH = { authorization: 'Bearer cluster-test' }

jest.setTimeout(60_000)

const HEARTBEAT_MS = 500
const TTL_MS = 3 * HEARTBEAT_MS
const PREFIX = `t${crypto.randomBytes(4).toString('hex')}`
const KEYS = JSON.stringify([crypto.randomBytes(32).toString('base64')])

// One instance of this file's fleet (one prefix, one key set) in a child process.
const startInstance = (id, redisPort) => cluster.startInstance(id, redisPort, { prefix: PREFIX, keys: KEYS, heartbeatMs: HEARTBEAT_MS })

async function modernClient(url, name) {
  const client = new v2.Client({ name, version: '2.0.0' }, { capabilities: {}, versionNegotiation: { mode: 'auto' } })
  const listChanged = []
  client.setNotificationHandler('notifications/tools/list_changed', (n) => listChanged.push(n))
  await client.connect(new v2.StreamableHTTPClientTransport(new URL(url)))
  return { client, listChanged }
}

async function legacyClient(url, name) {
  const gets = []
  const fetchImpl = async (u, init = {}) => {
    const res = await fetch(u, init)
    if ((init.method || 'GET').toUpperCase() === 'GET') gets.push(res.status)
    return res
  }
  const client = new LegacyClient({ name, version: '1.0.0' }, { capabilities: {} })
  const listChanged = []
  const updated = []
  client.setNotificationHandler(ToolListChangedNotificationSchema, (n) => listChanged.push(n))
  client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => updated.push(n.params.uri))
  const transport = new LegacyTransport(new URL(url), {
    fetch: fetchImpl,
    reconnectionOptions: { initialReconnectionDelay: 50, maxReconnectionDelay: 100, reconnectionDelayGrowFactor: 1, maxRetries: 1 },
  })
  await client.connect(transport)
  await waitFor(() => gets.includes(200), 'the 2025 GET stream')
  return { client, transport, listChanged, updated }
}

const toolNames = async (client) => (await client.listTools()).tools.map((t) => t.name).sort()

const describeIf = REDIS ? describe : describe.skip
if (!REDIS) {
  test('redis-server is installed (scripts/test.sh installs it when running as root)', () => {
    throw new Error('redis-server not found: apt-get install -y redis-server')
  })
}

describeIf('several instances on one Redis', () => {
  let redisPort
  let redis
  let a
  let b
  let c
  const clients = []

  beforeAll(async () => {
    redisPort = await freePort()
    redis = await startRedis(redisPort)
    ;[a, b] = await Promise.all([startInstance('a', redisPort), startInstance('b', redisPort)])
  })

  afterAll(async () => {
    for (const cl of clients) await cl.close().catch(() => {})
    await Promise.all([a, b, c].filter(Boolean).map((i) => stopProcess(i.proc)))
    await stopProcess(redis)
  })

  let modernA
  let legacyA
  let legacyB

  test('setTools on B reaches a listen stream and a 2025 GET stream on A, once each', async () => {
    modernA = await modernClient(a.url, 'modern-a')
    clients.push(modernA.client)
    const sub = await modernA.client.listen({ toolsListChanged: true })
    clients.push(sub)
    legacyA = await legacyClient(a.url, 'legacy-a')
    clients.push(legacyA.client)
    // Both instances are subscribed to the bus once each has a heartbeat in the view.
    await waitFor(async () => (await a.clusterStats()).instances.length === 2, 'both instances in the view')

    const r = await b.cmd('setTools', [{ name: 'echo', inputSchema: { type: 'object' } }, { name: 'from_b', inputSchema: { type: 'object' } }])
    expect(r.ok).toBe(true)
    await waitFor(() => modernA.listChanged.length >= 1, 'tools/list_changed on the listen stream on A')
    await waitFor(() => legacyA.listChanged.length >= 1, 'tools/list_changed on the 2025 session on A')
    await sleep(300)
    expect(modernA.listChanged).toHaveLength(1)
    expect(legacyA.listChanged).toHaveLength(1)
    // A's own catalogue took B's listing.
    expect(await toolNames(legacyA.client)).toEqual(['echo', 'from_b'])
    expect(await toolNames(modernA.client)).toEqual(['echo', 'from_b'])
  })

  test('notifyResourceUpdated on B reaches a subscribed 2025 session on A', async () => {
    await legacyA.client.subscribeResource({ uri: 'mem://a' })
    const r = await b.cmd('notifyResourceUpdated', 'mem://a')
    expect(r.ok).toBe(true)
    await waitFor(() => legacyA.updated.length >= 1, 'resources/updated on A')
    await sleep(200)
    expect(legacyA.updated).toEqual(['mem://a'])
  })

  test('getClusterStats on either instance shows both instances and every client once', async () => {
    // The same sessionless client talks to both instances: one client in the cluster view.
    const modernB = await modernClient(b.url, 'modern-a')
    clients.push(modernB.client)
    await modernB.client.listTools()
    legacyB = await legacyClient(b.url, 'legacy-b')
    clients.push(legacyB.client)
    const expected = (s) => {
      const ids = s.instances.map((i) => i.instanceId).join(',')
      const legacy = s.connections.filter((x) => x.era === 'legacy').length
      const modern = s.connections.filter((x) => x.era === 'modern' && x.clientName === 'modern-a').length
      return ids === 'a,b' && legacy === 2 && modern === 1
    }
    let last
    await waitFor(async () => expected((last = await a.clusterStats())), 'the cluster view on A')
    await waitFor(async () => expected((last = await b.clusterStats())), 'the cluster view on B')
    expect(last.degraded).toBe(false)
    expect(last.activeConnections).toBe(last.connections.length)
    const sessions = last.connections.filter((x) => x.era === 'legacy').map((x) => [x.sessionId, x.instanceId]).sort()
    expect(sessions).toEqual([[legacyA.transport.sessionId, 'a'], [legacyB.transport.sessionId, 'b']].sort())
    const shared = last.connections.find((x) => x.clientName === 'modern-a')
    expect(shared.requestCount).toBeGreaterThanOrEqual(2)
    for (const i of last.instances) {
      expect(i).toEqual(expect.objectContaining({ instanceId: expect.any(String), active: 2, total: expect.any(Number), max: 1000 }))
      expect(typeof i.startedAt).toBe('string') // Dates cross the child's stdout as JSON
    }
    // The same view over HTTP.
    const res = await fetch(new URL('/internal/connections?scope=cluster', a.url), { headers: STATS_AUTH })
    expect(res.status).toBe(200)
    const viaHttp = await res.json()
    expect(viaHttp.instances.map((i) => i.instanceId)).toEqual(['a', 'b'])
    expect(viaHttp.connections.every((x) => x.clientIP === '***')).toBe(true)
    const local = await (await fetch(new URL('/internal/connections', a.url), { headers: STATS_AUTH })).json()
    expect(local.instances).toBeUndefined()
  })

  test('a 2025 session opened on A is served by B; DELETE on B ends it on A, GET stream included', async () => {
    // initialize and the GET stream go to A, every other request (DELETE included) to B.
    let getEnded
    const ended = new Promise((resolve) => (getEnded = resolve))
    const seen = []
    const fetchImpl = async (u, init = {}) => {
      const method = (init.method || 'GET').toUpperCase()
      const toA = method === 'GET' || String(init.body || '').includes('"initialize"')
      const res = await fetch(toA ? a.url : b.url, init)
      seen.push([method, toA ? 'a' : 'b', res.status])
      if (method !== 'GET' || res.status !== 200) return res
      const watched = res.body.pipeThrough(new TransformStream({ flush: () => getEnded() }))
      return new Response(watched, { status: res.status, headers: res.headers })
    }
    const client = new LegacyClient({ name: 'roaming', version: '1.0.0' }, { capabilities: {} })
    const transport = new LegacyTransport(new URL(a.url), {
      fetch: fetchImpl,
      reconnectionOptions: { initialReconnectionDelay: 50, maxReconnectionDelay: 100, reconnectionDelayGrowFactor: 1, maxRetries: 0 },
    })
    clients.push(client)
    await client.connect(transport)
    const sid = transport.sessionId
    await waitFor(() => seen.some(([m, , st]) => m === 'GET' && st === 200), 'the GET stream on A')
    const result = await client.callTool({ name: 'echo', arguments: { text: 'hi' } })
    expect(result.content[0].text).toBe('b:legacy:hi')
    expect(seen.filter(([m, at]) => m === 'POST' && at === 'b').every(([, , st]) => st < 300)).toBe(true)
    const local = async (inst) =>
      (await (await fetch(new URL('/internal/connections?reveal=1', inst.url), { headers: STATS_AUTH })).json()).connections.map((c) => c.sessionId)
    expect(await local(a)).toContain(sid)
    expect(await local(b)).toContain(sid)

    await transport.terminateSession()
    expect(seen.at(-1)).toEqual(['DELETE', 'b', 200])
    await ended
    await waitFor(async () => !(await local(a)).includes(sid), 'the session ended on A')
    expect(await local(b)).not.toContain(sid)
    // Gone everywhere: A does not rebuild it either.
    expect(await redisCmd(redisPort, `EXISTS ${PREFIX}:session:${sid}`)).toBe(':0')
    const res = await fetch(a.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-session-id': sid },
      body: JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'tools/list' }),
    })
    expect(res.status).toBe(404)
  })

  const lostOn = (inst) => inst.events.filter((e) => e.kind === 'closed' && e.reason === 'instance_lost')

  test('kill -9 of an instance removes it and its clients from the view within the heartbeat TTL, reported as instance_lost', async () => {
    const only = await modernClient(b.url, 'only-on-b')
    await only.client.listTools()
    let before
    await waitFor(async () => (before = await a.clusterStats()).connections.some((x) => x.clientName === 'only-on-b'), 'the B-only client in the view')
    // B's own clients: its 2025 session and its sessionless client. The sessionless client
    // named modern-a is also A's (one client in the view), so it stays and is not reported.
    const onlyId = before.connections.find((x) => x.clientName === 'only-on-b').sessionId
    const expected = [legacyB.transport.sessionId, onlyId].sort()
    for (const id of expected) expect(before.connections.find((x) => x.sessionId === id).instanceId).toBe('b')
    expect(lostOn(a)).toEqual([])
    const killedAt = Date.now()
    await stopProcess(b.proc, 'SIGKILL')
    await only.client.close().catch(() => {})
    let s
    await waitFor(async () => (s = await a.clusterStats()).instances.length === 1, 'B leaving the view', TTL_MS + 3_000)
    expect(Date.now() - killedAt).toBeLessThan(TTL_MS + HEARTBEAT_MS + 1_500)
    expect(s.instances.map((i) => i.instanceId)).toEqual(['a'])
    expect(s.connections.some((x) => x.clientName === 'only-on-b' || x.clientName === 'legacy-b')).toBe(false)
    expect(s.connections.some((x) => x.clientName === 'modern-a')).toBe(true)
    await waitFor(() => lostOn(a).length >= 2, "A's instance_lost events", TTL_MS + 3_000)
    expect(Date.now() - killedAt).toBeLessThan(TTL_MS + 2 * HEARTBEAT_MS + 1_500)
    await sleep(2 * HEARTBEAT_MS)
    expect(lostOn(a).map((e) => e.sessionId).sort()).toEqual(expected)
    for (const e of lostOn(a)) expect(e.durationMs).toBeGreaterThan(0)
    // On the cluster's event stream once each, as B's connections.
    const lines = execFileSync('redis-cli', ['-p', String(redisPort), '--raw', 'XRANGE', `${PREFIX}:connections`, '-', '+'])
      .toString()
      .split('\n')
      .filter((l) => l.includes('instance_lost'))
      .map((l) => JSON.parse(l.slice(l.indexOf('{'))))
    expect(lines.map((e) => e.clientInfo.id).sort()).toEqual(expected)
    expect(lines.every((e) => e.eventType === 'disconnected' && e.serverId === 'b' && e.reason === 'instance_lost')).toBe(true)
  })

  test('Redis stopped and restarted: no crash, a flagged view meanwhile, full service after', async () => {
    c = await startInstance('c', redisPort)
    await waitFor(async () => (await a.clusterStats()).instances.length === 2, 'C in the view')
    await stopProcess(redis)

    // Meanwhile: the view is A alone, flagged; everything local still works.
    const s = await a.clusterStats()
    expect(s.degraded).toBe(true)
    expect(typeof s.error).toBe('string')
    expect(s.instances.map((i) => i.instanceId)).toEqual(['a'])
    expect(await toolNames(legacyA.client)).toEqual(['echo', 'from_b'])
    const before = modernA.listChanged.length
    const r = await a.cmd('setTools', [{ name: 'during_outage', inputSchema: { type: 'object' } }])
    expect(r.ok).toBe(true)
    await waitFor(() => modernA.listChanged.length === before + 1, 'the local list_changed during the outage')
    const modernC = await modernClient(c.url, 'modern-c')
    clients.push(modernC.client)
    expect(await toolNames(modernC.client)).toEqual(['echo', 'from_b'])

    // Back: the view heals and the change made during the outage reaches C by itself.
    redis = await startRedis(redisPort)
    await waitFor(async () => {
      const v = await a.clusterStats()
      return !v.degraded && v.instances.map((i) => i.instanceId).join(',') === 'a,c'
    }, 'the healed cluster view', 15_000)
    await waitFor(async () => (await toolNames(modernC.client)).includes('during_outage'), 'C catching up', 15_000)
    expect(a.proc.exitCode).toBeNull()
    expect(c.proc.exitCode).toBeNull()

    // And the bus carries new changes again.
    const n = modernA.listChanged.length
    expect((await c.cmd('setTools', [{ name: 'after', inputSchema: { type: 'object' } }])).ok).toBe(true)
    await waitFor(() => modernA.listChanged.length === n + 1, 'list_changed from C on A after the outage')
    expect(await toolNames(modernA.client)).toEqual(['after'])
    // Nobody live was taken for lost: the outage lost every heartbeat key, yet A reported only B's.
    expect(lostOn(a).every((e) => e.sessionId !== modernC.client.sessionId)).toBe(true)
    expect(lostOn(a)).toHaveLength(2)
    expect(lostOn(c)).toEqual([])
  })
})

describe('the shared option, without a Redis', () => {
  const { startStreamableMcpServer } = require('..')

  test('an unusable redisUrl fails the start, naming the option', async () => {
    await expect(startStreamableMcpServer({ port: 0, shared: { redisUrl: 'not-a-redis-url' } })).rejects.toThrow(/shared\.redisUrl/)
    await expect(startStreamableMcpServer({ port: 0, shared: { redisUrl: '' } })).rejects.toThrow(/shared\.redisUrl/)
  })

  test('getClusterStats() rejects without the shared option; scope=cluster is 404', async () => {
    const server = await startStreamableMcpServer({ port: 0, internalStats: true })
    try {
      await expect(server.getClusterStats()).rejects.toThrow(/shared option/)
      const res = await fetch(new URL('/internal/connections?scope=cluster', server.url))
      expect(res.status).toBe(404)
      expect((await res.json()).error).toMatch(/shared/)
    } finally {
      await server.close()
    }
  })

  test('an instance whose Redis is not there starts, serves, reports a degraded view and closes', async () => {
    const port = await freePort()
    const server = await startStreamableMcpServer({ port: 0, metrics: true, shared: { redisUrl: `redis://127.0.0.1:${port}`, instanceId: 'alone' } })
    try {
      const res = await fetch(server.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify({
          jsonrpc: '2.0', id: 1, method: 'initialize',
          params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
        }),
      })
      expect(res.status).toBe(200)
      await res.text()
      const s = await server.getClusterStats()
      expect(s.degraded).toBe(true)
      expect(s.instances.map((i) => i.instanceId)).toEqual(['alone'])
      expect(s.activeConnections).toBe(1)
      // Every failed Redis operation is counted for operators.
      const failed = /^mcp_shared_store_errors_total (\d+)$/m.exec(await server.metrics())
      expect(failed).not.toBeNull()
      expect(Number(failed[1])).toBeGreaterThan(0)
    } finally {
      await server.close()
    }
  })
})

// TLS to Redis (`rediss://`): Debian's redis-server with --tls-port and a CA made here with openssl.
describe('the shared option over TLS (rediss://)', () => {
  const os = require('node:os')
  const fs = require('node:fs')
  const path = require('node:path')
  const { spawn } = require('node:child_process')
  const { startStreamableMcpServer } = require('..')
  let dir
  let redis
  let tlsPort
  let skip = null

  // A CA, and a certificate it signed for 127.0.0.1; a second CA that signed nothing here.
  function makeCerts() {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-redis-tls-'))
    const run = (...args) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' })
    run('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=mcp-test-ca')
    run('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'other.key', '-out', 'other.crt', '-days', '2', '-subj', '/CN=other-ca')
    run('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'srv.key', '-out', 'srv.csr', '-subj', '/CN=localhost')
    fs.writeFileSync(path.join(dir, 'ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n')
    run('x509', '-req', '-in', 'srv.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'srv.crt', '-days', '2', '-extfile', 'ext')
  }

  beforeAll(async () => {
    if (!REDIS) return
    makeCerts()
    const plain = await freePort()
    tlsPort = await freePort()
    const f = (n) => path.join(dir, n)
    redis = spawn(REDIS, ['--port', String(plain), '--tls-port', String(tlsPort), '--bind', '127.0.0.1', '--tls-cert-file', f('srv.crt'), '--tls-key-file', f('srv.key'), '--tls-ca-cert-file', f('ca.crt'), '--tls-auth-clients', 'no', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    redis.stdout.on('data', (d) => (out += d))
    redis.stderr.on('data', (d) => (out += d))
    try {
      await waitFor(async () => redis.exitCode !== null || (await cluster.ping(plain)), 'redis-server with TLS', 10_000)
    } catch {}
    if (redis.exitCode !== null) skip = `this redis-server has no TLS support: ${out.trim().split('\n').pop()}`
  })

  afterAll(async () => {
    await stopProcess(redis)
    if (dir) fs.rmSync(dir, { recursive: true, force: true })
  })

  const start = (id, tls) =>
    startStreamableMcpServer({
      port: 0,
      // A server with no tools has no tools/list: start with one, so B's listing shows on A.
      tools: [{ name: 'first', inputSchema: { type: 'object' } }],
      callTool: async () => ({ content: [] }),
      shared: { redisUrl: `rediss://127.0.0.1:${tlsPort}`, prefix: 'tls', instanceId: id, heartbeatIntervalMs: 200, tls },
    })

  test('instances reach Redis over TLS with a CA of their own, and see each other', async () => {
    if (!REDIS || skip) return console.warn(`skipped: ${skip || 'no redis-server'}`)
    const caFile = path.join(dir, 'ca.crt')
    const [a, b] = await Promise.all([start('tls-a', { caFile }), start('tls-b', { caFile })])
    try {
      const s = await waitFor(async () => {
        const v = await a.getClusterStats()
        return !v.degraded && v.instances.length === 2 && v
      }, 'both instances in the view over TLS', 10_000)
      expect(s.instances.map((i) => i.instanceId)).toEqual(['tls-a', 'tls-b'])
      b.setTools([{ name: 'over_tls', inputSchema: { type: 'object' } }])
      const m = await modernClient(a.url, 'over-tls')
      try {
        await waitFor(async () => (await toolNames(m.client)).includes('over_tls'), "B's tools on A, over the TLS bus", 10_000)
      } finally {
        await m.client.close()
      }
    } finally {
      await Promise.all([a.close(), b.close()])
    }
  })

  test('a certificate no trusted CA signed is refused (a degraded view); insecure: true accepts it', async () => {
    if (!REDIS || skip) return console.warn(`skipped: ${skip || 'no redis-server'}`)
    const wrong = await start('tls-wrong', { caFile: path.join(dir, 'other.crt') })
    const webpki = await start('tls-webpki', undefined)
    const insecure = await start('tls-insecure', { insecure: true })
    try {
      await sleep(1_000)
      for (const s of [wrong, webpki]) {
        const v = await s.getClusterStats()
        expect(v.degraded).toBe(true)
        expect(typeof v.error).toBe('string')
      }
      await waitFor(async () => !(await insecure.getClusterStats()).degraded, 'the insecure instance connected', 10_000)
    } finally {
      await Promise.all([wrong.close(), webpki.close(), insecure.close()])
    }
  })

  test('an unreadable caFile fails the start, naming the option', async () => {
    await expect(startStreamableMcpServer({ port: 0, shared: { redisUrl: 'rediss://127.0.0.1:1', tls: { caFile: '/nonexistent/ca.pem' } } })).rejects.toThrow(/shared\.tls\.caFile/)
    await expect(startStreamableMcpServer({ port: 0, shared: { redisUrl: 'redis://127.0.0.1:1', tls: { insecure: true } } })).rejects.toThrow(/shared\.tls/)
  })
})
