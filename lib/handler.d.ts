/// <reference types="node" />
// Handler mode: the server without a listener, serving a host's Node req/res pairs
// (docs/handler-mode.md).
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { ConnectionMonitor, StreamableMcpServer, StreamableServerOptions } from './server'

export interface HandleOptions {
  /**
   * The request body when a framework already read it (Express' JSON parser, `rawBody`):
   * bytes or text as received, or the parsed value (sent on as its JSON).
   */
  body?: Buffer | Uint8Array | string | object
  /** The principal the host authenticated (reserved: passed to callbacks once `ctx.auth` exists). */
  auth?: { subject?: string; scopes?: string[]; [claim: string]: unknown }
}

/** The same object API as StreamableMcpServer, plus `handle`; `url` is the endpoint path and `port` 0 (no listener). */
export declare class StreamableMcpHandler extends StreamableMcpServer {
  /** The endpoint path the server answers as (`endpoint` option, default '/mcp'). */
  readonly endpoint: string
  /**
   * Serves one request: POST (JSON or an SSE stream written to `res`), GET (the 2025 session
   * stream), DELETE. Resolves when the response is complete or the client went away (which
   * cancels like a dropped connection). Never rejects for a bad request: the client gets it.
   */
  handle(req: IncomingMessage, res: ServerResponse, options?: HandleOptions): Promise<void>
}

/** Options as for startStreamableMcpServer; `port` and `host` do not apply (no listener). */
export declare function createStreamableMcpHandler(
  opts: Omit<StreamableServerOptions, 'port'>,
  monitor?: ConnectionMonitor,
): Promise<StreamableMcpHandler>
