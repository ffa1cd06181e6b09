/**
 * OpenAPI (3.x or Swagger 2.0) → MCP tool definitions, and tool call → HTTP request.
 *
 * `loadOpenApi` reads a document (an object, a file path or a URL) with @apidevtools/swagger-parser,
 * which fetches and bundles every external and remote `$ref` into one document whose `$ref`s are
 * all local. `openApiToTools` turns each operation of that document into one tool: the name from
 * its operationId (or method + path), the description from summary/description, and an
 * `inputSchema` (JSON Schema 2020-12, type object) with one property per path/query/header/cookie
 * (or Swagger 2.0 formData) parameter and a `body` property for the request body. Local `$ref`s
 * are inlined so the schema stands alone on the wire. The returned `operations` map keeps, per
 * tool, what is needed to turn the call's arguments back into the HTTP request, including the
 * security schemes the operation requires (applied from the credentials the host configures).
 */
import SwaggerParser from '@apidevtools/swagger-parser'
import type { CallToolResult, ObjectJsonSchema, ToolDefinition } from 'mcp-swagger-native'

export type ParamLocation = 'path' | 'query' | 'header' | 'cookie' | 'formData'
const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const

export interface OperationParam {
  name: string // the name in the HTTP request
  in: ParamLocation
  argName: string // the property in the tool's inputSchema
  required: boolean
}

/** How one security scheme puts a credential on the request. */
export type SecurityApply =
  | { scheme: string; type: 'apiKey'; in: 'header' | 'query' | 'cookie'; name: string }
  | { scheme: string; type: 'basic' }
  | { scheme: string; type: 'bearer' }

export interface OperationPlan {
  toolName: string
  method: string // upper case
  path: string // template, e.g. /pets/{petId}
  serverUrl: string // servers[0].url (or Swagger 2.0 scheme://host/basePath; may be relative), '' when absent
  params: OperationParam[]
  body?: { argName: string; required: boolean; contentType: string }
  /** Alternatives (any one is enough), each a set of schemes applied together; [] = none needed. */
  security: SecurityApply[][]
}

/** Credentials by security scheme name: an API key or token, or a user and password for basic. */
export type Credentials = Record<string, string | { username: string; password: string }>

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

/**
 * Parse a document and bundle its external (file) and remote (http) `$ref`s into it. A string is a
 * path or URL; an object is copied first (the parser changes what it is given), and its relative
 * `$ref`s resolve against `baseUrl` (a path or URL; default the working directory). Remote
 * fetches of loopback and private addresses are refused (swagger-parser's SSRF guard) unless
 * `allowPrivateUrls`: a document from elsewhere must not make this host read its own network.
 */
export async function loadOpenApi(
  source: string | Record<string, any>,
  opts: { baseUrl?: string; allowPrivateUrls?: boolean } = {},
): Promise<Record<string, any>> {
  const options = opts.allowPrivateUrls ? { resolve: { http: { safeUrlResolver: false } } } : {}
  try {
    if (typeof source === 'string') return restorePort((await SwaggerParser.bundle(source, options as SwaggerParser.Options)) as Record<string, any>, source)
    const copy = structuredClone(source) as any
    const bundled = opts.baseUrl ? await SwaggerParser.bundle(opts.baseUrl, copy, options as SwaggerParser.Options) : await SwaggerParser.bundle(copy, options as SwaggerParser.Options)
    return bundled as Record<string, any>
  } catch (e) {
    throw new OpenApiConversionError(`cannot load the OpenAPI document: ${(e as Error).message}`)
  }
}

/**
 * swagger-parser resolves a relative `servers[].url` of a document read from a URL against that
 * URL's protocol and hostname, dropping its port (http://h:8080/doc.json + /api → http://h/api).
 * Put the port back on the top-level servers it rewrote that way.
 */
function restorePort(doc: Record<string, any>, source: string): Record<string, any> {
  if (!/^https?:/i.test(source) || !Array.isArray(doc.servers)) return doc
  const u = new URL(source)
  if (!u.port) return doc
  const broken = `${u.protocol}//${u.hostname}/`
  for (const server of doc.servers) {
    if (typeof server?.url === 'string' && server.url.startsWith(broken)) server.url = `${u.origin}${server.url.slice(broken.length - 1)}`
  }
  return doc
}

/** loadOpenApi, then openApiToTools. */
export async function openApiSourceToTools(
  source: string | Record<string, any>,
  opts: { baseUrl?: string; allowPrivateUrls?: boolean } = {},
): Promise<ConvertedOpenApi & { doc: Record<string, any> }> {
  const doc = await loadOpenApi(source, opts)
  return { doc, ...openApiToTools(doc) }
}

// Keywords that describe, not constrain, or that JSON Schema 2020-12 does not know.
const DROPPED = new Set(['nullable', 'example', 'xml', 'discriminator', 'externalDocs', 'x-nullable', 'collectionFormat', 'allowEmptyValue'])

/**
 * Resolve local `#/...` refs (inlining them), drop OpenAPI-only keywords, map `nullable` and the
 * draft-4 boolean `exclusiveMinimum`/`exclusiveMaximum` (OpenAPI 3.0, Swagger 2.0) to 2020-12.
 */
export function resolveSchema(doc: Record<string, any>, schema: unknown, seen: string[] = []): any {
  if (Array.isArray(schema)) return schema.map((s) => resolveSchema(doc, s, seen))
  if (!schema || typeof schema !== 'object') return schema
  const s = schema as Record<string, any>
  if (typeof s.$ref === 'string') {
    const ref = s.$ref
    if (!ref.startsWith('#/')) throw new OpenApiConversionError(`only local $refs are supported (load the document with loadOpenApi), got ${ref}`)
    if (seen.includes(ref)) return { description: `recursive reference to ${ref}` }
    const target = ref
      .slice(2)
      .split('/')
      .map((p) => decodeURIComponent(p).replace(/~1/g, '/').replace(/~0/g, '~'))
      .reduce<any>((node, key) => (node == null ? undefined : node[key]), doc)
    if (target === undefined) throw new OpenApiConversionError(`unresolved $ref ${ref}`)
    return resolveSchema(doc, target, [...seen, ref])
  }
  const out: Record<string, any> = {}
  for (const [k, v] of Object.entries(s)) {
    if (DROPPED.has(k) || k.startsWith('x-')) continue
    out[k] = resolveSchema(doc, v, seen)
  }
  if ((s.nullable === true || s['x-nullable'] === true) && typeof s.type === 'string') out.type = [s.type, 'null']
  for (const [ex, bound] of [['exclusiveMinimum', 'minimum'], ['exclusiveMaximum', 'maximum']] as const) {
    if (typeof s[ex] !== 'boolean') continue
    if (s[ex] && typeof s[bound] === 'number') {
      out[ex] = s[bound]
      delete out[bound]
    } else {
      delete out[ex]
    }
  }
  if (out.type === 'file') out.type = 'string' // Swagger 2.0 upload: the content as a string
  return out
}

function deref<T = any>(doc: Record<string, any>, node: any): T {
  return node && typeof node.$ref === 'string' ? resolveSchema(doc, node) : node
}

/** Swagger 2.0 non-body parameters carry their schema inline: everything but the parameter's own keys. */
function swagger2ParamSchema(p: Record<string, any>): Record<string, any> {
  const { name: _n, in: _i, required: _r, description: _d, ...schema } = p
  return schema.type ? schema : { type: 'string', ...schema }
}

function serverUrlOf(doc: Record<string, any>): string {
  if (doc.swagger !== undefined) {
    const basePath = typeof doc.basePath === 'string' ? doc.basePath : ''
    if (!doc.host) return basePath
    const scheme = Array.isArray(doc.schemes) && doc.schemes.length ? (doc.schemes.includes('https') ? 'https' : doc.schemes[0]) : 'https'
    return `${scheme}://${doc.host}${basePath}`
  }
  return Array.isArray(doc.servers) && doc.servers[0]?.url ? String(doc.servers[0].url) : ''
}

/** The security alternatives of an operation, each scheme resolved to how it is applied. */
function securityOf(doc: Record<string, any>, op: Record<string, any>): SecurityApply[][] {
  const schemes: Record<string, any> = doc.swagger !== undefined ? (doc.securityDefinitions ?? {}) : (doc.components?.securitySchemes ?? {})
  const requirements: Record<string, unknown>[] = op.security ?? doc.security ?? []
  const alternatives: SecurityApply[][] = []
  for (const req of requirements) {
    const set: SecurityApply[] = []
    let usable = true
    for (const name of Object.keys(req ?? {})) {
      const def = deref(doc, schemes[name])
      if (!def) throw new OpenApiConversionError(`security requirement names an undefined scheme ${name}`)
      if (def.type === 'apiKey' && ['header', 'query', 'cookie'].includes(def.in) && typeof def.name === 'string') {
        set.push({ scheme: name, type: 'apiKey', in: def.in, name: def.name })
      } else if (def.type === 'basic' || (def.type === 'http' && /^basic$/i.test(def.scheme))) {
        set.push({ scheme: name, type: 'basic' })
      } else if ((def.type === 'http' && /^bearer$/i.test(def.scheme)) || def.type === 'oauth2' || def.type === 'openIdConnect') {
        set.push({ scheme: name, type: 'bearer' }) // the host holds the token; the flow is not ours to run
      } else {
        usable = false // e.g. mutualTLS, http digest: not applicable from a tool call
      }
    }
    if (usable) alternatives.push(set)
  }
  return alternatives
}

/** Convert every operation of a document with only local `$ref`s (see loadOpenApi). Throws OpenApiConversionError on a bad document. */
export function openApiToTools(doc: Record<string, any>): ConvertedOpenApi {
  const isV3 = !!doc && typeof doc.openapi === 'string' && doc.openapi.startsWith('3.')
  const isV2 = !!doc && doc.swagger === '2.0'
  if (!isV3 && !isV2) {
    throw new OpenApiConversionError('not an OpenAPI 3 or Swagger 2.0 document (missing or unsupported "openapi"/"swagger" version)')
  }
  const serverUrl = serverUrlOf(doc)
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
      let body: OperationPlan['body']
      const addBody = (schemaIn: unknown, isRequired: boolean, contentType: string, description?: string) => {
        const argName = taken.has('body') ? 'requestBody' : 'body'
        const schema = { ...(resolveSchema(doc, schemaIn ?? {}) as object) } as Record<string, any>
        if (description && !schema.description) schema.description = description
        properties[argName] = schema
        if (isRequired) required.push(argName)
        body = { argName, required: isRequired, contentType }
      }
      const consumes: string[] = op.consumes ?? doc.consumes ?? ['application/json']
      let bodyParam: any
      for (const p of byKey.values()) {
        if (p.in === 'body') {
          bodyParam = p // Swagger 2.0: added after the others, as OpenAPI 3's requestBody is
          continue
        }
        if (!['path', 'query', 'header', 'cookie', 'formData'].includes(p.in)) continue
        let argName = String(p.name)
        if (taken.has(argName)) argName = `${p.in}_${p.name}`
        taken.add(argName)
        const isRequired = p.in === 'path' ? true : p.required === true
        const raw = isV2 && !p.schema ? swagger2ParamSchema(p) : (p.schema ?? { type: 'string' })
        const schema = { ...(resolveSchema(doc, raw) as object) } as Record<string, any>
        if (p.description && !schema.description) schema.description = p.description
        properties[argName] = schema
        if (isRequired) required.push(argName)
        params.push({ name: String(p.name), in: p.in, argName, required: isRequired })
      }
      if (bodyParam) {
        const contentType = consumes.find((t) => /json/i.test(t)) ?? consumes[0] ?? 'application/json'
        addBody(bodyParam.schema, bodyParam.required === true, contentType, bodyParam.description)
      } else if (params.some((p) => p.in === 'formData')) {
        body = { argName: '', required: false, contentType: 'application/x-www-form-urlencoded' }
      }
      const rb = deref(doc, op.requestBody)
      if (rb?.content) {
        const contentType = Object.keys(rb.content).find((t) => /json/i.test(t)) ?? Object.keys(rb.content)[0]
        if (contentType) addBody(rb.content[contentType].schema, rb.required === true, contentType, rb.description)
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
      operations[name] = { toolName: name, method: upper, path, serverUrl, params, body, security: securityOf(doc, op) }
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
  if (plan.body?.argName && plan.body.required && args[plan.body.argName] === undefined) missing.push(plan.body.argName)
  return missing
}

function scalar(v: unknown): string {
  return typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v)
}

/**
 * The first security alternative the credentials cover, or none: an operation whose schemes have no
 * credentials is still called (the API answers 401, which the model sees).
 */
function chooseSecurity(plan: OperationPlan, credentials: Credentials): SecurityApply[] {
  return plan.security.find((alt) => alt.every((s) => credentials[s.scheme] !== undefined)) ?? []
}

/** Turn a tool call's arguments into the HTTP request the operation describes. */
export function buildHttpRequest(plan: OperationPlan, args: Record<string, unknown>, baseUrl: string, credentials: Credentials = {}): HttpRequestSpec {
  const missing = missingArguments(plan, args)
  if (missing.length) throw new OpenApiConversionError(`missing required argument(s): ${missing.join(', ')}`)

  let path = plan.path
  const query = new URLSearchParams()
  const form = new URLSearchParams()
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
      case 'formData':
        for (const item of Array.isArray(v) ? v : [v]) form.append(p.name, scalar(item))
        break
    }
  }
  for (const s of chooseSecurity(plan, credentials)) {
    const c = credentials[s.scheme]
    if (s.type === 'apiKey') {
      const key = typeof c === 'string' ? c : c.password
      if (s.in === 'header') headers[s.name.toLowerCase()] = key
      else if (s.in === 'query') query.set(s.name, key)
      else cookies.push(`${s.name}=${encodeURIComponent(key)}`)
    } else if (s.type === 'basic') {
      const userPass = typeof c === 'string' ? c : `${c.username}:${c.password}`
      headers.authorization = `Basic ${Buffer.from(userPass).toString('base64')}`
    } else {
      headers.authorization = `Bearer ${typeof c === 'string' ? c : c.password}`
    }
  }
  if (cookies.length) headers.cookie = cookies.join('; ')

  // The server URL may be absolute or relative to the host's base URL.
  const server = new URL(plan.serverUrl || '/', baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`)
  const url = new URL(server.href.replace(/\/+$/, '') + path)
  url.search = query.toString()

  const spec: HttpRequestSpec = { method: plan.method, url: url.href, headers }
  if (plan.body && !plan.body.argName) {
    if ([...form.keys()].length) {
      headers['content-type'] = plan.body.contentType
      spec.body = form.toString()
    }
  } else if (plan.body && args[plan.body.argName] !== undefined) {
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
  opts: { signal?: AbortSignal; timeoutMs?: number; fetchImpl?: typeof fetch; credentials?: Credentials } = {},
): Promise<CallToolResult> {
  let req: HttpRequestSpec
  try {
    req = buildHttpRequest(plan, args ?? {}, baseUrl, opts.credentials)
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
