'use strict'
// A fresh NestJS app on mcp-swagger-native/nestjs (installed from the packed package), called by
// the official MCP clients over real loopback HTTP.
require('reflect-metadata')
const { NestFactory } = require('@nestjs/core')
const { Client } = require('@modelcontextprotocol/sdk/client/index.js')
const { StreamableHTTPClientTransport } = require('@modelcontextprotocol/sdk/client/streamableHttp.js')
const v2 = require('@modelcontextprotocol/client')
const { McpNativeService } = require('mcp-swagger-native/nestjs')
const { AppModule } = require('../dist/app.module')
const { PetsRepository } = require('../dist/pets.repository')
const { EventsRecorder } = require('../dist/events.recorder')

async function legacyClient(url, headers = {}) {
  const client = new Client({ name: 'sdk1', version: '1.0.0' })
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }))
  return client
}

async function modernClient(url, headers = {}) {
  const client = new v2.Client({ name: 'client2', version: '2.0.0' }, { versionNegotiation: { mode: 'auto' } })
  await client.connect(new v2.StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }))
  return client
}

async function waitFor(pred, what) {
  for (let i = 0; i < 300; i++) {
    if (pred()) return
    await new Promise((r) => setTimeout(r, 10))
  }
  throw new Error(`timed out waiting for ${what}`)
}

// Both clients against one endpoint: listing, a valid call reaching the injected repository,
// invalid arguments stopped before the method.
async function exercise(url, repo, headers) {
  const before = repo.lookups.length
  for (const client of [await legacyClient(url, headers), await modernClient(url, headers)]) {
    try {
      const { tools } = await client.listTools()
      const get = tools.find((t) => t.name === 'get_pet')
      expect(get.inputSchema).toMatchObject({ type: 'object', properties: { id: { type: 'integer', minimum: 1 } }, required: ['id'] })
      expect(get.outputSchema).toMatchObject({ type: 'object', required: ['id', 'name', 'tag'] })
      expect(tools.map((t) => t.name).sort()).toEqual(['get_pet', 'list_pets'])
      const ok = await client.callTool({ name: 'get_pet', arguments: { id: 1 } })
      expect(ok.structuredContent).toEqual({ id: 1, name: 'Rex', tag: 'dog' })
      const bad = await client.callTool({ name: 'get_pet', arguments: { id: 'one' } })
      expect(bad.isError).toBe(true)
      expect(bad.content[0].text).toContain('/id')
      const extra = await client.callTool({ name: 'list_pets', arguments: { tag: 'fish' } })
      expect(extra.isError).toBe(true)
      const cats = await client.callTool({ name: 'list_pets', arguments: { tag: 'cat' } })
      expect(JSON.parse(cats.content[0].text)).toEqual([{ id: 2, name: 'Tom', tag: 'cat' }])
      const res = await client.readResource({ uri: 'pets://2' })
      expect(JSON.parse(res.contents[0].text)).toEqual({ id: 2, name: 'Tom', tag: 'cat' })
      const prompt = await client.getPrompt({ name: 'describe_pet', arguments: { name: 'Rex' } })
      expect(prompt.messages[0].content.text).toBe('Describe Rex in one sentence.')
    } finally {
      await client.close()
    }
  }
  // Two valid get_pet calls and one resource read reached the repository; invalid ones never did.
  expect(repo.lookups.slice(before)).toEqual([1, 2, 1, 2])
}

describe("mount: { port }", () => {
  test('the native listener serves decorated tools to SDK 1.x and client 2.x; events, health, app.close()', async () => {
    const app = await NestFactory.create(AppModule.register({ port: 0 }), { logger: false })
    await app.init()
    const mcp = app.get(McpNativeService)
    const repo = app.get(PetsRepository)
    const events = app.get(EventsRecorder)
    expect(mcp.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/mcp$/)
    try {
      await exercise(mcp.url, repo, {})
      await waitFor(() => events.established.length >= 2, 'established events')
      expect(events.established.map((e) => e.era).sort()).toEqual(['legacy', 'modern'])
      const server = await app.listen(0, '127.0.0.1')
      const health = await fetch(`http://127.0.0.1:${server.address().port}/health`).then((r) => r.json())
      expect(health.status).toBe('ok')
      expect(health.info.mcp).toMatchObject({ status: 'up', totalConnections: 2 })
    } finally {
      await app.close()
    }
    expect(mcp.state).toBe('closed')
    // close() reported every connection still open before it resolved.
    expect(events.closed.map((c) => c.sessionId).sort()).toEqual(events.established.map((c) => c.sessionId).sort())
    await expect(fetch(mcp.url, { method: 'POST' })).rejects.toThrow()
  })
})

describe("mount: 'app'", () => {
  test('the endpoint is a route of the app (forRootAsync): global prefix, a global guard (403 without its header), both clients', async () => {
    // No rawBody: Express' JSON parser reads the body first and the module hands the parsed value on.
    const app = await NestFactory.create(AppModule.register('app', { guard: true, async: true }), { logger: false })
    app.setGlobalPrefix('api')
    await app.listen(0, '127.0.0.1')
    const base = (await app.getUrl()).replace('[::1]', '127.0.0.1')
    const url = `${base}/api/mcp`
    const mcp = app.get(McpNativeService)
    const repo = app.get(PetsRepository)
    try {
      const init = { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } }
      const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }
      const refused = await fetch(url, { method: 'POST', headers, body: JSON.stringify(init) })
      expect(refused.status).toBe(403)
      expect(mcp.getConnectionStats().totalConnections).toBe(0)
      // Not under the prefix: not the endpoint.
      const outside = await fetch(`${base}/mcp`, { method: 'POST', headers: { ...headers, 'x-api-key': 'secret' }, body: JSON.stringify(init) })
      expect(outside.status).toBe(404)
      await exercise(url, repo, { 'x-api-key': 'secret' })
      expect(mcp.getConnectionStats().totalConnections).toBe(2)
      // forRootAsync: the factory's options, from an injected provider, reached the server.
      const probe = await legacyClient(url, { 'x-api-key': 'secret' })
      expect(probe.getServerVersion()).toEqual({ name: 'pets-async', version: '1.0.0' })
      await probe.close()
      const health = await fetch(`${base}/api/health`, { headers: { 'x-api-key': 'secret' } }).then((r) => r.json())
      expect(health.info.mcp).toMatchObject({ status: 'up', mount: 'app' })
    } finally {
      await app.close()
    }
    expect(mcp.state).toBe('closed')
  })
})
