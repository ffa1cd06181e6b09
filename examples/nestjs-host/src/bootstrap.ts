import 'reflect-metadata'
import { RequestMethod, type INestApplication, type LogLevel } from '@nestjs/common'
import { NestFactory } from '@nestjs/core'
import { AppModule } from './app.module'
import { HostConfig } from './host-config'
import { MCPService } from './mcp/mcp.service'
import { PETSTORE_OPENAPI } from './petstore/petstore.openapi'

export interface HostOptions {
  /** HTTP port of the Nest app (REST, socket.io, dashboard); 0 picks a free one */
  port?: number
  /** port of the in-process MCP server; 0 picks a free one */
  mcpPort?: number
  /** loopback by default */
  host?: string
  /** start the in-process MCP server from the pet store's OpenAPI document (default true) */
  startMcp?: boolean
  logger?: LogLevel[] | false
}

export interface HostApp {
  app: INestApplication
  /** e.g. http://127.0.0.1:3000 */
  baseUrl: string
  /** the in-process MCP server's URL, if started */
  mcpUrl?: string
  close(): Promise<void>
}

/** Create, listen, and (by default) start the in-process MCP server over the app's own pet store API. */
export async function createHostApp(opts: HostOptions = {}): Promise<HostApp> {
  const host = opts.host ?? '127.0.0.1'
  const app = await NestFactory.create(AppModule, { logger: opts.logger ?? ['log', 'warn', 'error'] })
  app.setGlobalPrefix('api', { exclude: [{ path: 'dashboard', method: RequestMethod.GET }, { path: 'metrics', method: RequestMethod.GET }] })
  await app.listen(opts.port ?? 3000, host)
  const addr = app.getHttpServer().address() as { port: number }
  const baseUrl = `http://${host}:${addr.port}`
  app.get(HostConfig).baseUrl = baseUrl

  let mcpUrl: string | undefined
  if (opts.startMcp !== false) {
    const mcp = app.get(MCPService)
    mcp.createFromOpenAPI(PETSTORE_OPENAPI, baseUrl)
    mcpUrl = await mcp.start({ port: opts.mcpPort ?? 3322, host })
  }
  return { app, baseUrl, mcpUrl, close: () => app.close() }
}
