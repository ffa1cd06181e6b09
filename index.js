'use strict'
// Public entry: thin JS over the generated napi loader (native.js). The JS layer only does what
// must happen on the JS thread (AbortSignal, Date objects, promise plumbing); the work is native.
//
// Every export is named in the object literal below (shorthand, no spread): Node's
// cjs-module-lexer reads that form, so `import { x } from 'mcp-swagger-native'` works even where
// the `exports` map's `import` condition (index.mjs) is bypassed. A new export goes here, in
// index.mjs and in the typings; __test__/package.test.js checks all three agree (docs/packaging.md).
const { supportedProtocolVersions } = require('./native.js')
const { startStreamableMcpServer, StreamableMcpServer } = require('./lib/server.js')
const {
  ConnectionEventHub,
  ConnectionEventParseError,
  parseConnectionEventLine,
  formatConnectionEvent,
} = require('./lib/events.js')
const { createStreamableMcpHandler, StreamableMcpHandler } = require('./lib/handler.js')

module.exports = {
  supportedProtocolVersions,
  startStreamableMcpServer,
  StreamableMcpServer,
  ConnectionEventHub,
  ConnectionEventParseError,
  parseConnectionEventLine,
  formatConnectionEvent,
  createStreamableMcpHandler,
  StreamableMcpHandler,
}
