import 'reflect-metadata'
import { RequestMethod, type INestApplication, type LogLevel } from '@nestjs/common'
import { NestFactory } from '@nestjs/core'
import { AppModule } from './app.module'
import { HostConfig } from './host-config'
import { MCPService } from './mcp/mcp.service'
import type { Credentials } from './openapi/openapi-to-tools'
import { PETSTORE_OPENAPI } from './petstore/petstore.openapi'

export interface HostOptions {
  /** HTTP port of the Nest app (REST, MCP, socket.io, dashboard); 0 picks a free one */
  port?: number
  /** loopback by default */
  host?: string
  /**
   * The OpenAPI 3 or Swagger 2.0 document whose operations become MCP tools: an object, a file
   * path or a URL (default: this app's pet store). `apiBaseUrl` is where its calls go (default
   * this app), with `credentials` for its security schemes, by scheme name.
   */
  openapi?: string | Record<string, any>
  apiBaseUrl?: string
  credentials?: Credentials
  logger?: LogLevel[] | false
}

export interface HostApp {
  app: INestApplication
  /** e.g. http://127.0.0.1:3000 */
  baseUrl: string
  /** the in-process MCP endpoint, a route of the app: e.g. http://127.0.0.1:3000/api/mcp */
  mcpUrl: string
  close(): Promise<void>
}

/** Create and listen; the MCP endpoint gets the tools of the OpenAPI document (the app's own pet store API by default). */
export async function createHostApp(opts: HostOptions = {}): Promise<HostApp> {
  const host = opts.host ?? '127.0.0.1'
  // rawBody: the MCP route hands the request's own bytes to the native core.
  const app = await NestFactory.create(AppModule, { logger: opts.logger ?? ['log', 'warn', 'error'], rawBody: true })
  app.setGlobalPrefix(HostConfig.prefix, { exclude: [{ path: 'dashboard', method: RequestMethod.GET }, { path: 'metrics', method: RequestMethod.GET }] })
  await app.listen(opts.port ?? 3000, host)
  const addr = app.getHttpServer().address() as { port: number }
  const baseUrl = `http://${host}:${addr.port}`
  const config = app.get(HostConfig)
  config.baseUrl = baseUrl
  try {
    await app.get(MCPService).loadOpenApi(opts.openapi ?? PETSTORE_OPENAPI, opts.apiBaseUrl ?? baseUrl, { credentials: opts.credentials })
  } catch (e) {
    await app.close()
    throw e
  }
  return { app, baseUrl, mcpUrl: config.mcpUrl, close: () => app.close() }
}
