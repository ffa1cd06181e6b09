'use strict'
// The native Streamable HTTP server driven by the real @modelcontextprotocol/sdk 1.x client over
// StreamableHTTPClientTransport (issue 2). Every test starts its own server on a free loopback
// port and closes its clients and the server, so Jest exits on its own.
const {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  LoggingMessageNotificationSchema,
  ResourceUpdatedNotificationSchema,
  ToolListChangedNotificationSchema,
  PromptListChangedNotificationSchema,
  ResourceListChangedNotificationSchema,
  EmptyResultSchema,
  ErrorCode,
  McpError,
  LATEST_PROTOCOL_VERSION,
} = require('@modelcontextprotocol/sdk/types.js')
const { deferred, waitFor, startServer, connectClient, post, breakingSse } = require('./helpers/mcp')

const TEXT = (text) => ({ content: [{ type: 'text', text }] })
const OBJ = { type: 'object', properties: {} }

// Everything a test opens, closed after it: clients first, then servers.
let clients = []
let servers = []
async function server(opts, monitor) {
  const s = await startServer(opts, monitor)
  servers.push(s)
  return s
}
async function client(url, opts) {
  const c = await connectClient(url, opts)
  clients.push(c)
  return c
}
afterEach(async () => {
  const cs = clients
  const ss = servers
  clients = []
  servers = []
  for (const c of cs) await c.client.close().catch(() => {})
  for (const s of ss) await s.close()
})

// The SDK rejects with McpError; this pulls out what the server sent.
async function rpcError(promise) {
  try {
    await promise
  } catch (e) {
    return e
  }
  throw new Error('expected the request to fail')
}

describe('initialize', () => {
  test('negotiates the latest version and reports serverInfo, instructions and capabilities', async () => {
    const established = []
    const s = await server(
      {
        serverInfo: { name: 'swagger-bridge', version: '2.3.4', title: 'Swagger Bridge' },
        instructions: 'Use the tools.',
        tools: [{ name: 't', inputSchema: OBJ }],
        resources: [{ uri: 'mem://a', name: 'a' }],
        prompts: [{ name: 'p' }],
        callTool: async () => TEXT('x'),
        readResource: async (uri) => ({ contents: [{ uri, text: 'x' }] }),
        getPrompt: async () => ({ messages: [] }),
        complete: async () => ({ completion: { values: [] } }),
      },
      { onConnectionEstablished: (info) => established.push(info) },
    )
    expect(s.url).toBe(`http://127.0.0.1:${s.port}/mcp`)
    const { client: c, transport } = await client(s.url, { name: 'jest-client' })

    expect(c.getServerVersion()).toEqual({ name: 'swagger-bridge', version: '2.3.4', title: 'Swagger Bridge' })
    expect(c.getInstructions()).toBe('Use the tools.')
    expect(transport.protocolVersion).toBe(LATEST_PROTOCOL_VERSION)
    expect(LATEST_PROTOCOL_VERSION).toBe('2025-11-25')
    const caps = c.getServerCapabilities()
    expect(caps.tools).toBeDefined()
    expect(caps.resources).toBeDefined()
    expect(caps.resources.subscribe).toBe(true)
    expect(caps.prompts).toBeDefined()
    expect(caps.completions).toBeDefined()
    expect(caps.logging).toBeDefined()

    // The session is tracked under the id the client got.
    expect(typeof transport.sessionId).toBe('string')
    const info = s.getConnectionInfo(transport.sessionId)
    expect(info).toMatchObject({ sessionId: transport.sessionId, era: 'legacy', clientName: 'jest-client', protocolVersion: '2025-11-25' })
    expect(established.map((i) => i.sessionId)).toEqual([transport.sessionId])
    expect(s.getActiveConnections()).toBe(1)
  })

  test('a server without resources, prompts or completions does not advertise them', async () => {
    const s = await server({ tools: [{ name: 't', inputSchema: OBJ }], callTool: async () => TEXT('x') })
    const { client: c } = await client(s.url)
    const caps = c.getServerCapabilities()
    expect(caps.tools).toBeDefined()
    expect(caps.resources).toBeUndefined()
    expect(caps.prompts).toBeUndefined()
    expect(caps.completions).toBeUndefined()
  })
})

describe('tools', () => {
  test('tools/list returns the definitions verbatim and tools/call reaches callTool with a full context', async () => {
    const tools = [
      {
        name: 'echo',
        title: 'Echo',
        description: 'Echoes its arguments',
        inputSchema: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] },
        outputSchema: { type: 'object', properties: { echoed: { type: 'string' } } },
        annotations: { readOnlyHint: true },
        _meta: { 'example.com/x': 1 },
      },
      { name: 'second', inputSchema: OBJ },
    ]
    const seen = []
    const s = await server({
      tools,
      callTool: async (call, ctx) => {
        seen.push({ call, ctx })
        return { content: [{ type: 'text', text: call.arguments.text }], structuredContent: { echoed: call.arguments.text } }
      },
    })
    const { client: c, transport } = await client(s.url, { name: 'tool-client', capabilities: { sampling: {} } })
    const listed = await c.listTools()
    expect(listed.tools).toEqual(tools)
    expect(listed.nextCursor).toBeUndefined()

    const r = await c.callTool({ name: 'echo', arguments: { text: 'héllo' } })
    expect(r).toEqual({ content: [{ type: 'text', text: 'héllo' }], structuredContent: { echoed: 'héllo' } })
    expect(seen).toHaveLength(1)
    const { call, ctx } = seen[0]
    expect(call).toEqual({ name: 'echo', arguments: { text: 'héllo' } })
    expect(ctx.sessionId).toBe(transport.sessionId)
    expect(ctx.era).toBe('legacy')
    expect(ctx.protocolVersion).toBe('2025-11-25')
    expect(ctx.clientInfo).toEqual({ name: 'tool-client', version: '0.0.1' })
    expect(ctx.clientCapabilities).toEqual(expect.objectContaining({ sampling: {} }))
    expect(['string', 'number']).toContain(typeof ctx.requestId)
    expect(ctx.signal.aborted).toBe(false)
  })

  test('a call without arguments gives the callback an empty object', async () => {
    let args
    const s = await server({
      tools: [{ name: 'noargs', inputSchema: OBJ }],
      callTool: async (call) => {
        args = call.arguments
        return TEXT('ok')
      },
    })
    const { client: c } = await client(s.url)
    await c.callTool({ name: 'noargs' })
    expect(args).toEqual({})
  })

  test('an unknown tool is JSON-RPC error -32602 and never reaches callTool', async () => {
    let calls = 0
    const s = await server({
      tools: [{ name: 'known', inputSchema: OBJ }],
      callTool: async () => {
        calls++
        return TEXT('x')
      },
    })
    const { client: c } = await client(s.url)
    const e = await rpcError(c.callTool({ name: 'nope', arguments: {} }))
    expect(e).toBeInstanceOf(McpError)
    expect(e.code).toBe(ErrorCode.InvalidParams)
    expect(e.code).toBe(-32602)
    expect(e.message).toMatch(/nope/)
    expect(calls).toBe(0)
    // Still serving.
    expect(await c.callTool({ name: 'known', arguments: {} })).toEqual(TEXT('x'))
  })
})

describe('callback failures', () => {
  const failing = {
    tools: [
      { name: 'throws', inputSchema: OBJ },
      { name: 'rejects', inputSchema: OBJ },
      { name: 'number', inputSchema: OBJ },
      { name: 'null', inputSchema: OBJ },
      { name: 'array', inputSchema: OBJ },
      { name: 'bigint', inputSchema: OBJ },
      { name: 'circular', inputSchema: OBJ },
      { name: 'ok', inputSchema: OBJ },
    ],
    callTool: (call) => {
      switch (call.name) {
        case 'throws':
          throw new Error('sync boom')
        case 'rejects':
          return Promise.reject(new Error('async boom'))
        case 'number':
          return Promise.resolve(42)
        case 'null':
          return Promise.resolve(null)
        case 'array':
          return Promise.resolve([TEXT('x')])
        case 'bigint':
          return Promise.resolve({ content: [{ type: 'text', text: 'n' }], structuredContent: { n: 10n } })
        case 'circular': {
          const o = { content: [] }
          o.self = o
          return Promise.resolve(o)
        }
        default:
          return Promise.resolve(TEXT('still serving'))
      }
    },
  }

  test('a callTool that throws or rejects gives an isError result with the message, and the server keeps serving', async () => {
    const s = await server(failing)
    const { client: c } = await client(s.url)
    expect(await c.callTool({ name: 'throws', arguments: {} })).toEqual({
      content: [{ type: 'text', text: 'sync boom' }],
      isError: true,
    })
    expect(await c.callTool({ name: 'rejects', arguments: {} })).toEqual({
      content: [{ type: 'text', text: 'async boom' }],
      isError: true,
    })
    expect(await c.callTool({ name: 'ok', arguments: {} })).toEqual(TEXT('still serving'))
  })

  test.each(['number', 'null', 'array', 'bigint', 'circular'])(
    'a callTool whose result is not a serializable object (%s) gives JSON-RPC error -32603',
    async (name) => {
      const s = await server(failing)
      const { client: c } = await client(s.url)
      const e = await rpcError(c.callTool({ name, arguments: {} }))
      expect(e).toBeInstanceOf(McpError)
      expect(e.code).toBe(ErrorCode.InternalError)
      expect(await c.callTool({ name: 'ok', arguments: {} })).toEqual(TEXT('still serving'))
    },
  )

  test('a callback past callbackTimeoutMs gives a JSON-RPC error, its late answer is dropped, and the server keeps serving', async () => {
    const release = deferred()
    const started = deferred()
    let lateSettled = false
    const s = await server({
      callbackTimeoutMs: 200,
      tools: [
        { name: 'hang', inputSchema: OBJ },
        { name: 'ok', inputSchema: OBJ },
      ],
      prompts: [{ name: 'hang' }],
      getPrompt: () => new Promise(() => {}),
      callTool: async (call) => {
        if (call.name === 'ok') return TEXT('fine')
        started.resolve()
        await release.promise
        lateSettled = true
        return TEXT('late answer')
      },
    })
    const { client: c, errors } = await client(s.url)
    const e = await rpcError(c.callTool({ name: 'hang', arguments: {} }))
    expect(e).toBeInstanceOf(McpError)
    expect(e.code).toBe(-32001)
    expect(e.message).toMatch(/timed out/i)
    await started.promise

    // The callback answers after the deadline: nothing reaches the client for it.
    release.resolve()
    await waitFor(() => lateSettled, 'the late callback to settle')
    expect(await c.callTool({ name: 'ok', arguments: {} })).toEqual(TEXT('fine'))
    expect(await c.ping()).toEqual({})
    expect(errors).toEqual([])

    // Other callbacks are bounded too.
    const pe = await rpcError(c.getPrompt({ name: 'hang' }))
    expect(pe.code).toBe(-32001)
  })

  test('getPrompt, readResource and complete that throw give JSON-RPC error -32603 with the message', async () => {
    const s = await server({
      prompts: [{ name: 'p' }],
      resources: [{ uri: 'mem://r', name: 'r' }],
      getPrompt: () => {
        throw new Error('prompt boom')
      },
      readResource: async () => {
        throw new Error('read boom')
      },
      complete: async () => {
        throw new Error('complete boom')
      },
    })
    const { client: c } = await client(s.url)
    const e1 = await rpcError(c.getPrompt({ name: 'p' }))
    expect(e1.code).toBe(-32603)
    expect(e1.message).toMatch(/prompt boom/)
    const e2 = await rpcError(c.readResource({ uri: 'mem://r' }))
    expect(e2.code).toBe(-32603)
    expect(e2.message).toMatch(/read boom/)
    const e3 = await rpcError(c.complete({ ref: { type: 'ref/prompt', name: 'p' }, argument: { name: 'a', value: '' } }))
    expect(e3.code).toBe(-32603)
    expect(e3.message).toMatch(/complete boom/)
    expect(await c.ping()).toEqual({})
  })
})

describe('progress and logging', () => {
  test('ctx.sendProgress reaches onprogress and ctx.log reaches notifications/message, before the result', async () => {
    const s = await server({
      tools: [{ name: 'work', inputSchema: OBJ }],
      callTool: async (call, ctx) => {
        ctx.log('info', { step: 'start' }, 'worker')
        for (let i = 1; i <= 3; i++) ctx.sendProgress(i, 3, `step ${i}`)
        ctx.log('warning', 'almost done')
        return TEXT('done')
      },
    })
    const order = []
    const logs = []
    const { client: c } = await client(s.url, {
      setup: (cl) =>
        cl.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
          logs.push(n.params)
          order.push('log')
        }),
    })
    const progress = []
    const r = await c.callTool({ name: 'work', arguments: {} }, undefined, {
      onprogress: (p) => {
        progress.push(p)
        order.push('progress')
      },
    })
    order.push('result')
    expect(r).toEqual(TEXT('done'))
    expect(progress).toEqual([
      { progress: 1, total: 3, message: 'step 1' },
      { progress: 2, total: 3, message: 'step 2' },
      { progress: 3, total: 3, message: 'step 3' },
    ])
    expect(logs).toEqual([
      { level: 'info', data: { step: 'start' }, logger: 'worker' },
      { level: 'warning', data: 'almost done' },
    ])
    expect(order).toEqual(['log', 'progress', 'progress', 'progress', 'log', 'result'])
  })

  test('without a progressToken, sendProgress sends nothing and the call still succeeds', async () => {
    const s = await server({
      tools: [{ name: 'work', inputSchema: OBJ }],
      callTool: async (call, ctx) => {
        ctx.sendProgress(1, 2)
        return TEXT('done')
      },
    })
    const { client: c, errors } = await client(s.url)
    expect(await c.callTool({ name: 'work', arguments: {} })).toEqual(TEXT('done'))
    expect(errors).toEqual([])
  })

  test('logging/setLevel filters ctx.log below the chosen level', async () => {
    const levels = ['debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency']
    const s = await server({
      tools: [{ name: 'logall', inputSchema: OBJ }],
      callTool: async (call, ctx) => {
        for (const l of levels) ctx.log(l, l)
        return TEXT('logged')
      },
    })
    const logs = []
    const { client: c } = await client(s.url, {
      setup: (cl) => cl.setNotificationHandler(LoggingMessageNotificationSchema, (n) => logs.push(n.params.level)),
    })
    await c.callTool({ name: 'logall', arguments: {} })
    expect(logs).toEqual(levels)

    logs.length = 0
    await c.setLoggingLevel('error')
    await c.callTool({ name: 'logall', arguments: {} })
    expect(logs).toEqual(['error', 'critical', 'alert', 'emergency'])

    logs.length = 0
    await c.setLoggingLevel('debug')
    await c.callTool({ name: 'logall', arguments: {} })
    expect(logs).toEqual(levels)

    const e = await rpcError(c.request({ method: 'logging/setLevel', params: { level: 'verbose' } }, EmptyResultSchema))
    expect(e.code).toBe(-32602)
  })
})

describe('server → client requests', () => {
  test('ctx.request sampling/createMessage is answered by the client and the answer reaches the tool', async () => {
    const s = await server({
      tools: [{ name: 'ask', inputSchema: OBJ }],
      callTool: async (call, ctx) => {
        const answer = await ctx.request('sampling/createMessage', {
          messages: [{ role: 'user', content: { type: 'text', text: call.arguments.prompt } }],
          maxTokens: 50,
        })
        return TEXT(`model ${answer.model} said: ${answer.content.text}`)
      },
    })
    const asked = []
    const { client: c } = await client(s.url, {
      capabilities: { sampling: {} },
      setup: (cl) =>
        cl.setRequestHandler(CreateMessageRequestSchema, async (req) => {
          asked.push(req.params)
          return { model: 'test-model', role: 'assistant', content: { type: 'text', text: 'forty-two' } }
        }),
    })
    const r = await c.callTool({ name: 'ask', arguments: { prompt: 'the answer?' } })
    expect(r).toEqual(TEXT('model test-model said: forty-two'))
    expect(asked).toEqual([{ messages: [{ role: 'user', content: { type: 'text', text: 'the answer?' } }], maxTokens: 50 }])
  })

  test('ctx.request elicitation/create is answered by the client', async () => {
    const s = await server({
      tools: [{ name: 'form', inputSchema: OBJ }],
      callTool: async (call, ctx) => {
        const answer = await ctx.request('elicitation/create', {
          mode: 'form',
          message: 'Your name?',
          requestedSchema: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] },
        })
        return TEXT(`${answer.action}:${answer.content.name}`)
      },
    })
    const { client: c } = await client(s.url, {
      capabilities: { elicitation: { form: {} } },
      setup: (cl) => cl.setRequestHandler(ElicitRequestSchema, async (req) => ({ action: 'accept', content: { name: `Ada (${req.params.message})` } })),
    })
    const r = await c.callTool({ name: 'form', arguments: {} })
    expect(r).toEqual(TEXT('accept:Ada (Your name?)'))
  })

  test('a client error answer rejects ctx.request with its code and message', async () => {
    const s = await server({
      tools: [{ name: 'ask', inputSchema: OBJ }],
      callTool: async (call, ctx) => {
        try {
          await ctx.request('sampling/createMessage', { messages: [], maxTokens: 1 })
          return TEXT('unexpected success')
        } catch (e) {
          return TEXT(`rejected ${e.code} ${e.message}`)
        }
      },
    })
    const { client: c } = await client(s.url, {
      capabilities: { sampling: {} },
      setup: (cl) =>
        cl.setRequestHandler(CreateMessageRequestSchema, async () => {
          throw new McpError(-32042, 'user declined sampling')
        }),
    })
    const r = await c.callTool({ name: 'ask', arguments: {} })
    expect(r.content[0].text).toMatch(/^rejected -32042 .*user declined sampling/)
  })
})

describe('cancellation', () => {
  test('aborting a call on the client aborts ctx.signal in the tool; the server keeps serving', async () => {
    const started = deferred()
    const sawAbort = deferred()
    const s = await server({
      tools: [
        { name: 'slow', inputSchema: OBJ },
        { name: 'ok', inputSchema: OBJ },
      ],
      callTool: async (call, ctx) => {
        if (call.name === 'ok') return TEXT('fine')
        ctx.signal.addEventListener('abort', () => sawAbort.resolve({ aborted: ctx.signal.aborted, reason: ctx.signal.reason }))
        started.resolve()
        await sawAbort.promise
        return TEXT('finished after abort')
      },
    })
    const { client: c, errors } = await client(s.url)
    const ac = new AbortController()
    const call = c.callTool({ name: 'slow', arguments: {} }, undefined, { signal: ac.signal })
    await started.promise
    ac.abort('user pressed stop')
    await expect(call).rejects.toThrow()
    const seen = await sawAbort.promise
    expect(seen.aborted).toBe(true)
    expect(seen.reason).toBeInstanceOf(Error)
    expect(seen.reason.name).toBe('AbortError')
    expect(seen.reason.message).toMatch(/user pressed stop/)
    expect(await c.callTool({ name: 'ok', arguments: {} })).toEqual(TEXT('fine'))
    expect(errors).toEqual([])
  })

  test('ending the session (DELETE) aborts ctx.signal of calls in flight', async () => {
    const started = deferred()
    const sawAbort = deferred()
    const s = await server({
      tools: [{ name: 'slow', inputSchema: OBJ }],
      callTool: async (call, ctx) => {
        ctx.signal.addEventListener('abort', () => sawAbort.resolve(true))
        started.resolve()
        await sawAbort.promise
        return TEXT('x')
      },
    })
    const { client: c, transport } = await client(s.url)
    const call = c.callTool({ name: 'slow', arguments: {} }).catch((e) => e)
    await started.promise
    await transport.terminateSession()
    expect(await sawAbort.promise).toBe(true)
    await c.close()
    await call
  })
})

describe('resumability', () => {
  test('a stream closed by ctx.closeStream is resumed with GET + Last-Event-ID and nothing is lost', async () => {
    const resumed = deferred()
    const s = await server({
      tools: [{ name: 'reconnect', inputSchema: OBJ }],
      callTool: async (call, ctx) => {
        ctx.sendProgress(1, 5, 'before close')
        ctx.log('info', 'before close')
        ctx.closeStream()
        // Sent while the client is away: stored and replayed.
        ctx.sendProgress(2, 5, 'while away')
        ctx.log('info', 'while away')
        ctx.sendProgress(3, 5, 'while away')
        // Sent after the client came back: delivered live on the resumed stream.
        await resumed.promise
        ctx.sendProgress(4, 5, 'after resume')
        ctx.log('info', 'after resume')
        ctx.sendProgress(5, 5, 'after resume')
        return TEXT('result after resume')
      },
    })
    const logs = []
    const { client: c, rec, errors } = await client(s.url, {
      setup: (cl) => cl.setNotificationHandler(LoggingMessageNotificationSchema, (n) => logs.push(n.params.data)),
    })
    rec
      .until((x) => x.method === 'GET' && x.headers.get('last-event-id') && x.status === 200, 'the resuming GET')
      .then(resumed.resolve, resumed.reject)
    const progress = []
    const r = await c.callTool({ name: 'reconnect', arguments: {} }, undefined, {
      onprogress: (p) => progress.push(p.progress),
      // The SDK's default request timeout is 60 s; resumption takes the server's retry (1 s).
    })
    expect(r).toEqual(TEXT('result after resume'))
    expect(progress).toEqual([1, 2, 3, 4, 5])
    expect(logs).toEqual(['before close', 'while away', 'after resume'])
    const resumes = rec.calls.filter((x) => x.method === 'GET' && x.headers.get('last-event-id'))
    expect(resumes.length).toBeGreaterThanOrEqual(1)
    expect(resumes[0].status).toBe(200)
    expect(errors.filter((e) => !/SSE stream disconnected/.test(String(e)))).toEqual([])
  })

  test('a result produced while the client is away is replayed on resumption', async () => {
    const s = await server({
      tools: [{ name: 'reconnect', inputSchema: OBJ }],
      callTool: async (call, ctx) => {
        ctx.sendProgress(1)
        ctx.closeStream()
        ctx.sendProgress(2)
        return TEXT('finished while away')
      },
    })
    const { client: c, rec } = await client(s.url)
    const progress = []
    const r = await c.callTool({ name: 'reconnect', arguments: {} }, undefined, { onprogress: (p) => progress.push(p.progress) })
    expect(r).toEqual(TEXT('finished while away'))
    expect(progress).toEqual([1, 2])
    expect(rec.calls.some((x) => x.method === 'GET' && x.headers.get('last-event-id'))).toBe(true)
  })

  test('a POST stream broken by the network mid-call is resumed with Last-Event-ID and nothing is lost', async () => {
    const dropped = deferred()
    const resumed = deferred()
    const s = await server({
      tools: [{ name: 'long', inputSchema: OBJ }],
      callTool: async (call, ctx) => {
        ctx.sendProgress(1, 4)
        await dropped.promise
        // The connection is gone; these must be kept for the client.
        ctx.sendProgress(2, 4)
        ctx.log('info', 'during the outage')
        ctx.sendProgress(3, 4)
        await resumed.promise
        ctx.sendProgress(4, 4)
        return TEXT('complete')
      },
    })
    let broke = false
    const logs = []
    const { client: c, rec } = await client(s.url, {
      setup: (cl) => cl.setNotificationHandler(LoggingMessageNotificationSchema, (n) => logs.push(n.params.data)),
      onResponse: (res, entry) => {
        const sse = (res.headers.get('content-type') || '').startsWith('text/event-stream')
        if (broke || entry.method !== 'POST' || !sse) return undefined
        broke = true
        return breakingSse(res, (text) => text.includes('"progress":1'), () => dropped.resolve())
      },
    })
    rec
      .until((x) => x.method === 'GET' && x.headers.get('last-event-id') && x.status === 200, 'the resuming GET')
      .then(resumed.resolve, resumed.reject)
    const progress = []
    const r = await c.callTool({ name: 'long', arguments: {} }, undefined, { onprogress: (p) => progress.push(p.progress) })
    expect(broke).toBe(true)
    expect(r).toEqual(TEXT('complete'))
    expect(progress).toEqual([1, 2, 3, 4])
    expect(logs).toEqual(['during the outage'])
  })

  test('a 2025-11-25 POST stream starts with a priming event carrying an id and retry', async () => {
    // A callback that sends a notification before its answer gets a stream; one that only
    // answers gets one JSON object (the spec lets the server choose; JSON is cheaper).
    const s = await server({
      tools: [{ name: 't', inputSchema: OBJ }, { name: 'quiet', inputSchema: OBJ }, { name: 'slow', inputSchema: OBJ }],
      callTool: async ({ name }, ctx) => {
        if (name === 't') ctx.sendProgress(1, 1, 'working')
        if (name === 'slow') {
          await new Promise((r) => setTimeout(r, 300))
          return TEXT('slept')
        }
        return TEXT('x')
      },
    })
    const init = await post(s.url, {
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '0' } },
    })
    const session = init.headers.get('mcp-session-id')
    const quiet = await post(s.url, { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'quiet', arguments: {} } }, { session, version: '2025-11-25' })
    expect(quiet.status).toBe(200)
    expect(quiet.headers.get('content-type')).toMatch(/^application\/json/)
    expect(quiet.json).toEqual({ jsonrpc: '2.0', id: 3, result: TEXT('x') })
    // A slow one gets its resumable stream (priming event) without waiting for the answer.
    const slow = await post(s.url, { jsonrpc: '2.0', id: 4, method: 'tools/call', params: { name: 'slow', arguments: {} } }, { session, version: '2025-11-25' })
    expect(slow.headers.get('content-type')).toMatch(/^text\/event-stream/)
    expect(slow.events[0].retry).toMatch(/^\d+$/)
    expect(slow.events[0].data).toBe('')
    expect(slow.json).toEqual({ jsonrpc: '2.0', id: 4, result: TEXT('slept') })
    const r = await post(s.url, { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 't', arguments: {}, _meta: { progressToken: 'p' } } }, { session, version: '2025-11-25' })
    expect(r.status).toBe(200)
    expect(r.headers.get('content-type')).toMatch(/^text\/event-stream/)
    expect(r.events[0].id).toBeTruthy()
    expect(r.events[0].retry).toMatch(/^\d+$/)
    expect(r.events[0].data).toBe('')
    expect(r.json).toEqual({ jsonrpc: '2.0', id: 2, result: TEXT('x') })
    // Every later event has its own id, so a client can resume after any of them.
    const ids = r.events.map((e) => e.id)
    expect(ids.every(Boolean)).toBe(true)
    expect(new Set(ids).size).toBe(ids.length)
  })
})

describe('sessions', () => {
  test('DELETE ends the session; any later request with its id gets 404', async () => {
    const closed = []
    const s = await server(
      { tools: [{ name: 't', inputSchema: OBJ }], callTool: async () => TEXT('x') },
      { onConnectionClosed: (id) => closed.push(id) },
    )
    const { client: c, transport } = await client(s.url)
    const sid = transport.sessionId
    expect(s.getConnectionInfo(sid)).not.toBeNull()
    await transport.terminateSession()
    expect(transport.sessionId).toBeUndefined()
    expect(s.getConnectionInfo(sid)).toBeNull()
    // The monitor callback runs on the JS thread after the DELETE response.
    await waitFor(() => closed.length > 0, 'onConnectionClosed')
    expect(closed).toEqual([sid])
    await c.close()

    const headers = { 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' }
    const p = await post(s.url, { jsonrpc: '2.0', id: 1, method: 'tools/list' }, { session: sid, version: '2025-11-25' })
    expect(p.status).toBe(404)
    expect(p.json.error.code).toBe(-32001)
    const g = await fetch(s.url, { headers: { ...headers, accept: 'text/event-stream' } })
    expect(g.status).toBe(404)
    await g.body?.cancel()
    const d = await fetch(s.url, { method: 'DELETE', headers })
    expect(d.status).toBe(404)
    await d.body?.cancel()
  })

  test('two concurrent sessions are isolated: progress, logs, log level and results stay in their session', async () => {
    const bothStarted = deferred()
    let started = 0
    const s = await server({
      tools: [{ name: 'slow', inputSchema: OBJ }],
      callTool: async (call, ctx) => {
        const tag = call.arguments.tag
        if (++started === 2) bothStarted.resolve()
        // Both calls are in flight at once before either sends anything.
        await bothStarted.promise
        for (let i = 1; i <= 3; i++) {
          ctx.sendProgress(i, 3, `${tag}-${i}`)
          ctx.log('info', `${tag}-log-${i}`)
          await new Promise((r) => setImmediate(r))
        }
        return TEXT(`${tag}@${ctx.sessionId}`)
      },
    })
    const logsA = []
    const logsB = []
    const a = await client(s.url, {
      name: 'A',
      setup: (cl) => cl.setNotificationHandler(LoggingMessageNotificationSchema, (n) => logsA.push(n.params.data)),
    })
    const b = await client(s.url, {
      name: 'B',
      setup: (cl) => cl.setNotificationHandler(LoggingMessageNotificationSchema, (n) => logsB.push(n.params.data)),
    })
    expect(a.transport.sessionId).not.toBe(b.transport.sessionId)
    // Session B only wants errors; A keeps the default.
    await b.client.setLoggingLevel('error')

    const progA = []
    const progB = []
    const [ra, rb] = await Promise.all([
      a.client.callTool({ name: 'slow', arguments: { tag: 'A' } }, undefined, { onprogress: (p) => progA.push(p.message) }),
      b.client.callTool({ name: 'slow', arguments: { tag: 'B' } }, undefined, { onprogress: (p) => progB.push(p.message) }),
    ])
    expect(ra).toEqual(TEXT(`A@${a.transport.sessionId}`))
    expect(rb).toEqual(TEXT(`B@${b.transport.sessionId}`))
    expect(progA).toEqual(['A-1', 'A-2', 'A-3'])
    expect(progB).toEqual(['B-1', 'B-2', 'B-3'])
    expect(logsA).toEqual(['A-log-1', 'A-log-2', 'A-log-3'])
    expect(logsB).toEqual([])
    expect(s.getActiveConnections()).toBe(2)

    // Ending one leaves the other working.
    await a.transport.terminateSession()
    expect(s.getActiveConnections()).toBe(1)
    started = 1 // the next call runs alone
    const rb2 = await b.client.callTool({ name: 'slow', arguments: { tag: 'B' } })
    expect(rb2).toEqual(TEXT(`B@${b.transport.sessionId}`))
  })

  test('cancelling a request in one session does not touch the same request id in another', async () => {
    const starts = { A: deferred(), B: deferred() }
    const finishB = deferred()
    const seen = {}
    const s = await server({
      tools: [{ name: 'slow', inputSchema: OBJ }],
      callTool: async (call, ctx) => {
        const tag = call.arguments.tag
        seen[tag] = ctx
        starts[tag].resolve()
        if (tag === 'A') {
          await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve))
          return TEXT('A aborted')
        }
        await finishB.promise
        return TEXT(`B aborted=${ctx.signal.aborted}`)
      },
    })
    const a = await client(s.url, { name: 'A' })
    const b = await client(s.url, { name: 'B' })
    const ac = new AbortController()
    const callA = a.client.callTool({ name: 'slow', arguments: { tag: 'A' } }, undefined, { signal: ac.signal })
    const callB = b.client.callTool({ name: 'slow', arguments: { tag: 'B' } })
    await Promise.all([starts.A.promise, starts.B.promise])
    // Both clients number their requests the same way: the ids collide across sessions.
    expect(seen.A.requestId).toEqual(seen.B.requestId)
    ac.abort('stop A')
    await expect(callA).rejects.toThrow()
    await waitFor(() => seen.A.signal.aborted, 'A to see its abort')
    expect(seen.B.signal.aborted).toBe(false)
    finishB.resolve()
    expect(await callB).toEqual(TEXT('B aborted=false'))
  })

  test('a session id is usable only for its own session (another session id is not found)', async () => {
    const s = await server({ tools: [{ name: 't', inputSchema: OBJ }], callTool: async (c, ctx) => TEXT(ctx.sessionId) })
    const a = await client(s.url)
    const b = await client(s.url)
    expect(await a.client.callTool({ name: 't', arguments: {} })).toEqual(TEXT(a.transport.sessionId))
    expect(await b.client.callTool({ name: 't', arguments: {} })).toEqual(TEXT(b.transport.sessionId))
    const forged = `${a.transport.sessionId}x`
    const r = await post(s.url, { jsonrpc: '2.0', id: 1, method: 'tools/list' }, { session: forged, version: '2025-11-25' })
    expect(r.status).toBe(404)
  })

  test('server.close() closes every open session and reports each', async () => {
    const closed = []
    const s = await startServer({ tools: [{ name: 't', inputSchema: OBJ }], callTool: async () => TEXT('x') }, { onConnectionClosed: (id) => closed.push(id) })
    const a = await connectClient(s.url)
    const b = await connectClient(s.url)
    try {
      await s.close()
      expect(closed.sort()).toEqual([a.transport.sessionId, b.transport.sessionId].sort())
      expect(s.getActiveConnections()).toBe(0)
    } finally {
      await a.client.close()
      await b.client.close()
      await s.close()
    }
  })
})

describe('resources, prompts, completions', () => {
  test('readResource results reach the client; an error with code -32002 gives -32002 with data.uri', async () => {
    const s = await server({
      resources: [{ uri: 'mem://notes/1', name: 'note', mimeType: 'text/plain' }],
      resourceTemplates: [{ uriTemplate: 'mem://notes/{id}', name: 'notes' }],
      readResource: async (uri) => {
        if (uri === 'mem://notes/1') return { contents: [{ uri, mimeType: 'text/plain', text: 'first note' }] }
        const e = new Error(`Resource not found: ${uri}`)
        e.code = -32002
        throw e
      },
    })
    const { client: c } = await client(s.url)
    expect((await c.listResources()).resources).toEqual([{ uri: 'mem://notes/1', name: 'note', mimeType: 'text/plain' }])
    expect((await c.listResourceTemplates()).resourceTemplates).toEqual([{ uriTemplate: 'mem://notes/{id}', name: 'notes' }])
    expect(await c.readResource({ uri: 'mem://notes/1' })).toEqual({
      contents: [{ uri: 'mem://notes/1', mimeType: 'text/plain', text: 'first note' }],
    })
    const e = await rpcError(c.readResource({ uri: 'mem://notes/404' }))
    expect(e.code).toBe(-32002)
    expect(e.data).toEqual({ uri: 'mem://notes/404' })
    expect(e.message).toMatch(/mem:\/\/notes\/404/)
  })

  test('prompts/get and completion/complete are answered by their callbacks', async () => {
    const prompts = [{ name: 'greet', description: 'Greets', arguments: [{ name: 'who', required: true }] }]
    const seen = {}
    const s = await server({
      prompts,
      getPrompt: async (name, args, ctx) => {
        seen.prompt = { name, args, era: ctx.era }
        return { description: 'greeting', messages: [{ role: 'user', content: { type: 'text', text: `Hello ${args.who}` } }] }
      },
      complete: async (ref, argument) => {
        seen.complete = { ref, argument }
        const all = ['alice', 'alfred', 'bob']
        const values = all.filter((v) => v.startsWith(argument.value))
        return { completion: { values, total: values.length, hasMore: false } }
      },
    })
    const { client: c } = await client(s.url)
    expect((await c.listPrompts()).prompts).toEqual(prompts)
    expect(await c.getPrompt({ name: 'greet', arguments: { who: 'Ada' } })).toEqual({
      description: 'greeting',
      messages: [{ role: 'user', content: { type: 'text', text: 'Hello Ada' } }],
    })
    expect(seen.prompt).toEqual({ name: 'greet', args: { who: 'Ada' }, era: 'legacy' })
    const comp = await c.complete({ ref: { type: 'ref/prompt', name: 'greet' }, argument: { name: 'who', value: 'al' } })
    expect(comp).toEqual({ completion: { values: ['alice', 'alfred'], total: 2, hasMore: false } })
    expect(seen.complete).toEqual({ ref: { type: 'ref/prompt', name: 'greet' }, argument: { name: 'who', value: 'al' } })
    const e = await rpcError(c.getPrompt({ name: 'missing' }))
    expect(e.code).toBe(-32602)
  })

  test('notifyResourceUpdated reaches only the sessions subscribed to that uri', async () => {
    const s = await server({
      resources: [
        { uri: 'mem://x', name: 'x' },
        { uri: 'mem://y', name: 'y' },
        { uri: 'mem://z', name: 'z' },
      ],
      readResource: async (uri) => ({ contents: [{ uri, text: uri }] }),
    })
    const gotA = []
    const gotB = []
    const a = await client(s.url, { setup: (cl) => cl.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => gotA.push(n.params.uri)) })
    const b = await client(s.url, { setup: (cl) => cl.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => gotB.push(n.params.uri)) })
    await Promise.all([a.rec.getStreamOpen(), b.rec.getStreamOpen()])
    await a.client.subscribeResource({ uri: 'mem://x' })
    await a.client.subscribeResource({ uri: 'mem://z' })
    await b.client.subscribeResource({ uri: 'mem://y' })
    await b.client.subscribeResource({ uri: 'mem://z' })

    // z is the sentinel both wait for: each stream is ordered, so anything meant for a session
    // before z has arrived by the time z does.
    s.notifyResourceUpdated('mem://x')
    s.notifyResourceUpdated('mem://y')
    s.notifyResourceUpdated('mem://z')
    await waitFor(() => gotA.includes('mem://z') && gotB.includes('mem://z'), 'the sentinel update')
    expect(gotA).toEqual(['mem://x', 'mem://z'])
    expect(gotB).toEqual(['mem://y', 'mem://z'])

    // After unsubscribing, x no longer reaches A.
    gotA.length = 0
    gotB.length = 0
    await a.client.unsubscribeResource({ uri: 'mem://x' })
    s.notifyResourceUpdated('mem://x')
    s.notifyResourceUpdated('mem://z')
    await waitFor(() => gotA.includes('mem://z') && gotB.includes('mem://z'), 'the second sentinel')
    expect(gotA).toEqual(['mem://z'])
    expect(gotB).toEqual(['mem://z'])
  })
})

describe('enableJsonResponse', () => {
  test('POSTs are answered with application/json and the SDK client works over it', async () => {
    const s = await server({
      enableJsonResponse: true,
      tools: [{ name: 'echo', inputSchema: OBJ }],
      callTool: async (call) => TEXT(JSON.stringify(call.arguments)),
    })
    const { client: c, rec } = await client(s.url)
    expect(await c.callTool({ name: 'echo', arguments: { a: 1 } })).toEqual(TEXT('{"a":1}'))
    const callPost = rec.calls.filter((x) => x.method === 'POST').pop()
    expect(callPost.status).toBe(200)
    const init = await post(s.url, {
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '0' } },
    })
    const session = init.headers.get('mcp-session-id')
    const r = await post(s.url, { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'echo', arguments: { b: 2 } } }, { session, version: '2025-11-25' })
    expect(r.status).toBe(200)
    expect(r.headers.get('content-type')).toMatch(/^application\/json/)
    expect(r.json).toEqual({ jsonrpc: '2.0', id: 2, result: TEXT('{"b":2}') })
  })
})

describe('list changes', () => {
  test('setTools sends notifications/tools/list_changed on the GET stream and the new list is served', async () => {
    const s = await server({
      tools: [{ name: 'old', inputSchema: OBJ }],
      callTool: async (call) => TEXT(`called ${call.name}`),
    })
    const changed = deferred()
    let count = 0
    const { client: c, rec } = await client(s.url, {
      setup: (cl) =>
        cl.setNotificationHandler(ToolListChangedNotificationSchema, () => {
          count++
          changed.resolve()
        }),
    })
    expect(c.getServerCapabilities().tools.listChanged).toBe(true)
    await rec.getStreamOpen()
    s.setTools([{ name: 'new', description: 'replacement', inputSchema: OBJ }])
    await changed.promise
    expect(count).toBe(1)
    expect((await c.listTools()).tools).toEqual([{ name: 'new', description: 'replacement', inputSchema: OBJ }])
    expect(await c.callTool({ name: 'new', arguments: {} })).toEqual(TEXT('called new'))
    const e = await rpcError(c.callTool({ name: 'old', arguments: {} }))
    expect(e.code).toBe(-32602)
  })

  test('setPrompts and setResources send their list_changed notifications', async () => {
    const s = await server({
      prompts: [{ name: 'p1' }],
      resources: [{ uri: 'mem://1', name: 'one' }],
      getPrompt: async () => ({ messages: [] }),
      readResource: async (uri) => ({ contents: [{ uri, text: '' }] }),
    })
    const prompts = deferred()
    const resources = deferred()
    const { client: c, rec } = await client(s.url, {
      setup: (cl) => {
        cl.setNotificationHandler(PromptListChangedNotificationSchema, () => prompts.resolve())
        cl.setNotificationHandler(ResourceListChangedNotificationSchema, () => resources.resolve())
      },
    })
    await rec.getStreamOpen()
    s.setPrompts([{ name: 'p2' }])
    await prompts.promise
    expect((await c.listPrompts()).prompts).toEqual([{ name: 'p2' }])
    s.setResources([{ uri: 'mem://2', name: 'two' }], [{ uriTemplate: 'mem://{n}', name: 'n' }])
    await resources.promise
    expect((await c.listResources()).resources).toEqual([{ uri: 'mem://2', name: 'two' }])
    expect((await c.listResourceTemplates()).resourceTemplates).toEqual([{ uriTemplate: 'mem://{n}', name: 'n' }])
  })
})
