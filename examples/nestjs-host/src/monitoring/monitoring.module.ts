import { Module } from '@nestjs/common'
import { MCPModule } from '../mcp/mcp.module'
import { ServersModule } from '../servers/servers.module'
import { MonitoringGateway } from './monitoring.gateway'

@Module({ imports: [MCPModule, ServersModule], providers: [MonitoringGateway], exports: [MonitoringGateway] })
export class MonitoringModule {}
