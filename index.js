'use strict'
// Public entry: thin JS over the generated napi loader (native.js).
const native = require('./native.js')

module.exports = {
  supportedProtocolVersions: native.supportedProtocolVersions,
}
