'use strict'
// Placeholder until the server lands: proves the addon loads.
const addon = require('..')
console.log('mcp-swagger-native protocol versions:', addon.supportedProtocolVersions().join(', '))
