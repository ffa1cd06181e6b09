import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { io, type Socket } from 'socket.io-client'
import { createHostApp, type HostApp, type HostOptions } from '../src/bootstrap'

/** The real app on 127.0.0.1 on a free port (REST, MCP, socket.io). */
export function startHost(opts: HostOptions = {}): Promise<HostApp> {
  return createHostApp({ port: 0, logger: ['error'], ...opts })
}

export interface McpConnection {
  client: Client
  transport: StreamableHTTPClientTransport
  sessionId: string
}

/** A real MCP SDK client over Streamable HTTP (2025 era: initialize + Mcp-Session-Id). */
export async function connectMcp(url: string, name = 'jest-client'): Promise<McpConnection> {
  const client = new Client({ name, version: '1.2.3' }, { capabilities: {} })
  const transport = new StreamableHTTPClientTransport(new URL(url))
  await client.connect(transport)
  if (!transport.sessionId) throw new Error('no Mcp-Session-Id after initialize')
  return { client, transport, sessionId: transport.sessionId }
}

/** Leave the way a well-behaved client does: DELETE the session, then close the transport. */
export async function disconnectMcp(c: McpConnection): Promise<void> {
  await c.transport.terminateSession()
  await c.client.close()
}

/** Poll until `fn` returns a truthy value (bounded). */
export async function waitFor<T>(fn: () => T | Promise<T>, what: string, timeoutMs = 5000, everyMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const v = await fn()
      if (v) return v
    } catch (e) {
      last = e
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`)
    await new Promise((r) => setTimeout(r, everyMs))
  }
}

/** A socket.io client on the /monitoring namespace that records every event it receives. */
export class MonitorClient {
  readonly socket: Socket
  readonly received: { event: string; data: any }[] = []

  private constructor(baseUrl: string) {
    this.socket = io(`${baseUrl}/monitoring`, { transports: ['websocket'], forceNew: true, reconnection: false })
    this.socket.onAny((event: string, data: any) => this.received.push({ event, data }))
  }

  static async connect(baseUrl: string): Promise<MonitorClient> {
    const m = new MonitorClient(baseUrl)
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('socket.io connect timeout')), 5000)
      m.socket.once('connect', () => (clearTimeout(t), resolve()))
      m.socket.once('connect_error', (e) => (clearTimeout(t), reject(e)))
    })
    return m
  }

  request<T = any>(event: string, data?: unknown): Promise<T> {
    return data === undefined ? this.socket.timeout(5000).emitWithAck(event) : this.socket.timeout(5000).emitWithAck(event, data)
  }

  /** Events named `event` received so far matching `pred`. */
  all(event: string, pred: (d: any) => boolean = () => true): any[] {
    return this.received.filter((r) => r.event === event && pred(r.data)).map((r) => r.data)
  }

  /** The first event named `event` matching `pred`, already received or arriving within the timeout. */
  waitForEvent(event: string, pred: (d: any) => boolean = () => true, timeoutMs = 5000): Promise<any> {
    return waitFor(() => this.all(event, pred)[0], `socket event ${event}`, timeoutMs)
  }

  clear(): void {
    this.received.length = 0
  }

  close(): void {
    this.socket.close()
  }
}

/** JSON of a tool result's first text block. */
export function resultJson(r: any): any {
  const text = r?.content?.[0]?.text
  if (typeof text !== 'string') throw new Error(`no text content in ${JSON.stringify(r)}`)
  return JSON.parse(text)
}
