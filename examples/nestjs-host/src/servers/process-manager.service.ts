import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common'
import { EventEmitter2 } from '@nestjs/event-emitter'
import { spawn, type ChildProcess } from 'child_process'
import { existsSync } from 'fs'
import * as path from 'path'
import { randomUUID } from 'crypto'
import { ConnectionEventHub, type ConnectionEvent, type OutputLine, type ServerConnectionStats } from 'mcp-swagger-native'
import { HostConfig } from '../host-config'
import { MCP_EVENTS } from '../mcp/mcp.types'
import { READY_PREFIX, type ReadyLine } from './child/protocol'

export type ProcessStatus = 'starting' | 'running' | 'stopping' | 'stopped' | 'error'

export interface ProcessInfo {
  id: string
  pid: number
  status: ProcessStatus
  url?: string
  port?: number
  toolsCount?: number
  startedAt: Date
  exitCode?: number | null
}

interface ManagedProcess extends ProcessInfo {
  child: ChildProcess
  logs: string[]
  exited: Promise<void>
}

/** Stats of one child as this app reports them: the hub's aggregate, or zeros before the first event. */
export interface MCPConnectionStatsView extends ServerConnectionStats {
  lastUpdated: Date | null
}

export interface MCPConnectionChangedPayload {
  serverId: string
  eventType: string
  clientInfo?: Record<string, unknown>
  connectionStats: Record<string, unknown>
  reason?: string
  durationMs?: number
  timestamp: string
  /** the whole [MCP_CONNECTION] event, as the child wrote it (upstream's `connectionEvent`) */
  event: ConnectionEvent
}

const MAX_LOG_LINES = 200
const READY_TIMEOUT_MS = 15_000
const STOP_TIMEOUT_MS = 5_000

/**
 * Child-process mode: starts MCP server processes (dist/servers/child/mcp-server-process.js, on the
 * addon with `stdoutEvents`), feeds their stdout into one ConnectionEventHub, turns the parsed
 * events into `mcp.child.connection.changed` on the event bus, stops them cleanly, and forgets a
 * server's stats once its process has exited.
 */
@Injectable()
export class ProcessManagerService implements OnApplicationShutdown {
  private readonly logger = new Logger(ProcessManagerService.name)
  private readonly processes = new Map<string, ManagedProcess>()
  readonly hub: ConnectionEventHub

  constructor(
    private readonly eventEmitter: EventEmitter2,
    private readonly hostConfig: HostConfig,
  ) {
    this.hub = new ConnectionEventHub({
      errorThreshold: 10,
      onParseErrorThreshold: (serverId, count) => {
        this.logger.warn(`${count} malformed [MCP_CONNECTION] lines from ${serverId}`)
        this.eventEmitter.emit(MCP_EVENTS.parseErrorThreshold, { serverId, errorCount: count, timestamp: new Date() })
      },
    })
  }

  /** The compiled child script; under ts-jest (running from src/) the built copy in dist/ is used. */
  static childScriptPath(): string {
    const here = path.join(__dirname, 'child', 'mcp-server-process.js')
    if (existsSync(here)) return here
    const root = path.resolve(__dirname, '..', '..')
    const built = path.join(root, 'dist', 'servers', 'child', 'mcp-server-process.js')
    if (existsSync(built)) return built
    throw new Error(`child MCP server script not found at ${built}: run "npm run build" in examples/nestjs-host`)
  }

  /** Start one MCP server process; resolves once it listens (its `[MCP_READY]` line). */
  async startServer(opts: { id?: string; port?: number; statsIntervalMs?: number; script?: string } = {}): Promise<ProcessInfo> {
    const id = opts.id ?? `server-${randomUUID().slice(0, 8)}`
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(id)) throw new Error(`invalid server id "${id}"`)
    if (this.processes.has(id)) throw new Error(`server ${id} already exists`)
    if (!this.hostConfig.baseUrl) throw new Error('host base URL unknown: the app must listen before starting servers')

    // `script`: another MCP server script speaking the same stdout protocol (ready line + events)
    const child = spawn(process.execPath, [opts.script ?? ProcessManagerService.childScriptPath()], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: {
        ...process.env,
        MCP_SERVER_ID: id,
        MCP_OPENAPI_URL: this.hostConfig.openapiUrl,
        MCP_API_BASE_URL: this.hostConfig.baseUrl,
        MCP_PORT: String(opts.port ?? 0),
        ...(opts.statsIntervalMs ? { MCP_STATS_INTERVAL_MS: String(opts.statsIntervalMs) } : {}),
      },
    })
    let onReady!: (r: ReadyLine) => void
    let onFail!: (e: Error) => void
    const ready = new Promise<ReadyLine>((res, rej) => {
      onReady = res
      onFail = rej
    })
    const proc: ManagedProcess = {
      id,
      pid: child.pid ?? 0,
      status: 'starting',
      startedAt: new Date(),
      child,
      logs: [],
      exited: new Promise<void>((resolve) => {
        // 'close' fires after the process exited AND its stdio ended, so every event line is in.
        child.on('close', (code, signal) => {
          this.handleLines(proc, this.hub.end(id), onReady)
          proc.exitCode = code
          proc.status = code === 0 || signal === 'SIGTERM' ? 'stopped' : 'error'
          this.logger.log(`server ${id} (pid ${proc.pid}) exited with ${signal ?? code}`)
          onFail(new Error(`server ${id} exited (${signal ?? code}) before it was ready: ${proc.logs.slice(-5).join(' | ')}`))
          this.forget(id)
          resolve()
        })
      }),
    }
    this.processes.set(id, proc)
    child.on('error', (e) => {
      this.logger.error(`server ${id}: ${e.message}`)
      onFail(e)
    })
    child.stdin?.on('error', () => {}) // EPIPE when the child is already gone
    child.stdout!.on('data', (chunk: Buffer) => this.handleLines(proc, this.hub.push(id, chunk), onReady))
    child.stderr!.setEncoding('utf8')
    child.stderr!.on('data', (text: string) => {
      for (const line of text.split('\n').filter(Boolean)) this.addLog(proc, `[stderr] ${line}`)
    })

    const timer = setTimeout(() => onFail(new Error(`server ${id} not ready within ${READY_TIMEOUT_MS} ms`)), READY_TIMEOUT_MS)
    try {
      const r = await ready
      proc.status = 'running'
      proc.url = r.url
      proc.port = r.port
      proc.toolsCount = r.tools
    } catch (e) {
      await this.stopServer(id).catch(() => undefined)
      throw e
    } finally {
      clearTimeout(timer)
    }
    this.logger.log(`server ${id} (pid ${proc.pid}) ready at ${proc.url}`)
    this.eventEmitter.emit(MCP_EVENTS.serversChanged, { serverId: id, status: proc.status, url: proc.url })
    return this.view(proc)
  }

  /** SIGTERM, then wait for the process to exit (the child closes its sessions first); SIGKILL after a grace period. */
  async stopServer(id: string): Promise<boolean> {
    const proc = this.processes.get(id)
    if (!proc) return false
    if (proc.child.exitCode === null && proc.child.signalCode === null) {
      proc.status = 'stopping'
      proc.child.kill('SIGTERM')
      const killTimer = setTimeout(() => proc.child.kill('SIGKILL'), STOP_TIMEOUT_MS)
      await proc.exited
      clearTimeout(killTimer)
    } else {
      await proc.exited
    }
    return true
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.processes.keys()].map((id) => this.stopServer(id)))
  }

  async onApplicationShutdown(): Promise<void> {
    await this.stopAll()
  }

  getProcessInfo(id: string): ProcessInfo | null {
    const p = this.processes.get(id)
    return p ? this.view(p) : null
  }

  getAllProcessInfo(): ProcessInfo[] {
    return [...this.processes.values()].map((p) => this.view(p))
  }

  getLogs(id: string): string[] | null {
    return this.processes.get(id)?.logs.slice() ?? null
  }

  /** The hub's stats for a known server (zeros until its first event), or null for an unknown one. */
  getMCPConnectionStats(id: string): MCPConnectionStatsView | null {
    if (!this.processes.has(id)) return null
    const s = this.hub.getStats(id)
    if (!s) {
      return { serverId: id, activeConnections: 0, totalConnections: 0, connections: [], eventCount: 0, parseErrorCount: this.hub.parseErrors(id), lastUpdated: null }
    }
    return { ...s, lastUpdated: s.lastEventAt ?? null }
  }

  getAllMCPConnectionStats(): Map<string, MCPConnectionStatsView> {
    const all = new Map<string, MCPConnectionStatsView>()
    for (const id of this.processes.keys()) all.set(id, this.getMCPConnectionStats(id)!)
    return all
  }

  private view(p: ManagedProcess): ProcessInfo {
    const { id, pid, status, url, port, toolsCount, startedAt, exitCode } = p
    return { id, pid, status, url, port, toolsCount, startedAt, exitCode }
  }

  private addLog(proc: ManagedProcess, line: string): void {
    proc.logs.push(line)
    if (proc.logs.length > MAX_LOG_LINES) proc.logs.splice(0, proc.logs.length - MAX_LOG_LINES)
    this.logger.debug(`[${proc.id}] ${line}`)
  }

  private handleLines(proc: ManagedProcess, lines: OutputLine[], onReady: (r: ReadyLine) => void): void {
    for (const l of lines) {
      if (l.type === 'event') {
        const e = l.event
        const payload: MCPConnectionChangedPayload = {
          serverId: l.serverId,
          eventType: e.eventType,
          clientInfo: 'clientInfo' in e ? { ...e.clientInfo } : undefined,
          connectionStats: { ...e.connectionStats },
          reason: 'reason' in e ? e.reason : undefined,
          durationMs: e.eventType === 'disconnected' ? e.durationMs : undefined,
          timestamp: e.timestamp,
          event: e,
        }
        this.eventEmitter.emit(MCP_EVENTS.childConnectionChanged, payload)
      } else if (l.type === 'parse_error') {
        this.addLog(proc, `[parse error] ${l.error}: ${l.line}`)
      } else {
        if (l.line.startsWith(READY_PREFIX)) {
          try {
            onReady(JSON.parse(l.line.slice(READY_PREFIX.length)) as ReadyLine)
          } catch {
            /* a malformed ready line: the start times out */
          }
        }
        this.addLog(proc, l.line)
      }
    }
  }

  /** The process is gone: drop its entry and its stats from the hub. */
  private forget(id: string): void {
    this.processes.delete(id)
    this.hub.remove(id)
    this.eventEmitter.emit(MCP_EVENTS.serversChanged, { serverId: id, status: 'stopped' })
  }
}
