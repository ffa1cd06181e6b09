// The ESM entry's typings (exports map `import` → index.d.mts) under --module nodenext: named and
// default imports of every export.
import pkg, {
  supportedProtocolVersions,
  startStreamableMcpServer,
  StreamableMcpServer,
  ConnectionEventHub,
  ConnectionEventParseError,
  parseConnectionEventLine,
  formatConnectionEvent,
  type ToolDefinition,
} from 'mcp-swagger-native'

// valid: ESM named imports are the typed API
const tool: ToolDefinition = { name: 't', inputSchema: { type: 'object' } }
const versions: string[] = supportedProtocolVersions()
// valid: the default import is the whole API
const same: typeof startStreamableMcpServer = pkg.startStreamableMcpServer
console.log(tool, versions, same, StreamableMcpServer, ConnectionEventHub, ConnectionEventParseError, parseConnectionEventLine, formatConnectionEvent)
