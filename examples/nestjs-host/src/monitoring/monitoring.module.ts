import { Module } from '@nestjs/common'
import { MCPModule } from '../mcp/mcp.module'
import { ServersModule } from '../servers/servers.module'
import { MonitoringGateway } from './monitoring.gateway'
import { UpstreamStatsController } from './upstream-stats.controller'

@Module({ imports: [MCPModule, ServersModule], controllers: [UpstreamStatsController], providers: [MonitoringGateway], exports: [MonitoringGateway] })
export class MonitoringModule {}
