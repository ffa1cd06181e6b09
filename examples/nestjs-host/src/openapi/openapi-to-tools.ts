/**
 * OpenAPI 3 → MCP tool definitions, and tool call → HTTP request.
 *
 * Each operation becomes one tool: the name from its operationId (or method + path), the
 * description from summary/description, and an `inputSchema` (JSON Schema, type object) with one
 * property per path/query/header parameter and a `body` property for a JSON request body. Local
 * `$ref`s are inlined so the schema stands alone on the wire. The returned `operations` map keeps,
 * per tool, what is needed to turn the call's arguments back into the HTTP request.
 */
import type { CallToolResult, ObjectJsonSchema, ToolDefinition } from 'mcp-swagger-native'

export type ParamLocation = 'path' | 'query' | 'header' | 'cookie'
const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const

export interface OperationParam {
  name: string // the name in the HTTP request
  in: ParamLocation
  argName: string // the property in the tool's inputSchema
  required: boolean
}

export interface OperationPlan {
  toolName: string
  method: string // upper case
  path: string // template, e.g. /pets/{petId}
  serverUrl: string // servers[0].url of the document (may be relative), '' when absent
  params: OperationParam[]
  body?: { argName: string; required: boolean; contentType: string }
}

export interface ConvertedOpenApi {
  tools: ToolDefinition[]
  operations: Record<string, OperationPlan>
}

export class OpenApiConversionError extends Error {}

const MAX_TOOL_NAME = 64

/** A tool name the MCP spec accepts: [A-Za-z0-9_.-], 1..64 chars. */
export function toToolName(raw: string): string {
  let name = raw.replace(/[^A-Za-z0-9_.-]+/g, '_').replace(/^_+|_+$/g, '')
  if (!name) name = 'operation'
  return name.slice(0, MAX_TOOL_NAME)
}

/** Resolve local `#/...` refs (inlining them), drop OpenAPI-only keywords, map `nullable`. */
export function resolveSchema(doc: Record<string, any>, schema: unknown, seen: string[] = []): any {
  if (Array.isArray(schema)) return schema.map((s) => resolveSchema(doc, s, seen))
  if (!schema || typeof schema !== 'object') return schema
  const s = schema as Record<string, any>
  if (typeof s.$ref === 'string') {
    const ref = s.$ref
    if (!ref.startsWith('#/')) throw new OpenApiConversionError(`only local $refs are supported, got ${ref}`)
    if (seen.includes(ref)) return { description: `recursive reference to ${ref}` }
    const target = ref
      .slice(2)
      .split('/')
      .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
      .reduce<any>((node, key) => (node == null ? undefined : node[key]), doc)
    if (target === undefined) throw new OpenApiConversionError(`unresolved $ref ${ref}`)
    return resolveSchema(doc, target, [...seen, ref])
  }
  const out: Record<string, any> = {}
  for (const [k, v] of Object.entries(s)) {
    if (k === 'nullable' || k === 'example' || k === 'xml' || k === 'discriminator' || k === 'externalDocs') continue
    out[k] = resolveSchema(doc, v, seen)
  }
  if (s.nullable === true && typeof s.type === 'string') out.type = [s.type, 'null']
  return out
}

function deref<T = any>(doc: Record<string, any>, node: any): T {
  return node && typeof node.$ref === 'string' ? resolveSchema(doc, node) : node
}

/** Convert every operation of an OpenAPI 3 document. Throws OpenApiConversionError on a bad document. */
export function openApiToTools(doc: Record<string, any>): ConvertedOpenApi {
  if (!doc || typeof doc !== 'object' || typeof doc.openapi !== 'string' || !doc.openapi.startsWith('3.')) {
    throw new OpenApiConversionError('not an OpenAPI 3 document (missing or unsupported "openapi" version)')
  }
  const serverUrl: string = Array.isArray(doc.servers) && doc.servers[0]?.url ? String(doc.servers[0].url) : ''
  const tools: ToolDefinition[] = []
  const operations: Record<string, OperationPlan> = {}

  for (const [path, rawItem] of Object.entries<any>(doc.paths ?? {})) {
    const item = deref(doc, rawItem) ?? {}
    const shared: any[] = item.parameters ?? []
    for (const method of HTTP_METHODS) {
      const op = item[method]
      if (!op) continue

      // Parameters: operation-level ones override path-level ones with the same name+in.
      const byKey = new Map<string, any>()
      for (const p of [...shared, ...(op.parameters ?? [])].map((p) => deref(doc, p))) {
        byKey.set(`${p.in}:${p.name}`, p)
      }
      const properties: Record<string, any> = {}
      const required: string[] = []
      const params: OperationParam[] = []
      const taken = new Set<string>()
      for (const p of byKey.values()) {
        if (!['path', 'query', 'header', 'cookie'].includes(p.in)) continue
        let argName = String(p.name)
        if (taken.has(argName)) argName = `${p.in}_${p.name}`
        taken.add(argName)
        const isRequired = p.in === 'path' ? true : p.required === true
        const schema = { ...(resolveSchema(doc, p.schema ?? { type: 'string' }) as object) } as Record<string, any>
        if (p.description && !schema.description) schema.description = p.description
        properties[argName] = schema
        if (isRequired) required.push(argName)
        params.push({ name: String(p.name), in: p.in, argName, required: isRequired })
      }

      let body: OperationPlan['body']
      const rb = deref(doc, op.requestBody)
      if (rb?.content) {
        const contentType = Object.keys(rb.content).find((t) => /json/i.test(t)) ?? Object.keys(rb.content)[0]
        if (contentType) {
          const argName = taken.has('body') ? 'requestBody' : 'body'
          const schema = { ...(resolveSchema(doc, rb.content[contentType].schema ?? {}) as object) } as Record<string, any>
          if (rb.description && !schema.description) schema.description = rb.description
          properties[argName] = schema
          if (rb.required === true) required.push(argName)
          body = { argName, required: rb.required === true, contentType }
        }
      }

      let name = toToolName(op.operationId ?? `${method}_${path.replace(/[^A-Za-z0-9]+/g, '_').replace(/^_+/, '')}`)
      for (let i = 2; operations[name]; i++) name = toToolName(`${name.slice(0, MAX_TOOL_NAME - 4)}_${i}`)

      const upper = method.toUpperCase()
      const description = [op.summary, op.description].filter(Boolean).join('\n\n') || `${upper} ${path}`
      const inputSchema: ObjectJsonSchema = { type: 'object', properties }
      if (required.length) inputSchema.required = required
      const tool: ToolDefinition = {
        name,
        description,
        inputSchema,
        annotations: {
          title: op.summary ?? `${upper} ${path}`,
          readOnlyHint: upper === 'GET' || upper === 'HEAD',
          destructiveHint: upper === 'DELETE',
          idempotentHint: ['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS'].includes(upper),
          openWorldHint: false,
        },
      }
      if (op.summary) tool.title = op.summary
      tools.push(tool)
      operations[name] = { toolName: name, method: upper, path, serverUrl, params, body }
    }
  }
  return { tools, operations }
}

export interface HttpRequestSpec {
  method: string
  url: string
  headers: Record<string, string>
  body?: string
}

/** Missing required arguments of a call, by inputSchema property name. */
export function missingArguments(plan: OperationPlan, args: Record<string, unknown>): string[] {
  const missing = plan.params.filter((p) => p.required && (args[p.argName] === undefined || args[p.argName] === null)).map((p) => p.argName)
  if (plan.body?.required && args[plan.body.argName] === undefined) missing.push(plan.body.argName)
  return missing
}

function scalar(v: unknown): string {
  return typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v)
}

/** Turn a tool call's arguments into the HTTP request the operation describes. */
export function buildHttpRequest(plan: OperationPlan, args: Record<string, unknown>, baseUrl: string): HttpRequestSpec {
  const missing = missingArguments(plan, args)
  if (missing.length) throw new OpenApiConversionError(`missing required argument(s): ${missing.join(', ')}`)

  let path = plan.path
  const query = new URLSearchParams()
  const headers: Record<string, string> = { accept: 'application/json' }
  const cookies: string[] = []
  for (const p of plan.params) {
    const v = args[p.argName]
    if (v === undefined || v === null) continue
    switch (p.in) {
      case 'path':
        path = path.split(`{${p.name}}`).join(encodeURIComponent(scalar(v)))
        break
      case 'query':
        for (const item of Array.isArray(v) ? v : [v]) query.append(p.name, scalar(item))
        break
      case 'header':
        headers[p.name.toLowerCase()] = scalar(v)
        break
      case 'cookie':
        cookies.push(`${p.name}=${encodeURIComponent(scalar(v))}`)
        break
    }
  }
  if (cookies.length) headers.cookie = cookies.join('; ')

  // servers[0].url may be absolute or relative to the host's base URL.
  const server = new URL(plan.serverUrl || '/', baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`)
  const url = new URL(server.href.replace(/\/+$/, '') + path)
  url.search = query.toString()

  const spec: HttpRequestSpec = { method: plan.method, url: url.href, headers }
  if (plan.body && args[plan.body.argName] !== undefined) {
    const b = args[plan.body.argName]
    headers['content-type'] = plan.body.contentType
    spec.body = /json/i.test(plan.body.contentType) ? JSON.stringify(b) : scalar(b)
  }
  return spec
}

/**
 * Make the HTTP request for a tool call and return it as an MCP tool result: the response's JSON
 * (pretty-printed) as text; a non-2xx status, a missing argument or a network error as `isError`.
 */
export async function executeOperation(
  plan: OperationPlan,
  args: Record<string, unknown>,
  baseUrl: string,
  opts: { signal?: AbortSignal; timeoutMs?: number; fetchImpl?: typeof fetch } = {},
): Promise<CallToolResult> {
  let req: HttpRequestSpec
  try {
    req = buildHttpRequest(plan, args ?? {}, baseUrl)
  } catch (e) {
    return { isError: true, content: [{ type: 'text', text: (e as Error).message }] }
  }
  const signals = [AbortSignal.timeout(opts.timeoutMs ?? 10_000)]
  if (opts.signal) signals.push(opts.signal)
  try {
    const res = await (opts.fetchImpl ?? fetch)(req.url, {
      method: req.method,
      headers: req.headers,
      body: req.body,
      signal: AbortSignal.any(signals),
    })
    const raw = await res.text()
    let text = raw
    if (raw) {
      try {
        text = JSON.stringify(JSON.parse(raw), null, 2)
      } catch {
        /* not JSON: pass the text through */
      }
    }
    const statusLine = `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`
    if (!res.ok) return { isError: true, content: [{ type: 'text', text: text ? `${statusLine}\n${text}` : statusLine }] }
    return { content: [{ type: 'text', text: text || statusLine }] }
  } catch (e) {
    return { isError: true, content: [{ type: 'text', text: `${req.method} ${req.url} failed: ${(e as Error).message}` }] }
  }
}
