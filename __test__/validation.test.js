'use strict'
// Tool arguments and structured results validated in Rust against the tool's schemas
// (docs/validation.md): real clients of each revision over loopback HTTP, and the callback
// proving what reached JS.
const v2 = require('@modelcontextprotocol/client')
const { startServer, connectClient, post, openSession } = require('./helpers/mcp')

const PET = {
  name: 'get_pet',
  description: 'a pet by id',
  inputSchema: {
    type: 'object',
    properties: { id: { type: 'integer', minimum: 1 }, tags: { type: 'array', items: { type: 'string' } } },
    required: ['id'],
    additionalProperties: false,
  },
}
const WEATHER = {
  name: 'weather',
  description: 'structured weather',
  inputSchema: { type: 'object', properties: { mode: { type: 'string' } } },
  outputSchema: { type: 'object', properties: { t: { type: 'number' } }, required: ['t'] },
}

let servers = []
let closers = []
afterEach(async () => {
  for (const c of closers) await c().catch(() => {})
  for (const s of servers) await s.close()
  closers = []
  servers = []
})

// A server whose callTool records what reached JS.
async function server(extra = {}) {
  const calls = []
  const s = await startServer({
    tools: [PET, WEATHER],
    async callTool({ name, arguments: args }) {
      calls.push({ name, args })
      if (name === 'weather') {
        if (args.mode === 'bad') return { content: [{ type: 'text', text: 'hot' }], structuredContent: { t: 'hot' } }
        if (args.mode === 'none') return { content: [{ type: 'text', text: '21' }] }
        if (args.mode === 'error') return { content: [{ type: 'text', text: 'sensor down' }], isError: true }
        return { content: [{ type: 'text', text: '{"t":21}' }], structuredContent: { t: 21 } }
      }
      return { content: [{ type: 'text', text: `pet ${args.id}` }] }
    },
    ...extra,
  })
  servers.push(s)
  return { s, calls }
}

async function call(url, session, version, name, args, id = 2) {
  return post(url, { jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } }, { session, version })
}

describe('arguments', () => {
  test('2025-11-25 (SDK 1.x): invalid arguments give an isError result naming the paths, and never reach callTool', async () => {
    const { s, calls } = await server()
    const { client } = await connectClient(s.url)
    closers.push(() => client.close())
    const ok = await client.callTool({ name: 'get_pet', arguments: { id: 7, tags: ['a'] } })
    expect(ok.content[0].text).toBe('pet 7')
    const bad = await client.callTool({ name: 'get_pet', arguments: { id: 'seven', tags: ['a', 2], extra: true } })
    expect(bad.isError).toBe(true)
    const text = bad.content[0].text
    expect(text).toMatch(/^Invalid arguments for tool get_pet: /)
    expect(text).toContain('/id')
    expect(text).toContain('/tags/1')
    expect(text).toContain('extra')
    const missing = await client.callTool({ name: 'get_pet', arguments: {} })
    expect(missing.isError).toBe(true)
    expect(missing.content[0].text).toContain('"id"')
    expect(calls).toEqual([{ name: 'get_pet', args: { id: 7, tags: ['a'] } }])
  })

  test('2025-06-18 and 2025-03-26: invalid arguments are JSON-RPC -32602 with data.errors', async () => {
    const { s, calls } = await server()
    for (const version of ['2025-06-18', '2025-03-26']) {
      const session = await openSession(s.url, version)
      const r = await call(s.url, session, version, 'get_pet', { id: 0 })
      expect(r.status).toBe(200)
      expect(r.json.error.code).toBe(-32602)
      expect(r.json.error.message).toContain('/id')
      expect(r.json.error.data).toEqual({ tool: 'get_pet', errors: [{ path: '/id', message: expect.stringContaining('minimum') }] })
      const ok = await call(s.url, session, version, 'get_pet', { id: 1 }, 3)
      expect(ok.json.result.content[0].text).toBe('pet 1')
    }
    expect(calls.map((c) => c.args)).toEqual([{ id: 1 }, { id: 1 }])
  })

  test('2026-07-28 (client 2.x): invalid arguments give an isError result tagged complete', async () => {
    const { s, calls } = await server()
    const client = new v2.Client({ name: 'modern', version: '2.0.0' }, { versionNegotiation: { mode: 'auto' } })
    await client.connect(new v2.StreamableHTTPClientTransport(new URL(s.url)))
    closers.push(() => client.close())
    const bad = await client.callTool({ name: 'get_pet', arguments: { id: 1.5 } })
    expect(bad.isError).toBe(true)
    expect(bad.content[0].text).toContain('/id')
    const ok = await client.callTool({ name: 'get_pet', arguments: { id: 2 } })
    expect(ok.content[0].text).toBe('pet 2')
    expect(calls).toEqual([{ name: 'get_pet', args: { id: 2 } }])
  })

  test('validation: false (or arguments: false) lets anything through to JS', async () => {
    for (const validation of [false, { arguments: false }]) {
      const { s, calls } = await server({ validation })
      const session = await openSession(s.url, '2025-06-18')
      const r = await call(s.url, session, '2025-06-18', 'get_pet', { id: 'x' })
      expect(r.json.result.content[0].text).toBe('pet x')
      expect(calls).toEqual([{ name: 'get_pet', args: { id: 'x' } }])
    }
  })
})

describe('results', () => {
  test('structuredContent that breaks outputSchema (or is missing) is -32603; errors pass', async () => {
    const { s } = await server()
    const session = await openSession(s.url, '2025-11-25')
    const good = await call(s.url, session, '2025-11-25', 'weather', {})
    expect(good.json.result.structuredContent).toEqual({ t: 21 })
    const bad = await call(s.url, session, '2025-11-25', 'weather', { mode: 'bad' }, 3)
    expect(bad.json.error.code).toBe(-32603)
    expect(bad.json.error.data.errors[0].path).toBe('/structuredContent/t')
    const none = await call(s.url, session, '2025-11-25', 'weather', { mode: 'none' }, 4)
    expect(none.json.error.code).toBe(-32603)
    expect(none.json.error.message).toContain('outputSchema')
    const err = await call(s.url, session, '2025-11-25', 'weather', { mode: 'error' }, 5)
    expect(err.json.result.isError).toBe(true)
  })

  test('results: false sends a non-conforming result as it is', async () => {
    const { s } = await server({ validation: { results: false } })
    const session = await openSession(s.url, '2025-11-25')
    const bad = await call(s.url, session, '2025-11-25', 'weather', { mode: 'bad' })
    expect(bad.json.result.structuredContent).toEqual({ t: 'hot' })
  })
})

describe('schemas', () => {
  test('an invalid inputSchema fails the start and setTools (which keeps the old list)', async () => {
    await expect(startServer({ tools: [{ name: 'x', inputSchema: { type: 'nope' } }] })).rejects.toThrow(
      /tool "x": inputSchema is not a valid JSON Schema/,
    )
    await expect(startServer({ tools: [{ name: 'y', inputSchema: [] }] })).rejects.toThrow(/tool "y": inputSchema must be a JSON object/)
    const { s, calls } = await server()
    expect(() => s.setTools([PET, { name: 'z', inputSchema: { type: 'object' }, outputSchema: { required: 'id' } }])).toThrow(
      /tool "z": outputSchema is not a valid JSON Schema/,
    )
    const session = await openSession(s.url, '2025-06-18')
    const r = await call(s.url, session, '2025-06-18', 'get_pet', { id: -1 })
    expect(r.json.error.code).toBe(-32602)
    // A new list brings its new schemas.
    s.setTools([{ ...PET, inputSchema: { type: 'object', properties: { id: { type: 'string' } } } }])
    const after = await call(s.url, session, '2025-06-18', 'get_pet', { id: 'rex' }, 3)
    expect(after.json.result.content[0].text).toBe('pet rex')
    expect(calls).toHaveLength(1)
  })
})
