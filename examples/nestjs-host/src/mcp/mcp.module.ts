import { Module } from '@nestjs/common'
import { MCPController } from './mcp.controller'
import { MCPService } from './mcp.service'
import { MetricsController } from './metrics.controller'

@Module({ controllers: [MCPController, MetricsController], providers: [MCPService], exports: [MCPService] })
export class MCPModule {}
