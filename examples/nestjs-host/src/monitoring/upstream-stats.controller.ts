import { Controller, Get, NotFoundException, Param } from '@nestjs/common'
import { MonitoringGateway } from './monitoring.gateway'

/**
 * Upstream mcp-swagger-api's connection-stats routes (its servers.controller.ts, `v1/servers`
 * under the `api` prefix), so its clients work against this host. The in-process server is
 * `default`; child-process servers go by their ids.
 */
@Controller('v1/servers')
export class UpstreamStatsController {
  constructor(private readonly gateway: MonitoringGateway) {}

  @Get('mcp/connections/stats')
  all() {
    return { success: true, data: this.gateway.upstreamAllStats() }
  }

  @Get(':id/mcp/connections/stats')
  one(@Param('id') id: string) {
    const stats = this.gateway.upstreamStats(id)
    if (!stats) throw new NotFoundException(`Server ${id} not found`)
    return { success: true, data: stats, serverId: id }
  }
}
