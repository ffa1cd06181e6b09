import { Global, Injectable, Module } from '@nestjs/common'

/** Where this app can be reached; set by bootstrap once it listens (the port may be picked by the OS). */
@Injectable()
export class HostConfig {
  /** e.g. http://127.0.0.1:3000 (no trailing slash) */
  baseUrl = ''
  /** the app's own OpenAPI document, which child MCP servers load */
  get openapiUrl(): string {
    return `${this.baseUrl}/api/openapi.json`
  }
}

@Global()
@Module({ providers: [HostConfig], exports: [HostConfig] })
export class HostConfigModule {}
