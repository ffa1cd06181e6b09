'use strict'
// The TypeScript SDK v1 server the host runs today (connection-monitoring guide, §2.2): node:http,
// a StreamableHTTPServerTransport and a fresh McpServer per session, a shared InMemoryEventStore,
// the body read and JSON.parse'd before handleRequest. Pinned in bench/package.json.
const http = require('node:http')
const { randomUUID } = require('node:crypto')
const { McpServer } = require('@modelcontextprotocol/sdk/server/mcp.js')
const { StreamableHTTPServerTransport } = require('@modelcontextprotocol/sdk/server/streamableHttp.js')
const { isInitializeRequest } = require('@modelcontextprotocol/sdk/types.js')
const { InMemoryEventStore } = require('@modelcontextprotocol/sdk/examples/shared/inMemoryEventStore.js')
const z = require('zod')
const { tools, callResult, parseArgs, zodShape, listening, shutdownOn } = require('./common.js')

const opts = parseArgs()
const eventStore = opts.eventStore ? new InMemoryEventStore() : undefined

function createServer() {
  const server = new McpServer({ name: 'sdk-v1-bench', version: '1.0.0' })
  for (const t of tools) {
    server.registerTool(t.name, { description: t.description, inputSchema: zodShape(z, t.inputSchema) }, async (args) =>
      callResult(t.name, args),
    )
  }
  return server
}

const transports = new Map()

function getBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = []
    req.on('data', (c) => chunks.push(c))
    req.on('end', () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')))
      } catch (e) {
        reject(e)
      }
    })
    req.on('error', reject)
  })
}

function jsonError(res, status, message) {
  res.writeHead(status, { 'content-type': 'application/json' })
  res.end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32000, message }, id: null }))
}

const httpServer = http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, 'http://localhost')
    if (url.pathname !== '/mcp') return jsonError(res, 404, 'Not found')
    const sessionId = req.headers['mcp-session-id']
    if (req.method === 'POST') {
      const body = await getBody(req)
      let transport = sessionId ? transports.get(sessionId) : undefined
      if (!transport && !sessionId && isInitializeRequest(body)) {
        const server = createServer()
        transport = new StreamableHTTPServerTransport({
          sessionIdGenerator: randomUUID,
          eventStore,
          enableJsonResponse: opts.json,
          onsessioninitialized: (sid) => transports.set(sid, transport),
        })
        transport.onclose = () => {
          if (transport.sessionId) transports.delete(transport.sessionId)
          server.close().catch(() => {})
        }
        await server.connect(transport)
        return await transport.handleRequest(req, res, body)
      }
      if (!transport) return jsonError(res, sessionId ? 404 : 400, 'Bad Request: No valid session ID provided')
      return await transport.handleRequest(req, res, body)
    }
    if (req.method === 'GET' || req.method === 'DELETE') {
      const transport = sessionId && transports.get(sessionId)
      if (!transport) return jsonError(res, sessionId ? 404 : 400, 'Invalid or missing session ID')
      return await transport.handleRequest(req, res)
    }
    res.writeHead(405, { allow: 'GET, POST, DELETE' }).end()
  } catch (e) {
    if (!res.headersSent) jsonError(res, 500, 'Internal Server Error')
    else res.end()
  }
})
httpServer.keepAliveTimeout = 60_000
httpServer.listen(opts.port, opts.host, () => listening(httpServer))
shutdownOn(() => new Promise((r) => httpServer.close(r)))
