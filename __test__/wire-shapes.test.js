'use strict'
// The 2025-11-25 fields the typings accept (lib/mcp.d.ts) reach real clients of both eras as
// given: serverInfo description/websiteUrl/icons, tool icons and annotations, resource
// annotations, resource_link description/size, and `_meta` on results and contents.
const v2 = require('@modelcontextprotocol/client')
const { startServer, connectClient } = require('./helpers/mcp')

const icons = [{ src: 'https://example.com/icon.png', mimeType: 'image/png', sizes: ['48x48'], theme: 'dark' }]
const serverInfo = { name: 'shapes', version: '2.0.0', title: 'Shapes', description: 'Wire shapes', websiteUrl: 'https://example.com', icons }
const tool = {
  name: 'link',
  title: 'Link',
  icons,
  inputSchema: { type: 'object', properties: { n: { type: 'integer' } } },
  outputSchema: { type: 'object', properties: { n: { type: 'integer' } } },
  annotations: { readOnlyHint: true, openWorldHint: false },
  _meta: { 'example.com/k': 1 },
}
const resource = { uri: 'file:///r.txt', name: 'r', size: 3, annotations: { audience: ['user'], priority: 0.5, lastModified: '2026-01-01T00:00:00Z' }, icons, _meta: { v: 1 } }
const result = {
  content: [
    { type: 'resource_link', uri: 'file:///r.txt', name: 'r', description: 'the r file', size: 3, annotations: { priority: 1 }, _meta: { m: 1 } },
    { type: 'text', text: 'x', annotations: { audience: ['assistant'] }, _meta: { t: true } },
  ],
  structuredContent: { n: 1 },
  _meta: { 'example.com/trace': 'abc' },
}

let server
beforeAll(async () => {
  server = await startServer({
    serverInfo,
    tools: [tool],
    resources: [resource],
    callTool: async () => result,
    readResource: async (uri) => ({ contents: [{ uri, text: 'abc', _meta: { etag: 'e1' } }], _meta: { r: 1 } }),
  })
})
afterAll(() => server.close())

function expectShapes(info, tools, resources, call, read) {
  expect(info).toEqual(serverInfo)
  expect(tools[0]).toEqual(tool)
  expect(resources[0]).toEqual(resource)
  expect(call.content).toEqual(result.content)
  expect(call._meta).toEqual(result._meta)
  expect(read.contents[0]._meta).toEqual({ etag: 'e1' })
  expect(read._meta).toMatchObject({ r: 1 })
}

test('2025-11-25 (SDK 1.x): every field arrives as given', async () => {
  const { client } = await connectClient(server.url)
  try {
    expectShapes(
      client.getServerVersion(),
      (await client.listTools()).tools,
      (await client.listResources()).resources,
      await client.callTool({ name: 'link', arguments: { n: 1 } }),
      await client.readResource({ uri: resource.uri }),
    )
  } finally {
    await client.close()
  }
})

test('2026-07-28 (client 2.x): every field arrives as given', async () => {
  const client = new v2.Client({ name: 'modern', version: '2.0.0' }, { versionNegotiation: { mode: 'auto' } })
  await client.connect(new v2.StreamableHTTPClientTransport(new URL(server.url)))
  try {
    expectShapes(
      client.getServerVersion(),
      (await client.listTools()).tools,
      (await client.listResources()).resources,
      await client.callTool({ name: 'link', arguments: { n: 1 } }),
      await client.readResource({ uri: resource.uri }),
    )
  } finally {
    await client.close()
  }
})
