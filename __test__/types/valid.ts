// Compiled by scripts/types.sh with `tsc --noEmit --strict`: every usage below is valid MCP
// (2025-11-25 / 2026-07-28 schemas) and must compile. Each `// valid:` line counts one probe.
import type * as sdk from '@modelcontextprotocol/sdk/types.js'
import {
  startStreamableMcpServer,
  ConnectionEventHub,
  parseConnectionEventLine,
  type CallToolResult,
  type ConnectionEvent,
  type ContentBlock,
  type CreateMessageResult,
  type ElicitResult,
  type GetPromptResult,
  type Implementation,
  type InputRequiredResult,
  type ListRootsResult,
  type PromptDefinition,
  type ReadResourceResult,
  type RequestContext,
  type ResourceDefinition,
  type ResourceTemplateDefinition,
  type StreamableServerOptions,
  type ToolDefinition,
} from 'mcp-swagger-native'

// valid: serverInfo with the 2025-11-25 fields
const serverInfo: Implementation = {
  name: 'petstore',
  version: '1.0.0',
  title: 'Pet Store',
  description: 'Pets as tools',
  websiteUrl: 'https://example.com',
  icons: [{ src: 'https://example.com/icon.png', mimeType: 'image/png', sizes: ['48x48'], theme: 'dark' }],
}

// valid: a tool with icons, annotations, outputSchema, execution and _meta
const tool: ToolDefinition = {
  name: 'get_pet',
  title: 'Get a pet',
  description: 'Look a pet up by id',
  icons: [{ src: 'data:image/svg+xml;base64,PHN2Zy8+' }],
  inputSchema: {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    type: 'object',
    properties: { id: { type: 'integer', minimum: 1 }, tags: { type: 'array', items: { type: 'string' } } },
    required: ['id'],
    additionalProperties: false,
  },
  outputSchema: { type: 'object', properties: { name: { type: 'string' } } },
  annotations: { title: 'Get pet', readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  execution: { taskSupport: 'optional' },
  _meta: { 'example.com/owner': 'pets-team' },
}

// valid: a JSON Schema with nested combinators, $defs, if/then and a schema built at run time
declare const fromOpenApi: Record<string, unknown>
const nested: ToolDefinition = {
  name: 'n',
  inputSchema: {
    type: 'object',
    $defs: { pet: { type: 'object', properties: { kind: { enum: ['cat', 'dog'] } } } },
    properties: {
      pet: { $ref: '#/$defs/pet' },
      any: true,
      either: { anyOf: [{ type: 'string' }, { type: 'null' }] },
      body: fromOpenApi,
      when: { if: { const: 1 }, then: { type: 'integer' }, else: { type: ['string', 'null'] } },
    },
  },
}

// valid: every content block kind, with annotations and _meta
const blocks: ContentBlock[] = [
  { type: 'text', text: 'hi', annotations: { audience: ['user'], priority: 0.5, lastModified: '2025-01-12T15:00:58Z' }, _meta: { a: 1 } },
  { type: 'image', data: 'iVBORw0=', mimeType: 'image/png', annotations: { priority: 1 } },
  { type: 'audio', data: 'UklGRg==', mimeType: 'audio/wav', _meta: {} },
  {
    type: 'resource_link',
    uri: 'file:///pets.json',
    name: 'pets',
    title: 'Pets',
    description: 'All pets',
    mimeType: 'application/json',
    size: 1024,
    annotations: { audience: ['assistant'] },
    icons: [{ src: 'https://example.com/i.png' }],
    _meta: { k: 'v' },
  },
  { type: 'resource', resource: { uri: 'file:///a.txt', mimeType: 'text/plain', text: 'a', _meta: { v: 1 } }, annotations: { priority: 0 } },
  { type: 'resource', resource: { uri: 'file:///b.bin', blob: 'AAE=' } },
]

// valid: a tool result with structuredContent and _meta
const result: CallToolResult = { content: blocks, structuredContent: { name: 'Rex' }, isError: false, _meta: { trace: 'x' } }

// valid: an explicit 2026-07-28 resultType on a complete result
const complete: CallToolResult = { resultType: 'complete', content: [] }

// valid: resources and templates with annotations, icons and _meta
const resource: ResourceDefinition = {
  uri: 'file:///pets.json',
  name: 'pets',
  size: 10,
  annotations: { audience: ['user', 'assistant'], lastModified: '2026-01-01T00:00:00Z' },
  icons: [{ src: 'https://example.com/r.png', theme: 'light' }],
  _meta: { x: true },
}
const template: ResourceTemplateDefinition = { uriTemplate: 'file:///pets/{id}', name: 'pet', annotations: { priority: 0.2 }, _meta: {} }

// valid: a prompt with arguments (title on arguments is 2025-11-25 BaseMetadata)
const prompt: PromptDefinition = { name: 'greet', icons: [], arguments: [{ name: 'who', title: 'Who', required: true }], _meta: {} }

// valid: read and prompt results with _meta
const read: ReadResourceResult = { contents: [{ uri: 'file:///a', text: 'a', _meta: {} }, { uri: 'file:///b', blob: 'AA==' }], _meta: {} }
const got: GetPromptResult = { description: 'd', messages: [{ role: 'assistant', content: { type: 'resource_link', uri: 'u', name: 'n' } }], _meta: {} }

// valid: an InputRequiredResult asking for each kind of input (2026-07-28)
const needInput: InputRequiredResult = {
  resultType: 'input_required',
  inputRequests: {
    confirm: {
      method: 'elicitation/create',
      params: {
        message: 'Delete?',
        requestedSchema: {
          type: 'object',
          properties: {
            ok: { type: 'boolean', default: false },
            why: { type: 'string', format: 'email', maxLength: 100 },
            n: { type: 'integer', minimum: 0 },
            color: { type: 'string', oneOf: [{ const: 'r', title: 'Red' }] },
            tags: { type: 'array', items: { type: 'string', enum: ['a', 'b'] } },
          },
          required: ['ok'],
        },
      },
    },
    summary: {
      method: 'sampling/createMessage',
      params: { messages: [{ role: 'user', content: { type: 'text', text: 'Summarise' } }], maxTokens: 100, modelPreferences: { hints: [{ name: 'claude' }], speedPriority: 1 } },
    },
    roots: { method: 'roots/list' },
    link: { method: 'elicitation/create', params: { mode: 'url', message: 'Sign in', url: 'https://example.com/login' } },
  },
  requestState: 'opaque',
}

// valid: callbacks narrowing the result union on resultType, using ctx.request per method
const opts: StreamableServerOptions = {
  port: 0,
  serverInfo,
  tools: [tool, nested],
  resources: [resource],
  resourceTemplates: [template],
  prompts: [prompt],
  callTool: async ({ name, arguments: args }, ctx: RequestContext): Promise<CallToolResult | InputRequiredResult> => {
    if (ctx.era === 'modern' && !ctx.inputResponses) return needInput
    const answer = ctx.inputResponses?.confirm
    if (answer && 'action' in answer && answer.action === 'accept') return complete
    // valid: sampling via ctx.request returns a CreateMessageResult
    const msg: CreateMessageResult = await ctx.request('sampling/createMessage', { messages: [{ role: 'user', content: [{ type: 'text', text: name }] }], maxTokens: 10 })
    // valid: form elicitation via ctx.request returns an ElicitResult
    const form: ElicitResult = await ctx.request('elicitation/create', { message: 'Name?', requestedSchema: { type: 'object', properties: { name: { type: 'string' } } } })
    // valid: URL elicitation (2025-11-25) needs its elicitationId
    await ctx.request('elicitation/create', { mode: 'url', message: 'Pay', url: 'https://example.com/pay', elicitationId: 'e1' })
    // valid: roots/list with and without params
    const roots: ListRootsResult = await ctx.request('roots/list')
    await ctx.request('roots/list', { _meta: { k: 1 } })
    const text = Array.isArray(msg.content) ? msg.content.length : msg.content.type
    return { content: [{ type: 'text', text: `${String(args.id)} ${text} ${form.action} ${roots.roots.map((r) => r.uri).join()}` }] }
  },
  readResource: (uri) => ({ contents: [{ uri, text: 'x' }] }),
  getPrompt: () => got,
  // valid: complete narrows its reference on type
  complete: (ref, argument) => ({ completion: { values: [ref.type === 'ref/prompt' ? ref.name : ref.uri, argument.value], hasMore: false } }),
}

// valid: capabilities and clientInfo on the context are typed
function caps(ctx: RequestContext): boolean {
  return !!ctx.clientCapabilities.sampling?.tools && !!ctx.clientCapabilities.elicitation?.url && ctx.clientInfo?.websiteUrl !== ''
}

// valid: the result union narrows on resultType
function isInput(r: CallToolResult | InputRequiredResult): r is InputRequiredResult {
  return r.resultType === 'input_required'
}

// valid: an upstream mcp-swagger-server event (clientInfo.sessionId) is a ConnectionEvent
const upstream: ConnectionEvent = {
  type: 'MCP_CONNECTION_EVENT',
  eventType: 'connected',
  clientInfo: { id: 's', sessionId: 's', connectedAt: '2026-04-19T14:42:55.120Z' },
  connectionStats: { totalConnections: 1, activeConnections: 1 },
  timestamp: '2026-04-19T14:42:55.623Z',
}

// ---------- the SDK's own types are assignable to ours ----------
declare const sdkTool: sdk.Tool
declare const sdkResult: sdk.CallToolResult
declare const sdkRead: sdk.ReadResourceResult
declare const sdkPrompt: sdk.GetPromptResult
declare const sdkResource: sdk.Resource
declare const sdkTemplate: sdk.ResourceTemplate
declare const sdkPromptDef: sdk.Prompt
declare const sdkBlock: sdk.ContentBlock
declare const sdkImpl: sdk.Implementation
declare const sdkCreateMessage: sdk.CreateMessageResult
declare const sdkElicit: sdk.ElicitResult
declare const sdkRoots: sdk.ListRootsResult
declare const sdkComplete: sdk.CompleteResult
// valid: SDK Tool → ToolDefinition
const t1: ToolDefinition = sdkTool
// valid: SDK CallToolResult → CallToolResult
const t2: CallToolResult = sdkResult
// valid: SDK ReadResourceResult and GetPromptResult
const t3: ReadResourceResult = sdkRead
const t4: GetPromptResult = sdkPrompt
// valid: SDK Resource, ResourceTemplate, Prompt
const t5: ResourceDefinition = sdkResource
const t6: ResourceTemplateDefinition = sdkTemplate
const t7: PromptDefinition = sdkPromptDef
// valid: SDK ContentBlock and Implementation
const t8: ContentBlock = sdkBlock
const t9: Implementation = sdkImpl
// valid: SDK client-side results are what ctx.request promises
const t10: CreateMessageResult = sdkCreateMessage
const t11: ElicitResult = sdkElicit
const t12: ListRootsResult = sdkRoots
// valid: an SDK tool list goes straight into the options
const fromSdk: StreamableServerOptions = { tools: [sdkTool], complete: () => sdkComplete }

async function main(): Promise<void> {
  // valid: the server and the hub
  const server = await startStreamableMcpServer(opts, {
    onConnectionEstablished: (c) => console.log(c.clientName),
    // valid: the close reason, a fleet's instance_lost included
    onConnectionClosed: (id, ms, reason) => console.log(id, ms, reason === 'instance_lost'),
  })
  server.setTools([tool, sdkTool])
  const hub = new ConnectionEventHub({ onEvent: (_id, e) => console.log(e.eventType === 'connected' ? e.clientInfo.id : e.connectionStats) })
  const e = parseConnectionEventLine('x')
  // valid: coalesced quiet mode
  const coalesced = new ConnectionEventHub({ coalesceBytes: 16384, eventCapacity: 0, onLines: (id: string, lines: string[]) => console.log(id, lines.join('\n')) })
  coalesced.writeQuiet('pets', Buffer.from('a\n'))
  coalesced.writeQuiet('pets', new Uint8Array(2))
  coalesced.writeQuiet('pets', 'b\n')
  coalesced.flush('pets')
  coalesced.flush()
  const flushed: void = coalesced.writeQuiet('pets', 'c')
  console.log(flushed, coalesced.endQuiet('pets').length)
  console.log(e?.type, hub.getAllStats().length, result, read, upstream, caps, isInput, fromSdk, [t1, t2, t3, t4, t5, t6, t7, t8, t9, t10, t11, t12])
  await server.close()
}
void main

// Handler mode and validation (docs/handler-mode.md, docs/validation.md).
import { createStreamableMcpHandler, type StreamableMcpHandler } from 'mcp-swagger-native'
import * as nodeHttp from 'node:http'
async function handlerMode() {
  // valid: a handler with validation switched per side
  const handler: StreamableMcpHandler = await createStreamableMcpHandler({ validation: { arguments: true, results: false } })
  // valid: served from node:http, with an already-parsed body
  nodeHttp.createServer((req, res) => void handler.handle(req, res, { body: { jsonrpc: '2.0' } }))
  // valid: the same object API as the listener's server
  handler.setTools([{ name: 'a', inputSchema: { type: 'object' } }])
  // valid: validation off entirely
  await createStreamableMcpHandler({ validation: false, endpoint: '/mcp' })
  await handler.close()
}
void handlerMode

// Authorization (docs/authorization.md): per-subject counts and scoped resource templates.
import type { ConnectionStats } from 'mcp-swagger-native'
async function authorization() {
  // valid: a resource template guarded by scopes
  const scoped: ResourceTemplateDefinition = { uriTemplate: 'users://{id}/profile', name: 'profile', requiredScopes: ['mcp:admin'] }
  const server = await startStreamableMcpServer({ port: 0, resourceTemplates: [scoped], auth: { authorizationServers: ['https://idp.example.com'], jwt: { issuer: 'https://idp.example.com', jwksUri: 'https://idp.example.com/jwks' } } })
  // valid: connections per subject, and the rest summed
  const stats: ConnectionStats = server.getConnectionStats()
  const alice: number | undefined = stats.bySubject?.['alice']
  const others: number = stats.otherSubjects ? stats.otherSubjects.connections + stats.otherSubjects.subjects : 0
  console.log(alice, others)
  await server.close()
}
void authorization
