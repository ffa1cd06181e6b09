import { Controller, Get, Header, ServiceUnavailableException } from '@nestjs/common'
import { MCPService } from './mcp.service'

/** GET /metrics: the in-process MCP server's Prometheus metrics, for the app's scraper. */
@Controller('metrics')
export class MetricsController {
  constructor(private readonly mcpService: MCPService) {}

  @Get()
  @Header('Content-Type', 'application/openmetrics-text; version=1.0.0; charset=utf-8')
  async metrics(): Promise<string> {
    const text = await this.mcpService.metrics()
    if (text === null) throw new ServiceUnavailableException('the MCP server is not running')
    return text
  }
}
