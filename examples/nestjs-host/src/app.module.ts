import { Logger, Module } from '@nestjs/common'
import { EventEmitterModule } from '@nestjs/event-emitter'
import type { CoreLogLevel } from 'mcp-swagger-native'
import { McpNativeModule } from 'mcp-swagger-native/nestjs'
import { DashboardController } from './dashboard/dashboard.controller'
import { HostConfig, HostConfigModule } from './host-config'
import { mcpAuthOption } from './mcp/mcp-auth.config'
import { MCPModule } from './mcp/mcp.module'
import { MonitoringModule } from './monitoring/monitoring.module'
import { PetstoreModule } from './petstore/petstore.module'
import { ServersModule } from './servers/servers.module'

/** The native core's log records through Nest's Logger: level mapped to its method, the Rust module as the context. */
function coreLogger() {
  const log = new Logger('mcp-swagger-native')
  return (level: CoreLogLevel, message: string, fields: Record<string, string | number | boolean>) => {
    const { target, ...rest } = fields
    const text = Object.keys(rest).length ? `${message} ${JSON.stringify(rest)}` : message
    const context = typeof target === 'string' ? target : 'mcp-swagger-native'
    if (level === 'error') log.error(text, undefined, context)
    else if (level === 'warn') log.warn(text, context)
    else if (level === 'info') log.log(text, context)
    else if (level === 'debug') log.debug(text, context)
    else log.verbose(text, context)
  }
}

const connections = new Logger('MCPConnections')

@Module({
  imports: [
    EventEmitterModule.forRoot(),
    HostConfigModule,
    // The in-process MCP server: a route of this app (under its global prefix), with the
    // decorated tools of every provider; MCPService adds the tools made from the OpenAPI document.
    McpNativeModule.forRootAsync({
      path: HostConfig.mcpPath,
      mount: 'app',
      useFactory: () => ({
        serverInfo: { name: 'mcp-swagger-nestjs-host', version: '0.1.0', title: 'Pet Store' },
        instructions: 'Tools for the Pet Store API: list, create, find and delete pets, and count them by tag.',
        metrics: true,
        logLevel: 'info' as const,
        logger: coreLogger(),
        // OAuth 2.1 resource server when MCP_AUTH_ISSUER is set (README › Authorization).
        ...mcpAuthOption(),
        monitor: {
          onConnectionEstablished: (c) => connections.log(`MCP client connected: ${c.sessionId} from ${c.clientIP} (${c.userAgent})`),
          onConnectionClosed: (sessionId, duration) => connections.log(`MCP client disconnected: ${sessionId} after ${Math.round(duration / 1000)}s`),
          onConnectionRejected: (info) => connections.warn(`MCP connection rejected from ${info.clientIP}: ${info.reason}`),
        },
      }),
    }),
    PetstoreModule,
    MCPModule,
    ServersModule,
    MonitoringModule,
  ],
  controllers: [DashboardController],
})
export class AppModule {}
