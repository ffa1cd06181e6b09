'use strict'
// The hand-written plain node:http MCP server the developers' guide compares against: parse the
// JSON-RPC body, answer tools/list from a prebuilt string, call an async echo function for
// tools/call. 2025 era: initialize hands out a session (a Map entry), notifications get 202, GET
// opens an SSE stream, DELETE ends the session. 2026-07-28 era: a request whose params._meta
// names the protocol version is stateless; MCP-Protocol-Version and Mcp-Method must match the body.
const http = require('node:http')
const { randomUUID } = require('node:crypto')
const { tools, callResult, parseArgs, listening, shutdownOn } = require('./common.js')

const MODERN = '2026-07-28'
const LEGACY_VERSIONS = new Set(['2025-03-26', '2025-06-18', '2025-11-25'])
const opts = parseArgs()
const sse = !opts.json

const toolsListResult = JSON.stringify({ tools })
const modernToolsListResult = JSON.stringify({ tools, resultType: 'complete', ttlMs: 0, cacheScope: 'private' })
const discoverResult = JSON.stringify({
  supportedVersions: [MODERN],
  capabilities: { tools: { listChanged: true } },
  resultType: 'complete',
  ttlMs: 0,
  cacheScope: 'private',
  _meta: { 'io.modelcontextprotocol/serverInfo': { name: 'node-http-bench', version: '1.0.0' } },
})

/** The tool callback, async like the addon's callTool contract. */
async function callTool(name, args) {
  return callResult(name, args)
}

const sessions = new Map() // id -> { version, streams: Set<ServerResponse> }

function rpcResult(id, resultJson) {
  return `{"jsonrpc":"2.0","id":${JSON.stringify(id)},"result":${resultJson}}`
}
function rpcError(id, code, message) {
  return JSON.stringify({ jsonrpc: '2.0', id: id ?? null, error: { code, message } })
}
function send(res, status, body, asSse, headers = {}) {
  if (asSse) {
    res.writeHead(status, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', ...headers })
    res.end(`event: message\ndata: ${body}\n\n`)
  } else {
    res.writeHead(status, { 'content-type': 'application/json', ...headers })
    res.end(body)
  }
}

async function dispatch(msg, modern) {
  switch (msg.method) {
    case 'ping':
      return modern ? null : '{}'
    case 'tools/list':
      return modern ? modernToolsListResult : toolsListResult
    case 'tools/call': {
      const p = msg.params || {}
      return JSON.stringify(await callTool(p.name, p.arguments || {}))
    }
    case 'server/discover':
      return modern ? discoverResult : null
    default:
      return null
  }
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = []
    let size = 0
    req.on('data', (c) => {
      size += c.length
      if (size > 4 * 1024 * 1024) reject(new Error('body too large'))
      else chunks.push(c)
    })
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    req.on('error', reject)
  })
}

async function handlePost(req, res) {
  let msg
  try {
    msg = JSON.parse(await readBody(req))
  } catch {
    return send(res, 400, rpcError(null, -32700, 'Parse error'), false)
  }
  const meta = msg && msg.params && msg.params._meta
  const modernVersion = meta && meta['io.modelcontextprotocol/protocolVersion']
  if (modernVersion !== undefined) {
    if (modernVersion !== MODERN) return send(res, 400, rpcError(msg.id, -32022, 'Unsupported protocol version'), false)
    if (req.headers['mcp-protocol-version'] !== MODERN || req.headers['mcp-method'] !== msg.method) {
      return send(res, 400, rpcError(msg.id, -32020, 'Header mismatch'), false)
    }
    if (msg.id === undefined) return res.writeHead(202).end()
    const result = await dispatch(msg, true)
    if (result === null) return send(res, 200, rpcError(msg.id, -32601, 'Method not found'), false)
    return send(res, 200, rpcResult(msg.id, result), false)
  }
  const sid = req.headers['mcp-session-id']
  if (msg.method === 'initialize') {
    if (sid) return send(res, 400, rpcError(msg.id, -32600, 'initialize inside a session'), false)
    const asked = msg.params && msg.params.protocolVersion
    const version = LEGACY_VERSIONS.has(asked) ? asked : '2025-11-25'
    const id = randomUUID()
    sessions.set(id, { version, streams: new Set() })
    const result = JSON.stringify({
      protocolVersion: version,
      capabilities: { tools: { listChanged: true } },
      serverInfo: { name: 'node-http-bench', version: '1.0.0' },
    })
    return send(res, 200, rpcResult(msg.id, result), sse, { 'mcp-session-id': id })
  }
  if (!sid) return send(res, 400, rpcError(msg.id, -32000, 'Mcp-Session-Id required'), false)
  if (!sessions.has(sid)) return send(res, 404, rpcError(msg.id, -32001, 'Session not found'), false)
  if (msg.id === undefined) return res.writeHead(202).end()
  const result = await dispatch(msg, false)
  if (result === null) return send(res, 200, rpcError(msg.id, -32601, 'Method not found'), sse)
  return send(res, 200, rpcResult(msg.id, result), sse)
}

function handleGet(req, res) {
  const session = sessions.get(req.headers['mcp-session-id'])
  if (!session) return send(res, 404, rpcError(null, -32001, 'Session not found'), false)
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' })
  res.write(': open\n\n')
  session.streams.add(res)
  res.on('close', () => session.streams.delete(res))
}

function handleDelete(req, res) {
  const sid = req.headers['mcp-session-id']
  const session = sessions.get(sid)
  if (!session) return send(res, 404, rpcError(null, -32001, 'Session not found'), false)
  sessions.delete(sid)
  for (const s of session.streams) s.end()
  res.writeHead(200).end()
}

const httpServer = http.createServer((req, res) => {
  const q = req.url.indexOf('?')
  const path = q === -1 ? req.url : req.url.slice(0, q)
  if (path !== '/mcp') return res.writeHead(404).end()
  if (req.method === 'POST') {
    handlePost(req, res).catch(() => {
      if (!res.headersSent) send(res, 500, rpcError(null, -32603, 'Internal error'), false)
      else res.end()
    })
  } else if (req.method === 'GET') handleGet(req, res)
  else if (req.method === 'DELETE') handleDelete(req, res)
  else res.writeHead(405, { allow: 'GET, POST, DELETE' }).end()
})
httpServer.keepAliveTimeout = 60_000
httpServer.listen(opts.port, opts.host, () => listening(httpServer))
shutdownOn(() => new Promise((r) => { for (const s of sessions.values()) for (const r2 of s.streams) r2.end(); httpServer.close(r) }))
