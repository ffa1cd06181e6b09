'use strict'
// Bad input on the 2026-07-28 wire (issue 9), over raw fetch on loopback: for each malformed or
// hostile modern request, the HTTP status and JSON-RPC error the server answers with, plus the
// modern response rules (JSON vs SSE, ctx.log, cancellation by closing the stream, caching
// hints, server/discover). docs/errors.md carries the table of the "modern bad input" tests; keep
// the two in step (test names are the table's last column).
const {
  MODERN,
  KEY,
  waitFor,
  startServer,
  meta,
  modernHeaders,
  modernPost,
  readResponse,
  recorder,
  expectRpcError,
} = require('./helpers/eras')

const OBJ = { type: 'object', properties: {} }
const LEGACY = '2025-11-25'
const CACHE = { ttlMs: 5000, scope: 'public' }

const ELICIT = {
  method: 'elicitation/create',
  params: { message: 'Your name?', requestedSchema: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] } },
}
const SAMPLE = { method: 'sampling/createMessage', params: { messages: [{ role: 'user', content: { type: 'text', text: 'hi' } }], maxTokens: 5 } }
const text = (t) => ({ content: [{ type: 'text', text: t }] })

let server
let url
let rec
const calls = {} // tool name -> number of callback runs
const hung = [] // { started, aborted } per call of the hanging tools
const count = (name) => calls[name] || 0

beforeAll(async () => {
  rec = recorder()
  server = await startServer(
    {
      cache: CACHE,
      instructions: 'eras bad-input server',
      tools: [
        { name: 'ask', inputSchema: OBJ },
        { name: 'other', inputSchema: OBJ },
        { name: 'needs_sampling', inputSchema: OBJ },
        {
          name: 'hdr',
          inputSchema: { type: 'object', properties: { region: { type: 'string', 'x-mcp-header': 'Region' } } },
        },
        { name: 'plain', inputSchema: OBJ },
        { name: 'progress', inputSchema: OBJ },
        { name: 'log', inputSchema: OBJ },
        { name: 'uses_request', inputSchema: OBJ },
        { name: 'close_stream', inputSchema: OBJ },
        { name: 'slow', inputSchema: OBJ },
        { name: 'hang', inputSchema: OBJ },
        { name: 'hang_after_progress', inputSchema: OBJ },
      ],
      resources: [{ uri: 'test://a', name: 'a', mimeType: 'text/plain' }],
      prompts: [{ name: 'greeting' }],
      getPrompt: async () => ({ messages: [{ role: 'user', content: { type: 'text', text: 'hello' } }] }),
      readResource: async (uri) => {
        if (uri === 'test://a') return { contents: [{ uri, mimeType: 'text/plain', text: 'A' }] }
        throw Object.assign(new Error(`Resource not found: ${uri}`), { code: -32002, data: { uri } })
      },
      callTool: async ({ name, arguments: args }, ctx) => {
        calls[name] = count(name) + 1
        switch (name) {
          case 'ask':
          case 'other':
            if (!ctx.inputResponses) return { resultType: 'input_required', inputRequests: { name: ELICIT }, requestState: `state-of-${name}` }
            return text(`hello ${JSON.stringify(ctx.inputResponses.name)} ${ctx.requestState}`)
          case 'needs_sampling':
            return ctx.inputResponses ? text('sampled') : { resultType: 'input_required', inputRequests: { s: SAMPLE } }
          case 'hdr':
            return text(`region=${args.region}`)
          case 'close_stream':
            ctx.closeStream() // nothing to resume in 2026-07-28: a no-op
            return text('still answered')
          case 'slow':
            await new Promise((r) => setTimeout(r, 300))
            return text('slow done')
          case 'progress':
            ctx.sendProgress(1, 2, 'half way')
            return text('progress done')
          case 'log':
            ctx.log('info', { step: 'info-level' }, 'eras')
            ctx.log('debug', 'debug-level', 'eras')
            return text('log done')
          case 'uses_request':
            try {
              await ctx.request('roots/list')
              return text('request resolved')
            } catch (e) {
              return text(`request rejected: ${e.message}`)
            }
          case 'hang':
          case 'hang_after_progress': {
            if (name === 'hang_after_progress') ctx.sendProgress(1, 2, 'started')
            const entry = { name, started: true, aborted: null }
            hung.push(entry)
            // Settles when the server aborts the call (the client closed its stream).
            return new Promise((resolve) => {
              ctx.signal.addEventListener('abort', () => {
                entry.aborted = (ctx.signal.reason && ctx.signal.reason.message) || 'aborted'
                resolve(text('aborted'))
              })
            })
          }
          default:
            return text(name)
        }
      },
    },
    rec.monitor,
  )
  url = server.url
})

afterAll(async () => {
  await server.close()
})

// An InputRequiredResult for tool `name`; returns its sealed requestState.
async function sealedStateFor(name) {
  const r = await modernPost(url, 'tools/call', { name, arguments: {}, _meta: meta({ capabilities: { elicitation: {} } }) })
  expect(r.status).toBe(200)
  expect(r.json.result.resultType).toBe('input_required')
  expect(typeof r.json.result.requestState).toBe('string')
  return r.json.result.requestState
}

const retry = (name, requestState, id = 2) =>
  modernPost(
    url,
    'tools/call',
    {
      name,
      arguments: {},
      inputResponses: { name: { action: 'accept', content: { name: 'Ada' } } },
      requestState,
      _meta: meta({ capabilities: { elicitation: {} } }),
    },
    { id },
  )

// A 2025 session over raw HTTP: initialize + notifications/initialized.
async function legacySession() {
  const h = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }
  const init = await readResponse(
    await fetch(url, {
      method: 'POST',
      headers: h,
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 0,
        method: 'initialize',
        params: { protocolVersion: LEGACY, capabilities: {}, clientInfo: { name: 'raw-legacy', version: '1' } },
      }),
    }),
  )
  expect(init.status).toBe(200)
  const session = init.headers.get('mcp-session-id')
  const sh = { ...h, 'mcp-session-id': session, 'mcp-protocol-version': LEGACY }
  const note = await fetch(url, { method: 'POST', headers: sh, body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) })
  await note.text()
  const post = async (body) => readResponse(await fetch(url, { method: 'POST', headers: sh, body: JSON.stringify(body) }))
  const close = async () => (await fetch(url, { method: 'DELETE', headers: sh })).text()
  return { session, post, close }
}

describe('modern bad input', () => {
  test('missing _meta: 400 / -32602', async () => {
    const r = await modernPost(url, 'tools/list', {}, { metaOverride: null })
    expectRpcError(r, 400, -32602)
    expect(r.json.error.message).toMatch(/protocolVersion/)
  })

  test('_meta without clientCapabilities: 400 / -32602', async () => {
    const r = await modernPost(url, 'tools/list', {}, { metaOverride: meta({ omit: ['capabilities'] }) })
    expectRpcError(r, 400, -32602)
    expect(r.json.error.message).toMatch(/clientCapabilities/)
  })

  test('MCP-Protocol-Version header differs from _meta protocolVersion: 400 / -32020', async () => {
    const r = await modernPost(url, 'tools/list', {}, { headers: { 'mcp-protocol-version': LEGACY } })
    expectRpcError(r, 400, -32020)
  })

  test('MCP-Protocol-Version header missing: 400 / -32020', async () => {
    const r = await modernPost(url, 'tools/list', {}, { headers: { 'mcp-protocol-version': null } })
    expectRpcError(r, 400, -32020)
  })

  test('Mcp-Method header differs from the body method: 400 / -32020', async () => {
    const r = await modernPost(url, 'tools/list', {}, { headers: { 'mcp-method': 'prompts/list' } })
    expectRpcError(r, 400, -32020)
  })

  test('Mcp-Method header missing: 400 / -32020', async () => {
    const r = await modernPost(url, 'tools/list', {}, { headers: { 'mcp-method': null } })
    expectRpcError(r, 400, -32020)
  })

  test('Mcp-Name header differs from the tool name or resource uri: 400 / -32020', async () => {
    const before = count('plain')
    const r = await modernPost(url, 'tools/call', { name: 'plain', arguments: {} }, { headers: { 'mcp-name': 'other' } })
    expectRpcError(r, 400, -32020)
    expect(count('plain')).toBe(before)
    const read = await modernPost(url, 'resources/read', { uri: 'test://a' }, { headers: { 'mcp-name': 'test://b' } })
    expectRpcError(read, 400, -32020)
  })

  test('Mcp-Name header missing on tools/call: 400 / -32020', async () => {
    const r = await modernPost(url, 'tools/call', { name: 'plain', arguments: {} }, { headers: { 'mcp-name': null } })
    expectRpcError(r, 400, -32020)
  })

  test('Mcp-Param-* header differs from its x-mcp-header argument: 400 / -32020', async () => {
    const params = { name: 'hdr', arguments: { region: 'us-east' } }
    const r = await modernPost(url, 'tools/call', params, { headers: { 'mcp-param-region': 'eu-west' } })
    expectRpcError(r, 400, -32020)
    // The control: the matching header, plain and as strict Base64, is accepted.
    const ok = await modernPost(url, 'tools/call', params, { headers: { 'mcp-param-region': 'us-east' } })
    expect(ok.status).toBe(200)
    expect(ok.json.result.content[0].text).toBe('region=us-east')
    const hello = { name: 'hdr', arguments: { region: 'Hello' } }
    const b64 = await modernPost(url, 'tools/call', hello, { headers: { 'mcp-param-region': '=?base64?SGVsbG8=?=' } })
    expect(b64.status).toBe(200)
    expect(b64.json.result.content[0].text).toBe('region=Hello')
  })

  test('Mcp-Param-* header missing for a present x-mcp-header argument: 400 / -32020', async () => {
    const r = await modernPost(url, 'tools/call', { name: 'hdr', arguments: { region: 'us-east' } })
    expectRpcError(r, 400, -32020)
  })

  test('Mcp-Param-* header with invalid Base64 (=?base64?SGVsbG8?=): 400 / -32020', async () => {
    const before = count('hdr')
    const r = await modernPost(
      url,
      'tools/call',
      { name: 'hdr', arguments: { region: 'Hello' } },
      { headers: { 'mcp-param-region': '=?base64?SGVsbG8?=' } },
    )
    expectRpcError(r, 400, -32020)
    expect(count('hdr')).toBe(before)
  })

  test('unsupported version 2099-01-01 in header and _meta: 400 / -32022 with data.supported', async () => {
    const r = await modernPost(url, 'tools/list', {}, { metaOverride: meta({ version: '2099-01-01' }) })
    expectRpcError(r, 400, -32022)
    expect(r.json.error.data.supported).toEqual(expect.arrayContaining([MODERN, LEGACY]))
    expect(r.json.error.data.supported).not.toContain('2099-01-01')
  })

  test('GET with MCP-Protocol-Version 2026-07-28: 405, Allow: POST', async () => {
    const r = await readResponse(await fetch(url, { method: 'GET', headers: { accept: 'text/event-stream', 'mcp-protocol-version': MODERN } }))
    expectRpcError(r, 405, -32000, null)
    expect(r.headers.get('allow')).toBe('POST')
  })

  test('DELETE with MCP-Protocol-Version 2026-07-28: 405, Allow: POST', async () => {
    const r = await readResponse(await fetch(url, { method: 'DELETE', headers: { 'mcp-protocol-version': MODERN } }))
    expectRpcError(r, 405, -32000, null)
    expect(r.headers.get('allow')).toBe('POST')
  })

  test('tampered requestState: -32602, the callback does not run', async () => {
    const state = await sealedStateFor('ask')
    const before = count('ask')
    // Flip the last character (the MAC) …
    const last = state.slice(-1)
    const flipped = state.slice(0, -1) + (last === 'A' ? 'B' : 'A')
    // … and, separately, swap the middle of the string (the sealed payload) for other bytes.
    const mid = Math.floor(state.length / 2)
    const swapped = state.slice(0, mid) + (state[mid] === 'x' ? 'y' : 'x') + state.slice(mid + 1)
    for (const [i, bad] of [flipped, swapped, 'not-a-sealed-state'].entries()) {
      const r = await retry('ask', bad, 10 + i)
      expectRpcError(r, 200, -32602, 10 + i)
    }
    expect(count('ask')).toBe(before)
    // The untouched state still completes (and the callback sees the state it sealed).
    const ok = await retry('ask', state, 20)
    expect(ok.status).toBe(200)
    expect(ok.json.result.resultType).toBe('complete')
    expect(ok.json.result.content[0].text).toContain('state-of-ask')
    expect(count('ask')).toBe(before + 1)
  })

  test('requestState replayed against another tool: -32602, the callback does not run', async () => {
    const state = await sealedStateFor('ask')
    const beforeOther = count('other')
    const beforeAsk = count('ask')
    const r = await retry('other', state, 3)
    expectRpcError(r, 200, -32602, 3)
    expect(count('other')).toBe(beforeOther)
    expect(count('ask')).toBe(beforeAsk)
  })

  test('requestState past requestStateTtlMs: -32602, the callback does not run', async () => {
    let runs = 0
    const s = await startServer({
      requestStateTtlMs: 1,
      tools: [{ name: 'ask', inputSchema: OBJ }],
      callTool: async (call, ctx) => {
        runs++
        return ctx.inputResponses ? text('done') : { resultType: 'input_required', inputRequests: { name: ELICIT }, requestState: 's' }
      },
    })
    try {
      const caps = meta({ capabilities: { elicitation: {} } })
      const first = await modernPost(s.url, 'tools/call', { name: 'ask', arguments: {}, _meta: caps })
      const state = first.json.result.requestState
      // Wait until the clock has certainly passed the 1 ms lifetime (bounded, not a timing check).
      const t0 = Date.now()
      await waitFor(() => Date.now() - t0 > 20, '20 ms to pass')
      const r = await modernPost(s.url, 'tools/call', {
        name: 'ask',
        arguments: {},
        inputResponses: { name: { action: 'accept', content: { name: 'x' } } },
        requestState: state,
        _meta: caps,
      })
      expectRpcError(r, 200, -32602)
      expect(runs).toBe(1)
    } finally {
      await s.close()
    }
  })

  test.each([
    ['initialize', { protocolVersion: MODERN, capabilities: {}, clientInfo: { name: 'x', version: '1' } }],
    ['ping', {}],
    ['logging/setLevel', { level: 'info' }],
    ['resources/subscribe', { uri: 'test://a' }],
  ])('removed method %s with a valid envelope: 404 / -32601', async (method, params) => {
    const r = await modernPost(url, method, params)
    expectRpcError(r, 404, -32601)
  })

  test('input request needing an undeclared capability: 400 / -32021 with data.requiredCapabilities', async () => {
    const r = await modernPost(url, 'tools/call', { name: 'needs_sampling', arguments: {}, _meta: meta({ capabilities: { elicitation: {} } }) })
    expectRpcError(r, 400, -32021)
    expect(r.json.error.data.requiredCapabilities).toEqual({ sampling: {} })
    // Declared, the same call gets its InputRequiredResult.
    const ok = await modernPost(url, 'tools/call', { name: 'needs_sampling', arguments: {}, _meta: meta({ capabilities: { sampling: {} } }) })
    expect(ok.status).toBe(200)
    expect(ok.json.result.resultType).toBe('input_required')
    expect(ok.json.result.inputRequests.s.method).toBe('sampling/createMessage')
  })

  test('modern request to a protocols: { modern: false } server: 400 / -32022 listing the 2025 versions', async () => {
    const s = await startServer({ protocols: { modern: false }, tools: [{ name: 't', inputSchema: OBJ }], callTool: async () => text('t') })
    try {
      for (const [method, params] of [
        ['tools/list', {}],
        ['server/discover', {}],
        ['tools/call', { name: 't', arguments: {} }],
      ]) {
        const r = await modernPost(s.url, method, params)
        expect(r.status).toBeLessThan(500)
        expectRpcError(r, 400, -32022)
        expect(r.json.error.data.supported.length).toBeGreaterThan(0)
        for (const v of r.json.error.data.supported) expect(v.startsWith('2025-')).toBe(true)
        expect(r.json.error.data.supported).toContain(LEGACY)
      }
    } finally {
      await s.close()
    }
  })

  test('initialize to a protocols: { legacy: false } server: 400 / -32022', async () => {
    const s = await startServer({ protocols: { legacy: false } })
    try {
      const res = await fetch(s.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 1,
          method: 'initialize',
          params: { protocolVersion: LEGACY, capabilities: {}, clientInfo: { name: 'old', version: '1' } },
        }),
      })
      const r = await readResponse(res)
      expectRpcError(r, 400, -32022)
      expect(r.json.error.data.supported).toEqual([MODERN])
      expect(r.headers.get('mcp-session-id')).toBeNull()
      // The modern wire works on the same server.
      const ok = await modernPost(s.url, 'server/discover')
      expect(ok.status).toBe(200)
    } finally {
      await s.close()
    }
  })

  test('setTools with an invalid x-mcp-header annotation throws a clear error', async () => {
    const bad = (props) => [{ name: 'bad', inputSchema: { type: 'object', properties: props } }]
    expect(() => server.setTools(bad({ a: { type: 'object', 'x-mcp-header': 'A' } }))).toThrow(/x-mcp-header.*"a".*primitive type/)
    expect(() => server.setTools(bad({ a: { type: 'string', 'x-mcp-header': 'A B' } }))).toThrow(/x-mcp-header "A B".*not a valid header name/)
    expect(() => server.setTools(bad({ a: { type: 'string', 'x-mcp-header': 'Dup' }, b: { type: 'string', 'x-mcp-header': 'dup' } }))).toThrow(
      /x-mcp-header .* used twice/,
    )
    // The listing is unchanged after a refused setTools …
    const list = await modernPost(url, 'tools/list')
    expect(list.json.result.tools.map((t) => t.name)).toContain('hdr')
    expect(list.json.result.tools.map((t) => t.name)).not.toContain('bad')
    // … and the same annotation at start-up is refused too.
    await expect(startServer({ tools: bad({ a: { type: 'array', 'x-mcp-header': 'A' } }) })).rejects.toThrow(/x-mcp-header/)
  })

  test('resource not found: -32602 with data.uri (modern), -32002 with data.uri (legacy)', async () => {
    const modern = await modernPost(url, 'resources/read', { uri: 'test://missing' })
    expectRpcError(modern, 200, -32602)
    expect(modern.json.error.data).toEqual({ uri: 'test://missing' })
    const legacy = await legacySession()
    try {
      const r = await legacy.post({ jsonrpc: '2.0', id: 7, method: 'resources/read', params: { uri: 'test://missing' } })
      expect(r.status).toBe(200)
      expect(r.json.id).toBe(7)
      expect(r.json.error.code).toBe(-32002)
      expect(r.json.error.data).toEqual({ uri: 'test://missing' })
    } finally {
      await legacy.close()
    }
  })

  test('batch on the 2026 wire: 400 / -32600', async () => {
    const one = (id) => ({ jsonrpc: '2.0', id, method: 'tools/list', params: { _meta: meta() } })
    const r = await modernPost(url, 'tools/list', {}, { body: [one(1), one(2)] })
    expect(r.status).toBe(400)
    expect(r.json.error.code).toBe(-32600)
  })

  test('new modern client beyond maxConnections: 503 and onConnectionRejected', async () => {
    const r2 = recorder()
    const s = await startServer({ maxConnections: 1 }, r2.monitor)
    try {
      const a = await modernPost(s.url, 'server/discover', {}, { metaOverride: meta({ clientInfo: { name: 'a', version: '1' } }) })
      expect(a.status).toBe(200)
      const b = await modernPost(s.url, 'server/discover', {}, { metaOverride: meta({ clientInfo: { name: 'b', version: '1' } }) })
      expectRpcError(b, 503, -32000)
      await waitFor(() => r2.rejected().length === 1, 'onConnectionRejected')
      expect(r2.rejected()[0].info.reason).toBe('max_connections')
      // The known client is still served.
      const again = await modernPost(s.url, 'server/discover', {}, { metaOverride: meta({ clientInfo: { name: 'a', version: '1' } }) })
      expect(again.status).toBe(200)
      expect(s.getConnectionStats().connections).toHaveLength(1)
    } finally {
      await s.close()
    }
  })

  test('requests refused by the envelope or header checks create no monitor record', async () => {
    const r2 = recorder()
    const s = await startServer({ tools: [{ name: 't', inputSchema: OBJ }], callTool: async () => text('t') }, r2.monitor)
    try {
      const info = { clientInfo: { name: 'refused', version: '1' } }
      const refused = [
        await modernPost(s.url, 'tools/list', {}, { metaOverride: meta({ ...info, omit: ['capabilities'] }) }),
        await modernPost(s.url, 'tools/list', {}, { metaOverride: meta(info), headers: { 'mcp-protocol-version': LEGACY } }),
        await modernPost(s.url, 'tools/list', {}, { metaOverride: meta(info), headers: { 'mcp-method': 'ping' } }),
        await modernPost(s.url, 'tools/call', { name: 't', arguments: {} }, { metaOverride: meta(info), headers: { 'mcp-name': 'x' } }),
        await modernPost(s.url, 'tools/list', {}, { metaOverride: meta({ ...info, version: '2099-01-01' }) }),
      ]
      for (const r of refused) expect(r.status).toBe(400)
      expect(s.getConnectionStats().connections).toEqual([])
      expect(s.getConnectionStats().totalConnections).toBe(0)
      expect(r2.established()).toEqual([])
    } finally {
      await s.close()
    }
  })
})

describe('modern responses', () => {
  test('a slow callback (past 100 ms) is answered on an SSE stream, its result last', async () => {
    const r = await modernPost(url, 'tools/call', { name: 'slow', arguments: {} })
    expect(r.status).toBe(200)
    expect(r.type).toMatch(/^text\/event-stream/)
    expect(r.json.result).toEqual({ resultType: 'complete', content: [{ type: 'text', text: 'slow done' }] })
  })

  test('a callback that sends no notifications is answered with plain JSON', async () => {
    const r = await modernPost(url, 'tools/call', { name: 'plain', arguments: {} })
    expect(r.status).toBe(200)
    expect(r.type).toMatch(/^application\/json/)
    expect(r.json.result).toEqual({ resultType: 'complete', content: [{ type: 'text', text: 'plain' }] })
  })

  // The callback returns right after sendProgress / ctx.log, so the notification and the result
  // are ready together; each case runs REPEAT times so a race between them cannot hide.
  const REPEAT = 50

  test('a callback that sends progress first (with _meta.progressToken) is answered with SSE', async () => {
    const kinds = []
    for (let i = 0; i < REPEAT; i++) {
      const r = await modernPost(url, 'tools/call', { name: 'progress', arguments: {}, _meta: meta({ progressToken: `tok-${i}` }) }, { id: 100 + i })
      expect(r.status).toBe(200)
      kinds.push(r.type.split(';')[0])
      if (!r.messages) continue
      expect(r.messages.map((m) => m.method || 'response')).toEqual(['notifications/progress', 'response'])
      expect(r.messages[0].params).toMatchObject({ progressToken: `tok-${i}`, progress: 1, total: 2, message: 'half way' })
      expect(r.json.id).toBe(100 + i)
      expect(r.json.result.content[0].text).toBe('progress done')
    }
    expect(kinds).toEqual(Array(REPEAT).fill('text/event-stream'))
  })

  test('progress without _meta.progressToken is dropped and the answer stays JSON', async () => {
    const r = await modernPost(url, 'tools/call', { name: 'progress', arguments: {} })
    expect(r.type).toMatch(/^application\/json/)
    expect(r.json.result.content[0].text).toBe('progress done')
  })

  test('ctx.log is dropped without _meta logLevel', async () => {
    const r = await modernPost(url, 'tools/call', { name: 'log', arguments: {} })
    expect(r.type).toMatch(/^application\/json/)
    expect(r.text).not.toContain('notifications/message')
    expect(r.json.result.content[0].text).toBe('log done')
  })

  test('ctx.log is sent with _meta logLevel, and only at or above that level', async () => {
    const seen = []
    for (let i = 0; i < REPEAT; i++) {
      const level = i % 2 ? 'debug' : 'info'
      const r = await modernPost(url, 'tools/call', { name: 'log', arguments: {}, _meta: meta({ logLevel: level }) })
      expect(r.json.result.content[0].text).toBe('log done')
      const logs = (r.messages || []).filter((m) => m.method === 'notifications/message')
      seen.push([level, r.type.split(';')[0], logs.map((m) => m.params.level).join(',')])
      if (level === 'info' && logs.length) {
        expect(logs[0]).toEqual({ jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', logger: 'eras', data: { step: 'info-level' } } })
      }
    }
    expect(seen).toEqual(
      Array.from({ length: REPEAT }, (_, i) => (i % 2 ? ['debug', 'text/event-stream', 'info,debug'] : ['info', 'text/event-stream', 'info'])),
    )
  })

  test('closing the response before it starts aborts ctx.signal', async () => {
    const before = hung.length
    const ac = new AbortController()
    const pending = modernPost(url, 'tools/call', { name: 'hang', arguments: {} }, { signal: ac.signal }).catch((e) => e)
    await waitFor(() => hung.length > before, 'the hang callback to start')
    ac.abort()
    expect((await pending).name).toBe('AbortError')
    const entry = hung[before]
    await waitFor(() => entry.aborted !== null, 'ctx.signal to abort')
    expect(entry.aborted).toMatch(/closed/)
  })

  test('closing the SSE response mid-call aborts ctx.signal', async () => {
    const before = hung.length
    const ac = new AbortController()
    const p = { name: 'hang_after_progress', arguments: {}, _meta: meta({ progressToken: 'p' }) }
    const res = await fetch(url, {
      method: 'POST',
      headers: modernHeaders('tools/call', p),
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: p }),
      signal: ac.signal,
    })
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/)
    await waitFor(() => hung.length > before, 'the callback to start')
    const entry = hung[before]
    expect(entry.aborted).toBeNull()
    ac.abort()
    await res.text().catch(() => {})
    await waitFor(() => entry.aborted !== null, 'ctx.signal to abort')
    expect(entry.aborted).toMatch(/closed/)
  })

  test('ctx.closeStream() does nothing in the modern era: the answer still arrives', async () => {
    const r = await modernPost(url, 'tools/call', { name: 'close_stream', arguments: {} })
    expect(r.status).toBe(200)
    expect(r.json.result.content[0].text).toBe('still answered')
  })

  test('ctx.request rejects in the modern era (return InputRequiredResult instead)', async () => {
    const r = await modernPost(url, 'tools/call', { name: 'uses_request', arguments: {} })
    expect(r.json.result.content[0].text).toMatch(/^request rejected: .*InputRequiredResult/)
  })

  test.each([
    ['tools/list', {}, 'tools'],
    ['prompts/list', {}, 'prompts'],
    ['resources/list', {}, 'resources'],
    ['resources/templates/list', {}, 'resourceTemplates'],
    ['resources/read', { uri: 'test://a' }, 'contents'],
    ['server/discover', {}, 'supportedVersions'],
  ])('%s carries resultType complete and the cache option as ttlMs / cacheScope', async (method, params, field) => {
    const r = await modernPost(url, method, params)
    expect(r.status).toBe(200)
    expect(r.json.result).toMatchObject({ resultType: 'complete', ttlMs: CACHE.ttlMs, cacheScope: CACHE.scope })
    expect(r.json.result[field]).toBeDefined()
  })

  test('tools/call and prompts/get results carry resultType complete', async () => {
    const t = await modernPost(url, 'tools/call', { name: 'plain', arguments: {} })
    expect(t.json.result.resultType).toBe('complete')
    const p = await modernPost(url, 'prompts/get', { name: 'greeting', arguments: {} })
    expect(p.json.result.resultType).toBe('complete')
    expect(p.json.result.messages[0].content.text).toBe('hello')
  })

  test('server/discover lists supportedVersions, capabilities and _meta serverInfo', async () => {
    const r = await modernPost(url, 'server/discover')
    expect(r.status).toBe(200)
    const res = r.json.result
    expect(res.supportedVersions).toEqual(expect.arrayContaining([MODERN, LEGACY, '2025-06-18', '2025-03-26']))
    expect(res._meta[KEY.serverInfo]).toEqual({ name: 'eras-test-server', version: '1.0.0' })
    expect(res.capabilities.tools).toBeDefined()
    expect(res.capabilities.prompts).toBeDefined()
    expect(res.capabilities.resources).toBeDefined()
    expect(res.instructions).toBe('eras bad-input server')
  })

  test('with enableJsonResponse a modern answer is one JSON object; progress is dropped', async () => {
    const s = await startServer({
      enableJsonResponse: true,
      tools: [{ name: 'progress', inputSchema: OBJ }],
      callTool: async (call, ctx) => {
        ctx.sendProgress(1, 2)
        ctx.log('error', 'dropped too')
        return text('json only')
      },
    })
    try {
      const r = await modernPost(s.url, 'tools/call', { name: 'progress', arguments: {}, _meta: meta({ progressToken: 1, logLevel: 'debug' }) })
      expect(r.type).toMatch(/^application\/json/)
      expect(r.json.result).toEqual({ resultType: 'complete', content: [{ type: 'text', text: 'json only' }] })
    } finally {
      await s.close()
    }
  })
})
