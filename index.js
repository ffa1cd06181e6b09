'use strict'
// Public entry: thin JS over the generated napi loader (native.js). The JS layer only does what
// must happen on the JS thread (AbortSignal, Date objects, promise plumbing); the work is native.
const native = require('./native.js')

module.exports = {
  supportedProtocolVersions: native.supportedProtocolVersions,
  ...require('./lib/server.js'),
  ...require('./lib/events.js'),
  ...require('./lib/handler.js'),
}
