'use strict'
// Helpers for the two-era tests (issue 9): the 2026-07-28 wire by hand (per-request `_meta`,
// the mirrored MCP-Protocol-Version / Mcp-Method / Mcp-Name headers), real clients of both eras
// (@modelcontextprotocol/client 2.x negotiating 2026-07-28, @modelcontextprotocol/sdk 1.x in a
// 2025 session), a recording monitor and bounded waits. Everything that opens something returns
// a way to close it, so Jest exits on its own.
const { parseSse, deferred, sleep, waitFor } = require('./mcp.js')
const { startStreamableMcpServer } = require('../..')

const MODERN = '2026-07-28'
const ACCEPT_BOTH = 'application/json, text/event-stream'
const KEY = {
  version: 'io.modelcontextprotocol/protocolVersion',
  capabilities: 'io.modelcontextprotocol/clientCapabilities',
  clientInfo: 'io.modelcontextprotocol/clientInfo',
  logLevel: 'io.modelcontextprotocol/logLevel',
  serverInfo: 'io.modelcontextprotocol/serverInfo',
  subscriptionId: 'io.modelcontextprotocol/subscriptionId',
}


// Polls until `pred` is truthy or `deadline` (a Date.now() value) passes; returns the last value.
async function pollUntil(pred, deadline, intervalMs = 10) {
  for (let i = 0; i < 100_000; i++) {
    const v = await pred()
    if (v || Date.now() >= deadline) return v
    await sleep(intervalMs)
  }
  return pred()
}

function startServer(opts = {}, monitor) {
  return startStreamableMcpServer(
    { port: 0, host: '127.0.0.1', serverInfo: { name: 'eras-test-server', version: '1.0.0' }, ...opts },
    monitor,
  )
}

// The per-request `_meta` of 2026-07-28. `omit` drops keys: 'version', 'capabilities'.
function meta({ version = MODERN, capabilities = {}, clientInfo, logLevel, progressToken, omit = [] } = {}) {
  const m = {}
  if (!omit.includes('version')) m[KEY.version] = version
  if (!omit.includes('capabilities')) m[KEY.capabilities] = capabilities
  if (clientInfo) m[KEY.clientInfo] = clientInfo
  if (logLevel) m[KEY.logLevel] = logLevel
  if (progressToken !== undefined) m.progressToken = progressToken
  return m
}

// The name the Mcp-Name header mirrors, if the method has one.
function mirroredName(method, params) {
  if (!params) return undefined
  if (method === 'tools/call' || method === 'prompts/get') return params.name
  if (method === 'resources/read') return params.uri
  return undefined
}

// Headers a correct 2026-07-28 client sends for `method`. `overrides` replaces headers by
// lowercase name; an `undefined` or `null` value removes the header.
function modernHeaders(method, params, overrides = {}) {
  const h = {
    'content-type': 'application/json',
    accept: ACCEPT_BOTH,
    'mcp-protocol-version': (params && params._meta && params._meta[KEY.version]) || MODERN,
    'mcp-method': method,
  }
  const name = mirroredName(method, params)
  if (typeof name === 'string') h['mcp-name'] = name
  for (const [k, v] of Object.entries(overrides)) {
    if (v === undefined || v === null) delete h[k.toLowerCase()]
    else h[k.toLowerCase()] = v
  }
  return h
}

// POSTs one JSON-RPC request on the 2026 wire. `params._meta` defaults to meta(); pass
// `metaOverride: null` to send no `_meta` at all. Returns readResponse()'s shape.
async function modernPost(url, method, params = {}, { id = 1, headers = {}, metaOverride, signal, body } = {}) {
  const p = { ...params }
  if (metaOverride === null) delete p._meta
  else if (metaOverride !== undefined) p._meta = metaOverride
  else if (p._meta === undefined) p._meta = meta()
  const msg = body !== undefined ? body : { jsonrpc: '2.0', ...(id === undefined ? {} : { id }), method, params: p }
  const res = await fetch(url, { method: 'POST', headers: modernHeaders(method, p, headers), body: JSON.stringify(msg), signal })
  return readResponse(res)
}

// Reads a whole response: JSON body, or SSE events (then `json` is the response message and
// `messages` every JSON-RPC message in order).
async function readResponse(res) {
  const text = await res.text()
  const type = res.headers.get('content-type') || ''
  const out = { status: res.status, headers: res.headers, type, text }
  if (type.startsWith('application/json') && text) out.json = JSON.parse(text)
  if (type.startsWith('text/event-stream')) {
    out.events = parseSse(text)
    out.messages = out.events.filter((e) => e.data).map((e) => JSON.parse(e.data))
    out.json = out.messages.find((m) => 'result' in m || 'error' in m)
  }
  return out
}

// An SSE response read incrementally: `next(pred, what)` resolves with the first JSON-RPC
// message (in arrival order, not yet consumed) satisfying pred; bounded by limitMs.
function sseReader(res) {
  const reader = res.body.getReader()
  const decoder = new TextDecoder()
  let buf = ''
  const queue = []
  let ended = false
  const pump = async () => {
    const { value, done } = await reader.read()
    if (done) {
      ended = true
      return
    }
    buf += decoder.decode(value, { stream: true })
    let i
    while ((i = buf.search(/\r?\n\r?\n/)) >= 0) {
      const block = buf.slice(0, i)
      buf = buf.slice(i).replace(/^\r?\n\r?\n/, '')
      for (const ev of parseSse(`${block}\n\n`)) if (ev.data) queue.push(JSON.parse(ev.data))
    }
  }
  const next = async (pred = () => true, what = 'an SSE message', limitMs = 10_000) => {
    const deadline = Date.now() + limitMs
    for (let n = 0; n < 10_000; n++) {
      const k = queue.findIndex(pred)
      if (k >= 0) return queue.splice(k, 1)[0]
      if (ended) throw new Error(`stream ended before ${what}`)
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
      let timer
      await Promise.race([pump(), new Promise((r) => (timer = setTimeout(r, Math.max(1, deadline - Date.now()))))])
      clearTimeout(timer)
    }
    throw new Error(`gave up waiting for ${what}`)
  }
  return { next, cancel: () => reader.cancel().catch(() => {}), isEnded: () => ended, queue }
}

// A ConnectionMonitor that records every call in order.
function recorder() {
  const events = []
  const monitor = {
    onConnectionEstablished: (info) => events.push({ kind: 'established', info, sessionId: info.sessionId }),
    onConnectionClosed: (sessionId, durationMs) => events.push({ kind: 'closed', sessionId, durationMs }),
    onConnectionChange: (stats) => events.push({ kind: 'change', stats }),
    onConnectionRejected: (info) => events.push({ kind: 'rejected', info }),
  }
  const of = (kind) => events.filter((e) => e.kind === kind)
  return {
    monitor,
    events,
    established: () => of('established'),
    closed: () => of('closed'),
    rejected: () => of('rejected'),
    closedFor: (id) => of('closed').filter((e) => e.sessionId === id),
    establishedFor: (id) => of('established').filter((e) => e.sessionId === id),
  }
}

// A JSON-RPC error answer with the given HTTP status and code, echoing the request id.
function expectRpcError(r, status, code, id = 1) {
  expect({ status: r.status, code: r.json && r.json.error && r.json.error.code }).toEqual({ status, code })
  expect(r.json.jsonrpc).toBe('2.0')
  expect(r.json.id).toBe(id)
  expect(typeof r.json.error.message).toBe('string')
  expect(r.json.result).toBeUndefined()
}

module.exports = {
  MODERN,
  ACCEPT_BOTH,
  KEY,
  sleep,
  deferred,
  waitFor,
  pollUntil,
  startServer,
  meta,
  modernHeaders,
  modernPost,
  readResponse,
  parseSse,
  sseReader,
  recorder,
  expectRpcError,
}
