/** The line a child MCP server process prints on stdout once it listens: the prefix, then JSON. */
export const READY_PREFIX = '[MCP_READY] '

export interface ReadyLine {
  serverId: string
  url: string
  port: number
  tools: number
}
