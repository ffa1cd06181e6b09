/// <reference types="node" />
// Public typings of mcp-swagger-native (DESIGN §3). The raw native layer's typings are generated
// by napi-rs into native.d.ts; this file types the public API built over it.

export declare function supportedProtocolVersions(): string[]

export * from './lib/server'
export * from './lib/events'
export * from './lib/handler'
