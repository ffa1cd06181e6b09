import { Logger } from '@nestjs/common'
import { createHostApp } from './bootstrap'

async function main() {
  const port = Number(process.env.PORT ?? 3000)
  const mcpPort = Number(process.env.MCP_PORT ?? 3322)
  const { app, baseUrl, mcpUrl } = await createHostApp({ port, mcpPort })
  app.enableShutdownHooks() // SIGTERM/SIGINT: stop child servers and the MCP server cleanly
  const log = new Logger('main')
  log.log(`pet store API     ${baseUrl}/api/pets  (OpenAPI: ${baseUrl}/api/openapi.json)`)
  log.log(`MCP (in-process)  ${mcpUrl}`)
  log.log(`REST monitoring   ${baseUrl}/api/mcp/status, ${baseUrl}/api/servers`)
  log.log(`dashboard         ${baseUrl}/dashboard`)
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
