import { Global, Injectable, Module } from '@nestjs/common'

/** Where this app can be reached; set by bootstrap once it listens (the port may be picked by the OS). */
@Injectable()
export class HostConfig {
  /** e.g. http://127.0.0.1:3000 (no trailing slash) */
  baseUrl = ''
  /** the global prefix of the app's routes (the MCP endpoint's too) */
  static readonly prefix = 'api'
  /** McpNativeModule's path */
  static readonly mcpPath = 'mcp'
  /** the app's own OpenAPI document, which child MCP servers load */
  get openapiUrl(): string {
    return `${this.baseUrl}/${HostConfig.prefix}/openapi.json`
  }
  /** the in-process MCP endpoint: a route of this app */
  get mcpUrl(): string {
    return `${this.baseUrl}/${HostConfig.prefix}/${HostConfig.mcpPath}`
  }
}

@Global()
@Module({ providers: [HostConfig], exports: [HostConfig] })
export class HostConfigModule {}
