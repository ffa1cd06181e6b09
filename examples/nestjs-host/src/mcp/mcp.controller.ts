import { BadRequestException, Body, Controller, Get, HttpCode, NotFoundException, Param, Post } from '@nestjs/common'
import { MCPService } from './mcp.service'

/** REST view of the in-process MCP server (names and shapes from the seed host). */
@Controller('mcp')
export class MCPController {
  constructor(private readonly mcpService: MCPService) {}

  @Get('status')
  getServerStatus() {
    return this.mcpService.getServerStatus()
  }

  @Get('health')
  healthCheck() {
    return this.mcpService.healthCheck()
  }

  @Get('connections')
  getConnections() {
    return this.mcpService.getConnectionStats()
  }

  @Get('connections/count')
  getActiveConnectionCount() {
    return { activeConnections: this.mcpService.getActiveConnectionCount(), timestamp: new Date() }
  }

  @Get('connections/:sessionId')
  getConnectionInfo(@Param('sessionId') sessionId: string) {
    const info = this.mcpService.getConnectionInfo(sessionId)
    if (!info) throw new NotFoundException({ statusCode: 404, error: 'Connection not found', sessionId })
    return info
  }

  @Get('tools')
  getTools() {
    return this.mcpService.getTools()
  }

  /** Rebuild the tools from the OpenAPI document; body `{ only?: string[] }` keeps just those tools. Clients get tools/list_changed. */
  @Post('reload')
  @HttpCode(200)
  reload(@Body() body: { only?: unknown } = {}) {
    const only = body?.only
    if (only !== undefined && (!Array.isArray(only) || !only.every((n) => typeof n === 'string'))) {
      throw new BadRequestException('only must be an array of tool names')
    }
    const tools = this.mcpService.reloadTools({ only: only as string[] | undefined })
    return { success: true, toolsCount: tools.length, tools: tools.map((t) => t.name) }
  }
}
