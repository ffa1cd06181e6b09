'use strict'
// Handler mode behind Fastify: a route hands Fastify's raw Node objects (request.raw, reply.raw)
// to handler.handle after reply.hijack(), so Fastify writes nothing itself. Real clients over
// loopback: SDK 1.x in a 2025 session (with SSE progress), client 2.x and a raw request in the
// 2026-07-28 era.
const Fastify = require('fastify')
const v2 = require('@modelcontextprotocol/client')
const { createStreamableMcpHandler } = require('..')
const { connectClient, sleep } = require('./helpers/mcp')
const { modernPost } = require('./helpers/eras')

const TOOLS = [
  { name: 'echo', description: 'echo', inputSchema: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] } },
  { name: 'progress', description: 'streams progress', inputSchema: { type: 'object' } },
]

let cleanups = []
afterEach(async () => {
  for (const c of cleanups.reverse()) await c()
  cleanups = []
})

// `bodyAs`: 'stream' leaves the body unread for the handler (Fastify's JSON parser replaced by
// one that does not read); 'buffer' lets Fastify read it and hands the bytes over.
async function serveFastify({ bodyAs = 'stream' } = {}) {
  const handler = await createStreamableMcpHandler({
    tools: TOOLS,
    async callTool({ name, arguments: args }, ctx) {
      if (name === 'echo') return { content: [{ type: 'text', text: args.text }] }
      for (let i = 1; i <= 3; i++) {
        ctx.sendProgress(i, 3)
        await sleep(5)
      }
      return { content: [{ type: 'text', text: 'done' }] }
    },
  })
  const app = Fastify({ logger: false, forceCloseConnections: true })
  app.removeContentTypeParser('application/json')
  if (bodyAs === 'buffer') {
    app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_req, body, done) => done(null, body))
  } else {
    app.addContentTypeParser('application/json', (_req, _payload, done) => done(null))
  }
  const hits = []
  app.all('/mcp', (request, reply) => {
    hits.push(request.method)
    reply.hijack()
    return handler.handle(request.raw, reply.raw, bodyAs === 'buffer' && request.body ? { body: request.body } : undefined)
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const url = `http://127.0.0.1:${app.server.address().port}/mcp`
  cleanups.push(async () => {
    await handler.close()
    await app.close()
  })
  return { handler, url, hits }
}

for (const bodyAs of ['stream', 'buffer']) {
  test(`SDK 1.x, 2025 session through Fastify (body ${bodyAs === 'stream' ? 'read by the handler' : 'read by Fastify'})`, async () => {
    const { handler, url, hits } = await serveFastify({ bodyAs })
    const { client, transport } = await connectClient(url)
    expect(typeof transport.sessionId).toBe('string')
    expect((await client.listTools()).tools.map((t) => t.name)).toEqual(['echo', 'progress'])
    expect((await client.callTool({ name: 'echo', arguments: { text: 'fastify' } })).content[0].text).toBe('fastify')
    const steps = []
    const r = await client.callTool({ name: 'progress', arguments: {} }, undefined, { onprogress: (p) => steps.push(p.progress) })
    expect(r.content[0].text).toBe('done')
    expect(steps).toEqual([1, 2, 3])
    // arguments that break the schema: refused before the callback, as an isError result
    const bad = await client.callTool({ name: 'echo', arguments: { text: 5 } })
    expect(bad.isError).toBe(true)
    const stats = handler.getConnectionStats()
    expect(stats.connections.map((c) => [c.era, c.sessionId])).toEqual([['legacy', transport.sessionId]])
    expect(stats.connections[0].clientIP).toMatch(/127\.0\.0\.1/)
    await transport.terminateSession()
    await client.close()
    expect(handler.getActiveConnections()).toBe(0)
    expect(hits).toContain('DELETE')
  })
}

test('2026-07-28 through Fastify: client 2.x and a raw stateless call', async () => {
  const { handler, url } = await serveFastify()
  const client = new v2.Client({ name: 'modern', version: '2.0.0' }, { versionNegotiation: { mode: 'auto' } })
  await client.connect(new v2.StreamableHTTPClientTransport(new URL(url)))
  expect((await client.callTool({ name: 'echo', arguments: { text: 'modern' } })).content[0].text).toBe('modern')
  await client.close()

  const r = await modernPost(url, 'tools/call', { name: 'echo', arguments: { text: 'raw' } })
  expect(r.status).toBe(200)
  expect(r.json.result.content[0].text).toBe('raw')
  expect(handler.getConnectionStats().totalConnections).toBeGreaterThanOrEqual(2)
})
