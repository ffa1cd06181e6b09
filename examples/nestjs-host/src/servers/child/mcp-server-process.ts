/**
 * A child MCP server process (child-process mode). Started by ProcessManagerService with
 *   MCP_SERVER_ID, MCP_OPENAPI_URL, MCP_API_BASE_URL, [MCP_PORT=0], [MCP_STATS_INTERVAL_MS]
 * it loads the OpenAPI (3 or Swagger 2.0) document, serves its operations as tools through the native addon with
 * `stdoutEvents: true` (one `[MCP_CONNECTION] {json}` line per connection event on stdout), and
 * prints one `[MCP_READY] {"url":...}` line once it listens. It closes cleanly (every session
 * reported as disconnected) on SIGTERM/SIGINT or when its stdin ends (the parent went away).
 */
import { startStreamableMcpServer, type StreamableMcpServer } from 'mcp-swagger-native'
import { executeOperation, openApiSourceToTools } from '../../openapi/openapi-to-tools'
import { READY_PREFIX, type ReadyLine } from './protocol'

function env(name: string, fallback?: string): string {
  const v = process.env[name] ?? fallback
  if (v === undefined || v === '') {
    console.error(`missing environment variable ${name}`)
    process.exit(2)
  }
  return v
}

async function main(): Promise<void> {
  const serverId = env('MCP_SERVER_ID')
  const openapiUrl = env('MCP_OPENAPI_URL')
  const apiBaseUrl = env('MCP_API_BASE_URL')
  const port = Number(env('MCP_PORT', '0'))
  const statsIntervalMs = process.env.MCP_STATS_INTERVAL_MS ? Number(process.env.MCP_STATS_INTERVAL_MS) : undefined

  // swagger-parser fetches the document and any remote $refs it has; the document is the parent
  // app's own, on loopback
  const { tools, operations } = await openApiSourceToTools(openapiUrl, { allowPrivateUrls: true })
  console.log(`loaded ${tools.length} tools from ${openapiUrl}`)

  const server: StreamableMcpServer = await startStreamableMcpServer({
    port,
    host: '127.0.0.1',
    serverId,
    stdoutEvents: true,
    statsIntervalMs,
    serverInfo: { name: `mcp-swagger-child-${serverId}`, version: '0.1.0' },
    tools,
    callTool: async (call, ctx) => {
      const plan = operations[call.name]
      if (!plan) return { isError: true, content: [{ type: 'text', text: `Unknown tool: ${call.name}` }] }
      return executeOperation(plan, call.arguments as Record<string, unknown>, apiBaseUrl, { signal: ctx.signal })
    },
  })
  const ready: ReadyLine = { serverId, url: server.url, port: server.port, tools: tools.length }
  process.stdout.write(`${READY_PREFIX}${JSON.stringify(ready)}\n`)

  let closing = false
  const shutdown = async (why: string) => {
    if (closing) return
    closing = true
    console.log(`shutting down (${why})`)
    try {
      await server.close()
    } finally {
      // let the last event lines reach the pipe before exiting
      process.stdout.write('', () => process.exit(0))
    }
  }
  process.on('SIGTERM', () => void shutdown('SIGTERM'))
  process.on('SIGINT', () => void shutdown('SIGINT'))
  process.stdin.on('end', () => void shutdown('stdin closed'))
  process.stdin.on('error', () => void shutdown('stdin error'))
  process.stdin.resume()
}

main().catch((e) => {
  console.error(`mcp server process failed: ${(e as Error).stack ?? e}`)
  process.exit(1)
})
