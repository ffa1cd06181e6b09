// ESM entry (the `import` condition of the exports map): the CommonJS module's own objects,
// re-exported by name, so ESM and CommonJS users share one instance of every class.
import cjs from './index.js'

export const {
  supportedProtocolVersions,
  startStreamableMcpServer,
  StreamableMcpServer,
  ConnectionEventHub,
  ConnectionEventParseError,
  parseConnectionEventLine,
  formatConnectionEvent,
  createStreamableMcpHandler,
  StreamableMcpHandler,
} = cjs
export default cjs
