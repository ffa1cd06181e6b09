import { Logger } from '@nestjs/common'
import { createHostApp } from './bootstrap'

async function main() {
  const port = Number(process.env.PORT ?? 3000)
  // OPENAPI: another document (file path or URL) to serve as tools, API_BASE_URL: where its calls go
  const { app, baseUrl, mcpUrl } = await createHostApp({ port, openapi: process.env.OPENAPI, apiBaseUrl: process.env.API_BASE_URL })
  app.enableShutdownHooks() // SIGTERM/SIGINT: stop child servers and close the MCP sessions cleanly
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
