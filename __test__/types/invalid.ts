// Compiled by scripts/types.sh with `tsc --noEmit --strict`: each line after a
// `// @ts-expect-error` is a wrong usage the typings must refuse. If one of them compiles, the
// directive is unused and tsc fails (TS2578) naming this file and line.
import type {
  CallToolResult,
  ConnectionEvent,
  ContentBlock,
  GetPromptResult,
  InputRequiredResult,
  ReadResourceResult,
  RequestContext,
  ResourceDefinition,
  StreamableServerOptions,
  ToolDefinition,
  Implementation,
  CompleteReference,
  CloseReason,
} from 'mcp-swagger-native'

declare const ctx: RequestContext

// @ts-expect-error an array is not an object schema
const t1: ToolDefinition = { name: 'a', inputSchema: [] }
// @ts-expect-error inputSchema must say type: 'object'
const t2: ToolDefinition = { name: 'a', inputSchema: { type: 'string' } }
// @ts-expect-error inputSchema is required
const t3: ToolDefinition = { name: 'a' }
// @ts-expect-error misspelt annotation key (readOnlyHint)
const t4: ToolDefinition = { name: 'a', inputSchema: { type: 'object' }, annotations: { readonlyHint: true } }
// @ts-expect-error hints are booleans
const t5: ToolDefinition = { name: 'a', inputSchema: { type: 'object' }, annotations: { destructiveHint: 'yes' } }
// @ts-expect-error a property schema is an object or a boolean, not a string
const t6: ToolDefinition = { name: 'a', inputSchema: { type: 'object', properties: { x: 'string' } } }
// @ts-expect-error required is a list of names
const t7: ToolDefinition = { name: 'a', inputSchema: { type: 'object', required: 'x' } }
// @ts-expect-error an unknown JSON Schema type name
const t8: ToolDefinition = { name: 'a', inputSchema: { type: 'object', properties: { x: { type: 'float' } } } }
// @ts-expect-error a misspelt JSON Schema keyword (required)
const t8b: ToolDefinition = { name: 'a', inputSchema: { type: 'object', requried: ['x'] } }
// @ts-expect-error an icon needs src
const t9: ToolDefinition = { name: 'a', inputSchema: { type: 'object' }, icons: [{ mimeType: 'image/png' }] }
// @ts-expect-error icon theme is light or dark
const t10: Implementation = { name: 'a', version: '1', icons: [{ src: 'x', theme: 'blue' }] }
// @ts-expect-error serverInfo needs a version
const t11: StreamableServerOptions = { serverInfo: { name: 'a' } }
// @ts-expect-error unknown content type
const c1: ContentBlock = { type: 'video', data: 'x', mimeType: 'video/mp4' }
// @ts-expect-error image content needs its mimeType
const c2: ContentBlock = { type: 'image', data: 'x' }
// @ts-expect-error annotation audience is user or assistant
const c3: ContentBlock = { type: 'text', text: 'x', annotations: { audience: ['system'] } }
// @ts-expect-error priority is a number
const c4: ContentBlock = { type: 'text', text: 'x', annotations: { priority: 'high' } }
// @ts-expect-error a resource_link needs a name
const c5: ContentBlock = { type: 'resource_link', uri: 'file:///a' }
// @ts-expect-error embedded resource contents need text or blob
const c6: ContentBlock = { type: 'resource', resource: { uri: 'file:///a' } }
// @ts-expect-error resource_link size is a number
const c7: ContentBlock = { type: 'resource_link', uri: 'u', name: 'n', size: '1kb' }
// @ts-expect-error content is a list of blocks
const r1: CallToolResult = { content: { type: 'text', text: 'x' } }
// @ts-expect-error structuredContent is an object
const r2: CallToolResult = { content: [], structuredContent: 'done' }
// @ts-expect-error misspelt isError
const r3: CallToolResult = { content: [], isErorr: true }
// @ts-expect-error a complete result's resultType is 'complete'
const r4: CallToolResult = { resultType: 'done', content: [] }
// @ts-expect-error an InputRequiredResult needs resultType
const r5: InputRequiredResult = { inputRequests: {} }
// @ts-expect-error an input request's method is one of the three
const r6: InputRequiredResult = { resultType: 'input_required', inputRequests: { a: { method: 'tools/list' } } }
// @ts-expect-error elicitation params {wrong: 1}
const r7: InputRequiredResult = { resultType: 'input_required', inputRequests: { a: { method: 'elicitation/create', params: { wrong: 1 } } } }
// @ts-expect-error sampling needs maxTokens
const r8: InputRequiredResult = { resultType: 'input_required', inputRequests: { a: { method: 'sampling/createMessage', params: { messages: [] } } } }
// @ts-expect-error elicitation form fields are flat primitives, not objects
const r9: InputRequiredResult = { resultType: 'input_required', inputRequests: { a: { method: 'elicitation/create', params: { message: 'm', requestedSchema: { type: 'object', properties: { o: { type: 'object' } } } } } } }
// @ts-expect-error read contents need text or blob
const r10: ReadResourceResult = { contents: [{ uri: 'u' }] }
// @ts-expect-error a prompt message role is user or assistant
const r11: GetPromptResult = { messages: [{ role: 'system', content: { type: 'text', text: 'x' } }] }
// @ts-expect-error resource annotations are Annotations
const d1: ResourceDefinition = { uri: 'u', name: 'n', annotations: { audience: 'user' } }
// @ts-expect-error _meta is an object
const d2: ResourceDefinition = { uri: 'u', name: 'n', _meta: 'x' }

async function requests(): Promise<void> {
  // @ts-expect-error ctx.request only sends the server→client methods
  await ctx.request('tools/list')
  // @ts-expect-error elicitation params {wrong: 1}
  await ctx.request('elicitation/create', { wrong: 1 })
  // @ts-expect-error sampling/createMessage needs params
  await ctx.request('sampling/createMessage')
  // @ts-expect-error URL elicitation (2025-11-25) needs elicitationId
  await ctx.request('elicitation/create', { mode: 'url', message: 'm', url: 'https://x' })
  const roots = await ctx.request('roots/list')
  // @ts-expect-error the result is typed: ListRootsResult has no `tools`
  console.log(roots.tools)
  const answer = await ctx.request('elicitation/create', { message: 'm', requestedSchema: { type: 'object', properties: {} } })
  // @ts-expect-error ElicitResult.action is a closed set
  const a: 'ok' = answer.action
  void a
}

function capsAndRefs(ref: CompleteReference): string {
  // @ts-expect-error a capability flag is not a string
  const s: string = ctx.clientCapabilities.roots?.listChanged
  // @ts-expect-error `name` exists only on a prompt reference until narrowed
  return s + ref.name
}

const callbacks: StreamableServerOptions = {
  // @ts-expect-error callTool must return a result, not a string
  callTool: async () => 'done',
  // @ts-expect-error readResource returns { contents }
  readResource: () => ({ content: [] }),
}

// @ts-expect-error a connected event needs clientInfo with id
const e1: ConnectionEvent = { type: 'MCP_CONNECTION_EVENT', eventType: 'connected', clientInfo: { sessionId: 's', connectedAt: 't' }, connectionStats: { totalConnections: 1, activeConnections: 1 }, timestamp: 't' }

console.log(t1, t2, t3, t4, t5, t6, t7, t8, t8b, t9, t10, t11, c1, c2, c3, c4, c5, c6, c7, r1, r2, r3, r4, r5, r6, r7, r8, r9, r10, r11, d1, d2, requests, capsAndRefs, callbacks, e1)

// Handler mode and validation (docs/handler-mode.md, docs/validation.md).
import type { StreamableMcpHandler } from 'mcp-swagger-native'
declare const handler: StreamableMcpHandler
// @ts-expect-error handle needs a response
void handler.handle({} as import('node:http').IncomingMessage)
// @ts-expect-error validation sides are booleans
const v1: StreamableServerOptions = { validation: { arguments: 'yes' } }
// @ts-expect-error an unknown validation side
const v2: StreamableServerOptions = { validation: { input: true } }
console.log(v1, v2)

// Authorization: per-subject counts are numbers; a template's scopes are strings.
import type { ConnectionStats as Stats14, ResourceTemplateDefinition } from 'mcp-swagger-native'
declare const stats14: Stats14
// @ts-expect-error bySubject may be absent (no principal)
const a1: Record<string, number> = stats14.bySubject
// @ts-expect-error requiredScopes are strings
const a2: ResourceTemplateDefinition = { uriTemplate: 'x://{id}', name: 'x', requiredScopes: [1] }
// @ts-expect-error a close reason is one of the documented ones
const a3: CloseReason = 'crashed'
console.log(a1, a2, a3)

// Coalesced quiet mode: lines come as an array, sizes are numbers, writeQuiet returns nothing.
import type { ConnectionEventHubOptions, ConnectionEventHub as Hub17 } from 'mcp-swagger-native'
declare const hub17: Hub17
// @ts-expect-error onLines receives an array of lines, not one string
const h1: ConnectionEventHubOptions = { onLines: (_id: string, line: string) => line.length }
// @ts-expect-error coalesceBytes is a number
const h2: ConnectionEventHubOptions = { coalesceBytes: '64k' }
// @ts-expect-error writeQuiet hands its lines to onLines: it returns nothing to iterate
for (const l of hub17.writeQuiet('s', 'x')) console.log(l)
// @ts-expect-error chunks are bytes or text
hub17.writeQuiet('s', 42)
console.log(h1, h2)
