'use strict'
// Operations (issue 17): Prometheus metrics read back with the reference OpenMetrics parser
// (Python's prometheus_client), core diagnostics delivered to a JS logger.
const net = require('net')
const path = require('path')
const { spawnSync } = require('child_process')
const { Client: LegacyClient } = require('@modelcontextprotocol/sdk/client/index.js')
const { StreamableHTTPClientTransport: LegacyTransport } = require('@modelcontextprotocol/sdk/client/streamableHttp.js')
const { startServer, waitFor } = require('./helpers/eras')

const PARSER = path.join(__dirname, 'helpers', 'parse_openmetrics.py')

// The exposition through the reference parser: a malformed text fails the test here.
function parseMetrics(text) {
  const r = spawnSync('python3', [PARSER], { input: text, encoding: 'utf8', timeout: 20_000 })
  if (r.status !== 0) throw new Error(`OpenMetrics parser failed (${r.status}): ${r.stderr}`)
  const parsed = JSON.parse(r.stdout)
  const value = (name, labels = {}) => {
    const want = JSON.stringify(Object.entries(labels).sort())
    const hits = parsed.samples.filter(([n, l]) => n === name && JSON.stringify(Object.entries(l).sort()) === want)
    if (hits.length > 1) throw new Error(`two samples for ${name} ${want}`)
    return hits.length ? hits[0][2] : undefined
  }
  const series = (name) => parsed.samples.filter(([n]) => n === name).map(([, l, v]) => ({ labels: l, value: v }))
  return { ...parsed, value, series }
}

async function legacyClient(url) {
  const client = new LegacyClient({ name: 'telemetry-test', version: '1.0.0' })
  const transport = new LegacyTransport(new URL(url))
  await client.connect(transport)
  return { client, transport }
}

// Sends bytes that are not HTTP and waits for the server to hang up.
function sendGarbage(port) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1', () => sock.write('NOT HTTP AT ALL\r\n\r\n'))
    sock.on('error', reject)
    sock.on('close', resolve)
    sock.resume()
  })
}

describe('logger', () => {
  test('core diagnostics reach the JS logger at its level, batched, typed fields', async () => {
    const debug = []
    const info = []
    const a = await startServer({ logger: (level, message, fields) => debug.push({ level, message, fields }), logLevel: 'debug' })
    const b = await startServer({ logger: (level, message, fields) => info.push({ level, message, fields }), logLevel: 'info' })
    try {
      await sendGarbage(a.port)
      await waitFor(() => debug.some((r) => r.message === 'connection ended with an error'), 'the debug record')
      const rec = debug.find((r) => r.message === 'connection ended with an error')
      expect(rec.level).toBe('debug')
      expect(rec.fields.target).toBe('mcp_swagger_native::transport::server')
      expect(typeof rec.fields.error).toBe('string')
      expect(rec.fields.error.length).toBeGreaterThan(0)
      // A debug record is below b's level.
      expect(info.filter((r) => r.level === 'debug')).toEqual([])
    } finally {
      await a.close()
      await b.close()
    }
  })

  test('logger and logLevel are checked', async () => {
    await expect(startServer({ logger: 'console' })).rejects.toThrow(TypeError)
    await expect(startServer({ logger: () => {}, logLevel: 'verbose' })).rejects.toThrow(/logLevel/)
  })
})

describe('metrics', () => {
  test('metrics() rejects when the option is off', async () => {
    const s = await startServer()
    try {
      await expect(s.metrics()).rejects.toThrow(/metrics are off/)
    } finally {
      await s.close()
    }
  })

  test('connections by era, rejections and session durations', async () => {
    const s = await startServer({ metrics: true, maxConnections: 1, tools: [{ name: 'echo', inputSchema: { type: 'object' } }], callTool: () => ({ content: [] }) })
    const clients = []
    try {
      clients.push(await legacyClient(s.url))
      // Past maxConnections: refused with 503 and counted.
      await expect(legacyClient(s.url)).rejects.toThrow()
      const m = parseMetrics(await s.metrics())
      expect(m.families.mcp_connections).toBe('counter')
      expect(m.value('mcp_connections_total', { era: 'legacy' })).toBe(1)
      expect(m.value('mcp_connections_total', { era: 'modern' })).toBe(0)
      expect(m.value('mcp_connections_active', { era: 'legacy' })).toBe(1)
      expect(m.value('mcp_connections_rejected_total', { reason: 'max_connections' })).toBe(1)
      await clients[0].transport.terminateSession()
      await waitFor(async () => parseMetrics(await s.metrics()).value('mcp_connections_active', { era: 'legacy' }) === 0, 'the session to close')
      const after = parseMetrics(await s.metrics())
      expect(after.value('mcp_server_session_duration_seconds_count', { network_protocol_name: 'http', mcp_protocol_version: '2025-11-25' })).toBe(1)
    } finally {
      for (const c of clients) await c.client.close().catch(() => {})
      await s.close()
    }
  })
})
