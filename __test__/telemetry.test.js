'use strict'
// Operations (issue 17): Prometheus metrics read back with the reference OpenMetrics parser
// (Python's prometheus_client), core diagnostics delivered to a JS logger.
const http = require('http')
const net = require('net')
const path = require('path')
const { spawnSync } = require('child_process')
const { Client: LegacyClient } = require('@modelcontextprotocol/sdk/client/index.js')
const { StreamableHTTPClientTransport: LegacyTransport } = require('@modelcontextprotocol/sdk/client/streamableHttp.js')
const { startServer, waitFor, sleep, modernPost, meta } = require('./helpers/eras')
const { mountHandler } = require('./helpers/mcp')

const OBJ = { type: 'object', properties: {} }
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

// The HTTP status of a tools/list POST sent with these extra headers (Host included, which
// fetch would not send as given).
function statusOf(url, headers) {
  const u = new URL(url)
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: u.hostname, port: u.port, path: u.pathname, method: 'POST', setHost: !headers.host, headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers } },
      (res) => {
        res.resume()
        res.on('end', () => resolve(res.statusCode))
      },
    )
    req.on('error', reject)
    req.end(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }))
  })
}

describe('logger', () => {
  test('core diagnostics reach the JS logger at its level, batched, typed fields', async () => {
    const debug = []
    const info = []
    const a = await startServer({
      logger: (level, message, fields) => debug.push({ level, message, fields }),
      logLevel: 'debug',
      callbackTimeoutMs: 100,
      tools: [{ name: 'slow', inputSchema: OBJ }],
      callTool: () => new Promise(() => {}),
    })
    const b = await startServer({ logger: (level, message, fields) => info.push({ level, message, fields }), logLevel: 'info' })
    // Another server at debug: a's connection events run in a's span and reach a's logger only.
    const other = []
    const c = await startServer({ logger: (level, message, fields) => other.push({ level, message, fields }), logLevel: 'debug' })
    try {
      await sendGarbage(a.port)
      await waitFor(() => debug.some((r) => r.message === 'connection ended with an error'), 'the debug record')
      const rec = debug.find((r) => r.message === 'connection ended with an error')
      expect(rec.level).toBe('debug')
      expect(rec.fields.target).toBe('mcp_swagger_native::transport::sockets')
      expect(typeof rec.fields.error).toBe('string')
      expect(rec.fields.error.length).toBeGreaterThan(0)
      // A debug record is below b's level.
      expect(info.filter((r) => r.level === 'debug')).toEqual([])
      expect(other.filter((r) => r.message === 'connection ended with an error')).toEqual([])
      // The start-up record is each server's own.
      const listening = (records) => records.filter((r) => r.message === 'listening').map((r) => r.fields.address)
      await waitFor(() => listening(debug).length && listening(info).length && listening(other).length, 'the listening records')
      expect(listening(debug)).toEqual([`127.0.0.1:${a.port}`])
      expect(listening(info)).toEqual([`127.0.0.1:${b.port}`])
      expect(listening(other)).toEqual([`127.0.0.1:${c.port}`])
      // A server without a logger keeps its events to itself.
      const quiet = await startServer()
      await sendGarbage(quiet.port)
      await quiet.close()
      await sendGarbage(a.port)
      await waitFor(() => debug.filter((r) => r.message === 'connection ended with an error').length === 2, 'a\'s second record')
      await sleep(100)
      expect(debug.filter((r) => r.message === 'connection ended with an error')).toHaveLength(2)
      expect(listening(debug)).toEqual([`127.0.0.1:${a.port}`])
      expect(other.filter((r) => r.message === 'connection ended with an error')).toEqual([])
      // A callback timeout, from a task spawned off the request, is a's too.
      expect((await modernPost(a.url, 'tools/call', { name: 'slow', arguments: {} })).json.error.code).toBe(-32001)
      await waitFor(() => debug.some((r) => r.message === 'callback timed out'), 'the timeout record')
      const timeout = debug.find((r) => r.message === 'callback timed out')
      expect(timeout.level).toBe('warn')
      expect(timeout.fields).toMatchObject({ kind: 'callTool', target: 'mcp_swagger_native::transport::pipeline' })
      expect(info.concat(other).filter((r) => r.message === 'callback timed out')).toEqual([])
      // ...and c's own go to c.
      await sendGarbage(c.port)
      await waitFor(() => other.some((r) => r.message === 'connection ended with an error'), 'c\'s own record')
      expect(debug.filter((r) => r.message === 'connection ended with an error')).toHaveLength(2)
    } finally {
      await a.close()
      await b.close()
      await c.close()
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

const TP = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'
const TS = 'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE'

// echo answers, fail returns isError, slow never settles (callback timeout), trace reports the
// trace context its ctx got.
function workloadServer(extra = {}) {
  const seen = []
  const opts = {
    metrics: true,
    maxConnections: 2,
    callbackTimeoutMs: 300,
    internalStats: { token: 's3cret' },
    tools: ['echo', 'fail', 'slow', 'trace'].map((name) => ({ name, inputSchema: OBJ })),
    prompts: [{ name: 'greet' }],
    callTool: ({ name }, ctx) => {
      if (name === 'fail') return { content: [{ type: 'text', text: 'no' }], isError: true }
      if (name === 'slow') return new Promise(() => {})
      if (name === 'trace') seen.push({ era: ctx.era, traceparent: ctx.traceparent, tracestate: ctx.tracestate })
      return { content: [{ type: 'text', text: name }] }
    },
    getPrompt: () => ({ messages: [] }),
    ...extra,
  }
  return { seen, start: () => startServer(opts) }
}

describe('metrics under a known workload', () => {
  test('both eras, errors, a timeout, a rejection, an isError tool: exact counts per label set', async () => {
    const { start } = workloadServer()
    const s = await start()
    const open = []
    try {
      // 2025 session (SDK 1.x): initialize + notifications/initialized, then 7 requests.
      const legacy = await legacyClient(s.url)
      open.push(legacy)
      await legacy.client.listTools()
      await legacy.client.listTools()
      await legacy.client.callTool({ name: 'echo', arguments: {} })
      expect((await legacy.client.callTool({ name: 'fail', arguments: {} })).isError).toBe(true)
      await expect(legacy.client.callTool({ name: 'slow', arguments: {} })).rejects.toThrow(/timed out/)
      await expect(legacy.client.callTool({ name: 'random-name-1', arguments: {} })).rejects.toThrow(/Unknown tool/)
      await legacy.client.getPrompt({ name: 'greet' })

      // 2026-07-28, by hand on the wire: 4 requests.
      expect((await modernPost(s.url, 'tools/list', {})).status).toBe(200)
      expect((await modernPost(s.url, 'tools/call', { name: 'echo', arguments: {} })).json.result.content[0].text).toBe('echo')
      expect((await modernPost(s.url, 'tools/call', { name: 'fail', arguments: {} })).json.result.isError).toBe(true)
      const nf = await modernPost(s.url, 'bogus/method', {})
      expect(nf.json.error.code).toBe(-32601)

      // A third connection is refused (maxConnections 2): its initialize is answered 503.
      await expect(legacyClient(s.url)).rejects.toThrow()
      // A Host we do not serve is refused before any JSON-RPC.
      expect(await statusOf(s.url, { host: 'evil.example' })).toBe(403)
      expect(await statusOf(s.url, { origin: 'http://evil.example' })).toBe(403)

      // 2 + 7 legacy, 4 modern, 1 refused initialize.
      const TOTAL = 14
      let m
      await waitFor(async () => {
        m = parseMetrics(await s.metrics())
        return m.series('mcp_server_operation_duration_seconds_count').reduce((a, x) => a + x.value, 0) === TOTAL
      }, 'every operation recorded')
      expect(m.families.mcp_server_operation_duration_seconds).toBe('histogram')
      const L = { mcp_protocol_version: '2025-11-25' }
      const M = { mcp_protocol_version: '2026-07-28' }
      const tool = (name) => ({ mcp_method_name: 'tools/call', gen_ai_operation_name: 'execute_tool', gen_ai_tool_name: name })
      const count = (labels) => m.value('mcp_server_operation_duration_seconds_count', labels)
      const expected = [
        [{ mcp_method_name: 'initialize', ...L }, 1],
        [{ mcp_method_name: 'notifications/initialized', ...L }, 1],
        [{ mcp_method_name: 'tools/list', ...L }, 2],
        [{ ...tool('echo'), ...L }, 1],
        [{ ...tool('fail'), ...L, error_type: 'tool_error' }, 1],
        [{ ...tool('slow'), ...L, error_type: '-32001', rpc_response_status_code: '-32001' }, 1],
        // An unknown tool is the caller's mistake: a status code, no error.type, and the name
        // the client sent never becomes a label.
        [{ ...tool('_OTHER'), ...L, rpc_response_status_code: '-32602' }, 1],
        [{ mcp_method_name: 'prompts/get', gen_ai_prompt_name: 'greet', ...L }, 1],
        [{ mcp_method_name: 'tools/list', ...M }, 1],
        [{ ...tool('echo'), ...M }, 1],
        [{ ...tool('fail'), ...M, error_type: 'tool_error' }, 1],
        [{ mcp_method_name: '_OTHER', ...M, rpc_response_status_code: '-32601' }, 1],
        [{ mcp_method_name: 'initialize', ...L, error_type: '-32000', rpc_response_status_code: '-32000' }, 1],
      ]
      for (const [labels, n] of expected) expect([labels, count(labels)]).toEqual([labels, n])
      expect(expected.reduce((a, [, n]) => a + n, 0)).toBe(TOTAL)
      expect(m.series('mcp_server_operation_duration_seconds_count')).toHaveLength(expected.length)
      // Buckets are cumulative up to +Inf, which equals the count; the slow call took >= 0.3 s.
      const slow = { ...tool('slow'), ...L, error_type: '-32001', rpc_response_status_code: '-32001' }
      expect(m.value('mcp_server_operation_duration_seconds_bucket', { ...slow, le: '+Inf' })).toBe(1)
      expect(m.value('mcp_server_operation_duration_seconds_bucket', { ...slow, le: '0.2' })).toBe(0)
      expect(m.value('mcp_server_operation_duration_seconds_sum', slow)).toBeGreaterThanOrEqual(0.3)
      expect(m.samples.some(([, l]) => Object.values(l).includes('random-name-1') || Object.values(l).some((v) => /^[0-9a-f-]{36}$/.test(v)))).toBe(false)

      expect(m.value('mcp_callback_timeouts_total')).toBe(1)
      expect(m.value('mcp_connections_rejected_total', { reason: 'max_connections' })).toBe(1)
      expect(m.value('mcp_connections_rejected_total', { reason: 'host_not_allowed' })).toBe(1)
      expect(m.value('mcp_connections_rejected_total', { reason: 'origin_not_allowed' })).toBe(1)
      expect(m.value('mcp_connections_total', { era: 'legacy' })).toBe(1)
      expect(m.value('mcp_connections_total', { era: 'modern' })).toBe(1)
      expect(m.value('mcp_connections_active', { era: 'legacy' })).toBe(1)

      // The same text on the listener, behind the internalStats token.
      const url = new URL(s.url)
      expect((await fetch(`${url.origin}/metrics`)).status).toBe(401)
      const res = await fetch(`${url.origin}/metrics`, { headers: { authorization: 'Bearer s3cret' } })
      expect(res.status).toBe(200)
      expect(res.headers.get('content-type')).toMatch(/^application\/openmetrics-text/)
      const scraped = parseMetrics(await res.text())
      expect(scraped.value('mcp_server_operation_duration_seconds_count', { mcp_method_name: 'tools/list', ...L })).toBe(2)
    } finally {
      for (const c of open) await c.client.close().catch(() => {})
      await s.close()
    }
  })
})

describe('metrics under concurrent load', () => {
  test('several connections at once in both eras, then setTools: exact counts, buckets that add up, labels from the new catalog', async () => {
    const { start } = workloadServer({ maxConnections: 10 })
    const s = await start()
    const open = []
    try {
      const L = { mcp_protocol_version: '2025-11-25' }
      const M = { mcp_protocol_version: '2026-07-28' }
      const tool = (name) => ({ mcp_method_name: 'tools/call', gen_ai_operation_name: 'execute_tool', gen_ai_tool_name: name })
      const ROUNDS = 15
      for (let i = 0; i < 3; i++) open.push(await legacyClient(s.url))
      // Three sessions and a sessionless client, each with several requests in flight at once.
      const burst = async (name) => {
        const calls = []
        for (let r = 0; r < ROUNDS; r++) {
          for (const c of open) calls.push(c.client.listTools(), c.client.callTool({ name, arguments: {} }))
          calls.push(modernPost(s.url, 'tools/list', {}, { id: r }), modernPost(s.url, 'tools/call', { name, arguments: {} }, { id: r }))
        }
        const out = await Promise.all(calls)
        for (const o of out.filter((x) => x && x.status !== undefined)) expect(o.status).toBe(200)
      }
      await burst('echo')
      // The catalog changes: the new tool is labelled by its name, the dropped one is no longer
      // a label (its calls are refused and counted as _OTHER).
      s.setTools([{ name: 'renamed', inputSchema: OBJ }])
      await burst('renamed')
      for (const c of open) await expect(c.client.callTool({ name: 'echo', arguments: {} })).rejects.toThrow()
      expect((await modernPost(s.url, 'tools/call', { name: 'echo', arguments: {} })).json.error.code).toBe(-32602)

      const n = ROUNDS * open.length
      const expected = [
        [{ mcp_method_name: 'tools/list', ...L }, 2 * n],
        [{ ...tool('echo'), ...L }, n],
        [{ ...tool('renamed'), ...L }, n],
        [{ ...tool('_OTHER'), ...L, rpc_response_status_code: '-32602' }, open.length],
        [{ mcp_method_name: 'tools/list', ...M }, 2 * ROUNDS],
        [{ ...tool('echo'), ...M }, ROUNDS],
        [{ ...tool('renamed'), ...M }, ROUNDS],
        [{ ...tool('_OTHER'), ...M, rpc_response_status_code: '-32602' }, 1],
      ]
      let m
      await waitFor(async () => {
        m = parseMetrics(await s.metrics())
        return expected.every(([labels, want]) => m.value('mcp_server_operation_duration_seconds_count', labels) === want)
      }, 'every operation recorded')
      for (const [labels, want] of expected) {
        expect([labels, m.value('mcp_server_operation_duration_seconds_count', labels)]).toEqual([labels, want])
        // Cumulative buckets that never go down and end at the count; a positive sum.
        const buckets = m
          .series('mcp_server_operation_duration_seconds_bucket')
          .filter((x) => Object.entries(labels).every(([k, v]) => x.labels[k] === v) && Object.keys(x.labels).length === Object.keys(labels).length + 1)
          .map((x) => [x.labels.le === '+Inf' ? Infinity : Number(x.labels.le), x.value])
          .sort((a, b) => a[0] - b[0])
        expect(buckets).toHaveLength(19)
        for (let i = 1; i < buckets.length; i++) expect(buckets[i][1]).toBeGreaterThanOrEqual(buckets[i - 1][1])
        expect(buckets[buckets.length - 1]).toEqual([Infinity, want])
        expect(m.value('mcp_server_operation_duration_seconds_sum', labels)).toBeGreaterThan(0)
      }
    } finally {
      for (const c of open) await c.client.close().catch(() => {})
      await s.close()
    }
  })
})

// Raw 2025 wire for the stream tests: a session by hand, so no client opens streams of its own.
const LV = '2025-11-25'
function rawHeaders(session, extra = {}) {
  return { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-session-id': session, 'mcp-protocol-version': LV, ...extra }
}
async function rawSession(url) {
  const init = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: LV, capabilities: {}, clientInfo: { name: 'raw', version: '0' } } }),
  })
  await init.text()
  const session = init.headers.get('mcp-session-id')
  const note = await fetch(url, { method: 'POST', headers: rawHeaders(session), body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) })
  await note.text()
  return session
}
function rawPost(url, session, body) {
  return fetch(url, { method: 'POST', headers: rawHeaders(session), body: JSON.stringify(body) })
}

describe('stream close reasons', () => {
  test('slow_consumer, session_ended, server_closed and shutdown are each counted once, where the stream ends', async () => {
    const rejected = []
    const uri = 'mem://' + 'u'.repeat(2000)
    const s = await startServer(
      {
        metrics: true,
        maxStreamBacklogBytes: 256 * 1024,
        resources: [{ uri, name: 'u' }],
        readResource: async (u) => ({ contents: [{ uri: u, text: '' }] }),
        tools: [{ name: 'closer', inputSchema: OBJ }],
        // Ends its own SSE stream for polling (SEP-1699), then answers into the event store.
        callTool: (call, ctx) => {
          ctx.closeStream()
          return { content: [{ type: 'text', text: 'stored' }] }
        },
      },
      { onConnectionRejected: (r) => rejected.push(r) },
    )
    // Polled often: read by pattern here, through the reference parser at the end.
    const closed = async (reason) => {
      const m = (await s.metrics()).match(new RegExp(`^mcp_streams_closed_total\\{reason="${reason}"\\} (\\d+)$`, 'm'))
      return m ? Number(m[1]) : undefined
    }
    const sock = net.connect({ host: '127.0.0.1', port: s.port })
    sock.on('error', () => {})
    const gets = []
    try {
      // server_closed: ctx.closeStream() ends the POST's stream after its priming event.
      const a = await rawSession(s.url)
      const polled = await rawPost(s.url, a, { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'closer', arguments: {} } })
      expect(polled.headers.get('content-type')).toMatch(/^text\/event-stream/)
      const polledText = await polled.text()
      expect(polledText).toMatch(/^id: /m)
      expect(polledText).not.toMatch(/stored/)
      await waitFor(async () => (await closed('server_closed')) === 1, 'server_closed counted')

      // session_ended: DELETE of a session whose GET stream is open ends that stream.
      const b = await rawSession(s.url)
      const get = await fetch(s.url, { headers: { accept: 'text/event-stream', 'mcp-session-id': b, 'mcp-protocol-version': LV } })
      expect(get.status).toBe(200)
      const del = await fetch(s.url, { method: 'DELETE', headers: { 'mcp-session-id': b, 'mcp-protocol-version': LV } })
      expect(del.status).toBeLessThan(300)
      await get.text() // the stream ends
      await waitFor(async () => (await closed('session_ended')) === 1, 'session_ended counted')

      // slow_consumer: a GET stream never read while notifications pile up past the cap.
      const c = await rawSession(s.url)
      const sub = await rawPost(s.url, c, { jsonrpc: '2.0', id: 2, method: 'resources/subscribe', params: { uri } })
      expect((await sub.json()).result).toEqual({})
      await new Promise((r) => (sock.connecting ? sock.once('connect', r) : r()))
      sock.write(`GET /mcp HTTP/1.1\r\nHost: 127.0.0.1:${s.port}\r\nAccept: text/event-stream\r\nMcp-Session-Id: ${c}\r\nMcp-Protocol-Version: ${LV}\r\n\r\n`)
      sock.pause()
      await sleep(100)
      for (let i = 0; i < 20_000 && !rejected.some((r) => r.reason === 'slow_consumer'); i++) {
        s.notifyResourceUpdated(uri)
        if (i % 1000 === 999) await new Promise((r) => setImmediate(r))
      }
      await waitFor(() => rejected.some((r) => r.reason === 'slow_consumer'), 'the slow_consumer report')
      // Counted when its response goes: here, when the client hangs up.
      sock.destroy()
      await waitFor(async () => (await closed('slow_consumer')) === 1, 'slow_consumer counted')

      // shutdown: close() with a GET stream open.
      const d = await rawSession(s.url)
      const open = await fetch(s.url, { headers: { accept: 'text/event-stream', 'mcp-session-id': d, 'mcp-protocol-version': LV } })
      expect(open.status).toBe(200)
      gets.push(open.text().catch(() => ''))
      let m = parseMetrics(await s.metrics())
      expect(m.value('mcp_sse_streams_active', { kind: 'standalone' })).toBe(1)
      await s.close()
      await Promise.all(gets)
      await waitFor(async () => (await closed('shutdown')) === 1, 'shutdown counted')

      // Each stream once, under its one reason; none still open.
      m = parseMetrics(await s.metrics())
      expect(m.value('mcp_streams_closed_total', { reason: 'server_closed' })).toBe(1)
      expect(m.value('mcp_streams_closed_total', { reason: 'session_ended' })).toBe(1)
      expect(m.value('mcp_streams_closed_total', { reason: 'slow_consumer' })).toBe(1)
      expect(m.value('mcp_streams_closed_total', { reason: 'shutdown' })).toBe(1)
      expect(m.value('mcp_streams_closed_total', { reason: 'client_gone' })).toBe(0)
      for (const kind of ['request', 'standalone', 'listen']) expect(m.value('mcp_sse_streams_active', { kind })).toBe(0)
    } finally {
      sock.destroy()
      await s.close()
    }
  }, 90_000)
})

describe('handler mode', () => {
  test('operations served through handle(req, res) are measured too', async () => {
    const { createStreamableMcpHandler } = require('..')
    const handler = await createStreamableMcpHandler({ metrics: true, tools: [{ name: 'echo', inputSchema: OBJ }], callTool: () => ({ content: [] }) })
    const { url, close } = await mountHandler(handler)
    try {
      expect((await modernPost(url, 'tools/list', {})).status).toBe(200)
      expect((await modernPost(url, 'tools/call', { name: 'echo', arguments: {} })).status).toBe(200)
      let m
      await waitFor(async () => {
        m = parseMetrics(await handler.metrics())
        return m.series('mcp_server_operation_duration_seconds_count').length === 2
      }, 'both operations')
      expect(m.value('mcp_server_operation_duration_seconds_count', { mcp_method_name: 'tools/list', mcp_protocol_version: '2026-07-28' })).toBe(1)
      expect(m.value('mcp_server_operation_duration_seconds_count', { mcp_method_name: 'tools/call', gen_ai_operation_name: 'execute_tool', gen_ai_tool_name: 'echo', mcp_protocol_version: '2026-07-28' })).toBe(1)
    } finally {
      await close()
    }
  })
})

describe('trace context', () => {
  test('a traceparent in _meta reaches ctx in both eras; an invalid one is dropped', async () => {
    const { seen, start } = workloadServer({ maxConnections: 10, callbackTimeoutMs: 10_000 })
    const s = await start()
    const open = []
    try {
      const legacy = await legacyClient(s.url)
      open.push(legacy)
      await legacy.client.callTool({ name: 'trace', arguments: {}, _meta: { traceparent: TP, tracestate: TS } })
      await legacy.client.callTool({ name: 'trace', arguments: {}, _meta: { traceparent: TP.toUpperCase() } })
      await modernPost(s.url, 'tools/call', { name: 'trace', arguments: {}, _meta: { ...meta(), traceparent: TP, tracestate: TS } })
      await modernPost(s.url, 'tools/call', { name: 'trace', arguments: {}, _meta: { ...meta(), traceparent: TP, tracestate: 'not a tracestate' } })
      await modernPost(s.url, 'tools/call', { name: 'trace', arguments: {} })
      expect(seen).toEqual([
        { era: 'legacy', traceparent: TP, tracestate: TS },
        { era: 'legacy', traceparent: undefined, tracestate: undefined },
        { era: 'modern', traceparent: TP, tracestate: TS },
        { era: 'modern', traceparent: TP, tracestate: undefined },
        { era: 'modern', traceparent: undefined, tracestate: undefined },
      ])
    } finally {
      for (const c of open) await c.client.close().catch(() => {})
      await s.close()
    }
  })
})
