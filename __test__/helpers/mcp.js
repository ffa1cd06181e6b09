'use strict'
// Shared helpers for the JS tests: a server on a free loopback port, real SDK clients, raw
// HTTP requests, SSE parsing and bounded waits. Every helper that opens something returns a way
// to close it; the tests close everything so Jest exits on its own.
const http = require('node:http')
const { startStreamableMcpServer } = require('../..')
const { Client } = require('@modelcontextprotocol/sdk/client/index.js')
const { StreamableHTTPClientTransport } = require('@modelcontextprotocol/sdk/client/streamableHttp.js')

const ACCEPT_BOTH = 'application/json, text/event-stream'

function deferred() {
  let resolve
  let reject
  const promise = new Promise((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

// Polls `pred` until it is truthy; bounded (tries × intervalMs), throws with `what` otherwise.
async function waitFor(pred, what = 'condition', { tries = 500, intervalMs = 10 } = {}) {
  for (let i = 0; i < tries; i++) {
    const v = await pred()
    if (v) return v
    await sleep(intervalMs)
  }
  throw new Error(`timed out waiting for ${what}`)
}

function startServer(opts = {}, monitor) {
  return startStreamableMcpServer(
    { port: 0, host: '127.0.0.1', serverInfo: { name: 'test-server', version: '1.0.0' }, ...opts },
    monitor,
  )
}

// Handler mode on a node:http server on a free loopback port: every request goes to
// `route(req, res)` (by default `handler.handle(req, res)`). `close()` closes the handler, then
// the connections clients keep alive, then the server.
async function mountHandler(handler, route = (req, res) => handler.handle(req, res)) {
  const server = http.createServer(route)
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    server,
    url: `http://127.0.0.1:${server.address().port}/mcp`,
    close: async () => {
      await handler.close()
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    },
  }
}

// A fetch that records every request the SDK transport makes (method, headers, status), so a
// test can see the GET stream open or a resumption with Last-Event-ID without timing.
// `onResponse(res, entry)` may return a replacement Response (e.g. one whose body breaks).
function recordingFetch({ onResponse } = {}) {
  const calls = []
  const waiters = []
  const notify = () => {
    for (const w of waiters.slice()) {
      if (w.pred(calls)) {
        waiters.splice(waiters.indexOf(w), 1)
        w.resolve()
      }
    }
  }
  const fetchImpl = async (url, init = {}) => {
    const headers = new Headers(init.headers || {})
    const entry = { method: (init.method || 'GET').toUpperCase(), headers, status: undefined }
    calls.push(entry)
    let res = await fetch(url, init)
    entry.status = res.status
    notify()
    if (onResponse) res = (await onResponse(res, entry)) || res
    return res
  }
  // Resolves when some recorded call satisfies `pred(call)`; bounded by the caller's test timeout
  // and by `limitMs` here so a missing request fails with a clear message.
  const until = (pred, what, limitMs = 10_000) => {
    if (calls.some(pred)) return Promise.resolve()
    const d = deferred()
    const timer = setTimeout(() => d.reject(new Error(`timed out waiting for ${what}`)), limitMs)
    waiters.push({
      pred: (cs) => cs.some(pred),
      resolve: () => {
        clearTimeout(timer)
        d.resolve()
      },
    })
    return d.promise
  }
  const getStreamOpen = () => until((c) => c.method === 'GET' && c.status === 200, 'the GET stream to open')
  return { fetch: fetchImpl, calls, until, getStreamOpen }
}

// A real SDK client over StreamableHTTPClientTransport. Returns { client, transport, rec, errors }.
async function connectClient(url, { name = 'test-client', capabilities = {}, reconnectionOptions, setup, onResponse } = {}) {
  const rec = recordingFetch({ onResponse })
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    fetch: rec.fetch,
    ...(reconnectionOptions ? { reconnectionOptions } : {}),
  })
  const client = new Client({ name, version: '0.0.1' }, { capabilities })
  const errors = []
  client.onerror = (e) => errors.push(e)
  if (setup) setup(client)
  await client.connect(transport)
  return { client, transport, rec, errors }
}

// --- raw HTTP -----------------------------------------------------------------------------

async function post(url, body, { session, version, headers = {}, raw = false } = {}) {
  const h = { 'content-type': 'application/json', accept: ACCEPT_BOTH, ...headers }
  if (session) h['mcp-session-id'] = session
  if (version) h['mcp-protocol-version'] = version
  const res = await fetch(url, { method: 'POST', headers: h, body: raw ? body : JSON.stringify(body) })
  return readResponse(res)
}

async function readResponse(res) {
  const text = await res.text()
  const type = res.headers.get('content-type') || ''
  let json
  let events
  if (type.startsWith('application/json') && text) json = JSON.parse(text)
  if (type.startsWith('text/event-stream')) {
    events = parseSse(text)
    const messages = events.filter((e) => e.data).map((e) => JSON.parse(e.data))
    json = messages.find((m) => 'result' in m || 'error' in m)
    return { status: res.status, headers: res.headers, text, json, events, messages }
  }
  return { status: res.status, headers: res.headers, text, json }
}

function parseSse(text) {
  const events = []
  for (const block of text.split(/\r?\n\r?\n/)) {
    if (!block.trim()) continue
    const ev = {}
    const data = []
    for (const line of block.split(/\r?\n/)) {
      if (line.startsWith(':')) continue
      const i = line.indexOf(':')
      const field = i < 0 ? line : line.slice(0, i)
      const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '')
      if (field === 'data') data.push(value)
      else ev[field] = value
    }
    ev.data = data.join('\n')
    if (Object.keys(ev).length > 1 || ev.data) events.push(ev)
  }
  return events
}

// initialize + notifications/initialized over raw HTTP; returns the session id.
async function openSession(url, version = '2025-06-18', capabilities = {}) {
  const init = await post(url, {
    jsonrpc: '2.0',
    id: 0,
    method: 'initialize',
    params: { protocolVersion: version, capabilities, clientInfo: { name: 'raw', version: '0' } },
  })
  if (init.status !== 200) throw new Error(`initialize failed: ${init.status} ${init.text}`)
  const session = init.headers.get('mcp-session-id')
  if (!session) throw new Error('no Mcp-Session-Id')
  const note = await post(url, { jsonrpc: '2.0', method: 'notifications/initialized' }, { session, version })
  if (note.status !== 202) throw new Error(`notifications/initialized: ${note.status}`)
  return session
}

// A Response whose SSE body passes bytes through until `cut(textSoFar)` is true, then fails like
// a dropped connection (the real body is cancelled, so the server sees its reader go away).
function breakingSse(res, cut, onCut) {
  const reader = res.body.getReader()
  const decoder = new TextDecoder()
  let seen = ''
  const body = new ReadableStream({
    async pull(controller) {
      const { value, done } = await reader.read()
      if (done) return controller.close()
      controller.enqueue(value)
      seen += decoder.decode(value, { stream: true })
      if (cut(seen)) {
        await reader.cancel().catch(() => {})
        controller.error(new TypeError('simulated network drop'))
        onCut()
      }
    },
    cancel: (why) => reader.cancel(why),
  })
  return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers })
}

module.exports = {
  breakingSse,
  ACCEPT_BOTH,
  deferred,
  sleep,
  waitFor,
  startServer,
  mountHandler,
  recordingFetch,
  connectClient,
  post,
  readResponse,
  parseSse,
  openSession,
}
