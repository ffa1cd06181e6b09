'use strict'
// The hub fed by a real MCP server child (startStreamableMcpServer with stdoutEvents): the stats
// the hub builds from the child's [MCP_CONNECTION] lines match the child's getConnectionStats().
const { spawn } = require('node:child_process')
const path = require('node:path')
const addon = require('..')

const hasServer = typeof addon.startStreamableMcpServer === 'function'
if (!hasServer) {
  // eslint-disable-next-line no-console
  console.warn('events-server.test.js skipped: startStreamableMcpServer is not in this build yet')
}
const maybe = hasServer ? test : test.skip

function childHarness(serverId) {
  const hub = new addon.ConnectionEventHub()
  const child = spawn(process.execPath, [path.join(__dirname, 'fixtures', 'events-server-child.js'), serverId], {
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  let stderr = ''
  child.stderr.on('data', (c) => (stderr += c))
  const waiters = []
  const lines = []
  child.stdout.on('data', (chunk) => {
    for (const l of hub.push(serverId, chunk)) {
      lines.push(l)
      for (const w of [...waiters]) {
        if (l.type === 'log' && l.line.startsWith(w.prefix)) {
          waiters.splice(waiters.indexOf(w), 1)
          w.resolve(l.line.slice(w.prefix.length))
        }
      }
    }
  })
  const exited = new Promise((r) => child.on('close', r))
  const waitFor = (prefix, ms = 10000) =>
    new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no ${prefix} line; stderr: ${stderr}`)), ms)
      waiters.push({ prefix, resolve: (v) => (clearTimeout(t), resolve(v)) })
    })
  const childStats = async () => {
    const p = waitFor('CHILD_STATS ')
    child.stdin.write('stats\n')
    return JSON.parse(await p)
  }
  return { hub, child, lines, waitFor, childStats, exited, stderr: () => stderr }
}

function comparable(hubStats, own) {
  return {
    hub: {
      activeConnections: hubStats.activeConnections,
      totalConnections: hubStats.totalConnections,
      connections: hubStats.connections
        .map((c) => ({ id: c.id, remoteAddress: c.remoteAddress, userAgent: c.userAgent, connectedAt: c.connectedAt.getTime() }))
        .sort((a, b) => a.id.localeCompare(b.id)),
    },
    own: {
      activeConnections: own.activeConnections,
      totalConnections: own.totalConnections,
      connections: own.connections
        .map((c) => ({ id: c.sessionId, remoteAddress: c.clientIP, userAgent: c.userAgent, connectedAt: new Date(c.connectedAt).getTime() }))
        .sort((a, b) => a.id.localeCompare(b.id)),
    },
  }
}

/** Asks the child for its stats until the hub agrees (events and replies may interleave). */
async function expectAgreement(h, serverId) {
  let last
  for (let i = 0; i < 40; i++) {
    const own = await h.childStats()
    const st = h.hub.getStats(serverId)
    last = comparable(st ?? { activeConnections: 0, totalConnections: 0, connections: [] }, own)
    if (JSON.stringify(last.hub) === JSON.stringify(last.own)) break
    await new Promise((r) => setTimeout(r, 50))
  }
  expect(last.hub).toEqual(last.own)
  return last.own
}

maybe('hub stats match the MCP server child’s getConnectionStats()', async () => {
  const { Client } = require('@modelcontextprotocol/sdk/client/index.js')
  const { StreamableHTTPClientTransport } = require('@modelcontextprotocol/sdk/client/streamableHttp.js')
  const serverId = 'srv-events'
  const h = childHarness(serverId)
  try {
    const url = await h.waitFor('READY ')
    const clients = []
    for (let i = 0; i < 3; i++) {
      const transport = new StreamableHTTPClientTransport(new URL(url))
      const client = new Client({ name: `events-test-${i}`, version: '1.0.0' })
      await client.connect(transport)
      await client.listTools()
      clients.push({ client, transport })
    }
    let own = await expectAgreement(h, serverId)
    expect(own.activeConnections).toBe(3)
    expect(own.totalConnections).toBe(3)

    // One client ends its session (DELETE): a `disconnected` event.
    await clients[0].transport.terminateSession()
    await clients[0].client.close()
    own = await expectAgreement(h, serverId)
    expect(own.activeConnections).toBe(2)
    expect(own.totalConnections).toBe(3)

    const events = h.lines.filter((l) => l.type === 'event').map((l) => l.event)
    expect(events.filter((e) => e.eventType === 'connected')).toHaveLength(3)
    expect(events.every((e) => e.serverId === serverId)).toBe(true)
    const gone = events.find((e) => e.eventType === 'disconnected')
    expect(gone.clientInfo.id).toBe(clients[0].transport.sessionId ?? gone.clientInfo.id)
    expect(gone.reason).toBe('deleted')
    expect(h.hub.parseErrors(serverId)).toBe(0)

    for (const c of clients.slice(1)) await c.client.close()
    h.child.stdin.write('close\n')
    await h.exited
    h.hub.end(serverId)
    const st = h.hub.getStats(serverId)
    expect(st.activeConnections).toBe(0)
    expect(st.connections).toEqual([])
    expect(st.parseErrorCount).toBe(0)
  } finally {
    h.child.kill()
  }
})
