'use strict'
// The TypeScript SDK v2 server (@modelcontextprotocol/server, pinned in bench/package.json):
// createMcpHandler with an McpServer factory (a fresh instance per request, the SDK's design for
// the stateless 2026-07-28 era) on plain node:http through toNodeHandler from
// @modelcontextprotocol/node. Used for the modern-era rows.
const http = require('node:http')
const { McpServer, createMcpHandler } = require('@modelcontextprotocol/server')
const { toNodeHandler } = require('@modelcontextprotocol/node')
const z = require('zod')
const { tools, callResult, parseArgs, zodShape, listening, shutdownOn } = require('./common.js')

const opts = parseArgs()

function factory() {
  const server = new McpServer({ name: 'sdk-v2-bench', version: '2.0.0' })
  for (const t of tools) {
    server.registerTool(t.name, { description: t.description, inputSchema: z.object(zodShape(z, t.inputSchema)) }, async (args) =>
      callResult(t.name, args),
    )
  }
  return server
}

const handler = createMcpHandler(factory, { responseMode: 'auto' })
const node = toNodeHandler(handler)
const httpServer = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://localhost')
  if (url.pathname !== '/mcp') {
    res.writeHead(404).end()
    return
  }
  Promise.resolve(node(req, res)).catch(() => {
    if (!res.headersSent) res.writeHead(500).end()
    else res.end()
  })
})
httpServer.keepAliveTimeout = 60_000
httpServer.listen(opts.port, opts.host, () => listening(httpServer))
shutdownOn(async () => {
  await handler.close()
  await new Promise((r) => httpServer.close(r))
})
