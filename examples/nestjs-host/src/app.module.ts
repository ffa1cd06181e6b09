import { Module } from '@nestjs/common'
import { EventEmitterModule } from '@nestjs/event-emitter'
import { DashboardController } from './dashboard/dashboard.controller'
import { HostConfigModule } from './host-config'
import { MCPModule } from './mcp/mcp.module'
import { MonitoringModule } from './monitoring/monitoring.module'
import { PetstoreModule } from './petstore/petstore.module'
import { ServersModule } from './servers/servers.module'

@Module({
  imports: [EventEmitterModule.forRoot(), HostConfigModule, PetstoreModule, MCPModule, ServersModule, MonitoringModule],
  controllers: [DashboardController],
})
export class AppModule {}
