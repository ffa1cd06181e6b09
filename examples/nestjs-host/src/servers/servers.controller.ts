import { Body, Controller, Delete, Get, HttpCode, HttpException, HttpStatus, NotFoundException, Param, Post } from '@nestjs/common'
import { ProcessManagerService } from './process-manager.service'

/** Child-process MCP servers: lifecycle and connection stats (route names and shapes from the seed host). */
@Controller('servers')
export class ServersController {
  constructor(private readonly processManager: ProcessManagerService) {}

  @Get()
  list() {
    return { success: true, data: this.processManager.getAllProcessInfo() }
  }

  /** Start a child MCP server process; body `{ id?: string }`. */
  @Post()
  @HttpCode(201)
  async start(@Body() body: { id?: string } = {}) {
    try {
      const info = await this.processManager.startServer({ id: body?.id })
      return { success: true, message: 'MCP server process started', data: info }
    } catch (e) {
      const msg = (e as Error).message
      throw new HttpException(msg, /already exists/.test(msg) ? HttpStatus.CONFLICT : /invalid server id/.test(msg) ? HttpStatus.BAD_REQUEST : HttpStatus.INTERNAL_SERVER_ERROR)
    }
  }

  @Get('mcp/connections/overview')
  getMCPConnectionsOverview() {
    const processes = this.processManager.getAllProcessInfo()
    const servers = [...this.processManager.getAllMCPConnectionStats().entries()].map(([serverId, stats]) => ({
      serverId,
      processStatus: processes.find((p) => p.id === serverId)?.status ?? 'unknown',
      url: processes.find((p) => p.id === serverId)?.url,
      connectionStats: stats,
      lastUpdated: stats.lastUpdated,
    }))
    return {
      success: true,
      message: 'MCP connections overview retrieved successfully',
      data: {
        servers,
        summary: {
          totalServers: servers.length,
          activeServers: servers.filter((s) => s.processStatus === 'running').length,
          totalConnections: servers.reduce((n, s) => n + s.connectionStats.totalConnections, 0),
          activeConnections: servers.reduce((n, s) => n + s.connectionStats.activeConnections, 0),
        },
        timestamp: new Date(),
      },
    }
  }

  @Get(':id')
  get(@Param('id') id: string) {
    return { success: true, data: this.require(id) }
  }

  @Get(':id/logs')
  logs(@Param('id') id: string) {
    this.require(id)
    return { success: true, data: this.processManager.getLogs(id) ?? [] }
  }

  @Delete(':id')
  async stop(@Param('id') id: string) {
    this.require(id)
    await this.processManager.stopServer(id)
    return { success: true, message: `MCP server process ${id} stopped` }
  }

  @Get(':id/mcp/connections')
  getMCPConnections(@Param('id') id: string) {
    const info = this.require(id)
    return {
      success: true,
      message: 'MCP connection stats retrieved successfully',
      data: { serverId: id, processStatus: info.status, connectionStats: this.processManager.getMCPConnectionStats(id), timestamp: new Date() },
    }
  }

  @Get(':id/mcp/connections/count')
  getMCPConnectionCount(@Param('id') id: string) {
    this.require(id)
    const stats = this.processManager.getMCPConnectionStats(id)!
    return {
      success: true,
      message: 'MCP connection count retrieved successfully',
      data: {
        serverId: id,
        totalConnections: stats.totalConnections,
        activeConnections: stats.activeConnections,
        lastUpdated: stats.lastUpdated,
        timestamp: new Date(),
      },
    }
  }

  private require(id: string) {
    const info = this.processManager.getProcessInfo(id)
    if (!info) throw new NotFoundException(`Server ${id} not found`)
    return info
  }
}
