'use strict'
// mcp-swagger-native/nestjs: a NestJS module over the native server. Decorated provider methods
// become tools, resources and prompts; the server is the same object startStreamableMcpServer
// returns (or, mounted on the app, createStreamableMcpHandler's). Plain CommonJS with the
// decorators applied by hand, so it ships without a build step. See docs/nestjs.md.

let common
let core
try {
  common = require('@nestjs/common')
  core = require('@nestjs/core')
} catch (e) {
  const err = new Error(`mcp-swagger-native/nestjs needs @nestjs/common and @nestjs/core installed (${e.message})`)
  err.code = 'MCP_NESTJS_MISSING_PEER'
  throw err
}
const { Inject, Injectable, Module, SetMetadata, Logger } = common
const { DiscoveryModule, DiscoveryService, MetadataScanner, Reflector, ModuleRef } = core
const server = require('../server.js')
const { createStreamableMcpHandler } = require('../handler.js')

const MCP_NATIVE_OPTIONS = 'MCP_NATIVE_OPTIONS'
const MCP_TOOL = 'mcp-native:tool'
const MCP_RESOURCE = 'mcp-native:resource'
const MCP_PROMPT = 'mcp-native:prompt'
const EVENTS = {
  established: 'mcp.connection.established',
  closed: 'mcp.connection.closed',
  changed: 'mcp.connection.changed',
  rejected: 'mcp.connection.rejected',
}
// Module options that are not server options.
const MODULE_KEYS = ['path', 'mount', 'monitor', 'auth', 'oauth', 'global']
// RFC 9728: where a protected resource's metadata is served.
const WELL_KNOWN = '/.well-known/oauth-protected-resource'

// ---- decorators --------------------------------------------------------------------------

function McpTool(options) {
  if (!options || typeof options !== 'object') throw new TypeError('@McpTool needs options')
  return SetMetadata(MCP_TOOL, options)
}

function McpResource(options) {
  if (!options || typeof options !== 'object' || (!options.uri === !options.uriTemplate)) {
    throw new TypeError('@McpResource needs exactly one of uri and uriTemplate')
  }
  if (typeof options.name !== 'string') throw new TypeError('@McpResource needs a name')
  return SetMetadata(MCP_RESOURCE, options)
}

function McpPrompt(options) {
  if (!options || typeof options.name !== 'string') throw new TypeError('@McpPrompt needs a name')
  return SetMetadata(MCP_PROMPT, options)
}

// ---- schemas -----------------------------------------------------------------------------

// A zod 4 schema carries `_zod`; zod 3 only `_def` and `safeParse`.
function isZod(s) {
  return !!s && typeof s === 'object' && typeof s.safeParse === 'function' && ('_zod' in s || '_def' in s)
}

function zodToJsonSchema(schema, io, where) {
  if (!('_zod' in schema)) {
    throw new TypeError(`${where}: a zod 3 schema; use zod 4 (its z.toJSONSchema) or a JSON Schema object`)
  }
  let z
  try {
    z = require('zod')
  } catch {
    throw new TypeError(`${where}: a zod schema was given but zod is not installed`)
  }
  const toJSONSchema = z.toJSONSchema || (z.z && z.z.toJSONSchema)
  if (typeof toJSONSchema !== 'function') throw new TypeError(`${where}: the installed zod has no toJSONSchema (zod 4 needed)`)
  return toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any' })
}

function schemaOf(schema, io, where) {
  if (schema === undefined) return undefined
  if (isZod(schema)) return zodToJsonSchema(schema, io, where)
  if (schema === null || typeof schema !== 'object' || Array.isArray(schema)) throw new TypeError(`${where} must be a JSON Schema object or a zod schema`)
  return schema
}

// Prompt arguments as MCP wants them: a list, or derived from a zod object's shape.
function promptArguments(args, where) {
  if (args === undefined || Array.isArray(args)) return { list: args, zod: undefined }
  if (isZod(args)) {
    const json = zodToJsonSchema(args, 'input', where)
    const required = new Set(json.required || [])
    const list = Object.entries(json.properties || {}).map(([name, p]) => {
      const a = { name, required: required.has(name) }
      if (p && typeof p.description === 'string') a.description = p.description
      return a
    })
    return { list, zod: args }
  }
  throw new TypeError(`${where}: arguments must be a list or a zod object`)
}

// ---- results -----------------------------------------------------------------------------

// A method may return the MCP result itself, or a shorthand: a string is one text block, any
// other object is structured content with its JSON as text.
function toolResult(value) {
  if (value && typeof value === 'object' && (Array.isArray(value.content) || value.resultType === 'input_required')) return value
  if (typeof value === 'string') return { content: [{ type: 'text', text: value }] }
  if (value === undefined || value === null) return { content: [] }
  if (typeof value === 'object' && !Array.isArray(value)) return { content: [{ type: 'text', text: JSON.stringify(value) }], structuredContent: value }
  return { content: [{ type: 'text', text: JSON.stringify(value) }] }
}

function resourceResult(value, uri, mimeType) {
  if (value && typeof value === 'object' && (Array.isArray(value.contents) || value.resultType === 'input_required')) return value
  const item = { uri }
  if (mimeType) item.mimeType = mimeType
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) item.blob = Buffer.from(value).toString('base64')
  else if (typeof value === 'string') item.text = value
  else {
    item.text = JSON.stringify(value)
    if (!mimeType) item.mimeType = 'application/json'
  }
  return { contents: [item] }
}

function promptResult(value) {
  if (value && typeof value === 'object' && (Array.isArray(value.messages) || value.resultType === 'input_required')) return value
  if (typeof value === 'string') return { messages: [{ role: 'user', content: { type: 'text', text: value } }] }
  throw new TypeError('a prompt method must return a GetPromptResult or a string')
}

// RFC 6570 level 1-2 templates ({var}, {+var}) to a matcher; enough for resource URIs.
function templateMatcher(template) {
  const names = []
  let source = '^'
  let last = 0
  const re = /\{(\+?)([A-Za-z0-9_.]+)\}/g
  let m
  while ((m = re.exec(template))) {
    source += template.slice(last, m.index).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
    source += m[1] === '+' ? '(.+)' : '([^/?#]+)'
    names.push(m[2])
    last = re.lastIndex
  }
  source += template.slice(last).replace(/[.*+?^${}()|[\]\\]/g, '\\$&') + '$'
  const rx = new RegExp(source)
  return (uri) => {
    const hit = rx.exec(uri)
    if (!hit) return null
    const params = {}
    names.forEach((n, i) => {
      params[n] = decodeURIComponent(hit[i + 1])
    })
    return params
  }
}

function scopeError(needed, auth) {
  const have = new Set((auth && auth.scopes) || [])
  const missing = needed.filter((s) => !have.has(s))
  return missing.length ? `insufficient scope: this tool needs ${missing.join(', ')}` : null
}

// ---- the service -------------------------------------------------------------------------

class McpNativeService {
  constructor(options, discovery, scanner, reflector, moduleRef) {
    this._options = options || {}
    this._discovery = discovery
    this._scanner = scanner
    this._reflector = reflector
    this._moduleRef = moduleRef
    this._logger = new Logger('McpNativeService')
    this._server = null
    this._state = 'new'
    this._tools = new Map()
    this._resources = new Map()
    this._templates = []
    this._prompts = new Map()
    this._emitter = null
  }

  /** The mount mode: 'app' or { port }. */
  get mount() {
    return this._options.mount === undefined ? 'app' : this._options.mount
  }

  get path() {
    return this._options.path || '/mcp'
  }

  /** The server object (StreamableMcpServer, or the handler when mounted on the app). */
  get server() {
    if (!this._server) throw new Error('the MCP server is not started yet (it starts in onModuleInit)')
    return this._server
  }

  get url() {
    return this._server && this._server.url
  }

  get port() {
    return this._server && this._server.port
  }

  /** 'new' | 'running' | 'closing' | 'closed' */
  get state() {
    return this._state
  }

  async onModuleInit() {
    this._explore()
    this._emitter = this._findEmitter()
    const opts = this._serverOptions()
    const monitor = this._monitor()
    const mount = this.mount
    if (mount === 'app') {
      const oauth = this._options.oauth
      // No listener to derive the public URL from: the token audience and the metadata need it.
      if (oauth && (typeof oauth.resource !== 'string' || !oauth.resource)) {
        throw new TypeError("McpNativeModule: oauth.resource (the MCP endpoint's public URL, e.g. https://api.example.com/api/mcp) is required with mount 'app'")
      }
      this._server = await createStreamableMcpHandler({ ...opts, endpoint: this._endpoint() }, monitor)
      if (oauth) this._routeMetadata(oauth.resource)
      this._logger.log(`MCP endpoint ${this.path} on the app's server (${this._tools.size} tools)`)
    } else if (mount && typeof mount === 'object' && Number.isInteger(mount.port)) {
      const listen = { ...opts, port: mount.port, endpoint: this._endpoint() }
      if (mount.host !== undefined) listen.host = mount.host
      this._server = await server.startStreamableMcpServer(listen, monitor)
      this._logger.log(`MCP endpoint ${this._server.url} (${this._tools.size} tools)`)
    } else {
      throw new TypeError("McpNativeModule: mount must be 'app' or { port: number }")
    }
    this._state = 'running'
  }

  async onModuleDestroy() {
    await this.close()
  }

  /** Serves one request of the app's own HTTP server (mount: 'app'). */
  handle(req, res, options) {
    return this.server.handle(req, res, options)
  }

  getConnectionStats() {
    return this.server.getConnectionStats()
  }

  getActiveConnections() {
    return this.server.getActiveConnections()
  }

  getConnectionInfo(sessionId) {
    return this.server.getConnectionInfo(sessionId)
  }

  /** The tool definitions the server lists (decorated ones first). */
  getTools() {
    return this._toolList.slice()
  }

  /**
   * Adds tools answered by `handler` (or replaces those of the same name) and announces the
   * change; for tools known only at run time (generated from an OpenAPI document…).
   */
  registerTools(entries, options) {
    // Removed first, so a reload can drop and re-add tools with one tools/list_changed.
    if (options && options.remove) for (const name of options.remove) this._tools.delete(name)
    for (const { definition, handler } of entries) {
      if (typeof handler !== 'function') throw new TypeError(`tool ${definition && definition.name}: handler must be a function`)
      const def = { ...definition, inputSchema: schemaOf(definition.inputSchema, 'input', `tool ${definition.name}: inputSchema`) || { type: 'object' } }
      if (definition.outputSchema !== undefined) def.outputSchema = schemaOf(definition.outputSchema, 'output', `tool ${definition.name}: outputSchema`)
      const zod = isZod(definition.inputSchema) ? definition.inputSchema : undefined
      this._tools.set(def.name, { definition: def, call: (args, ctx) => handler(args, ctx), zod, requiredScopes: definition.requiredScopes })
    }
    this._toolList = [...this._tools.values()].map((t) => t.definition)
    if (this._server) this._server.setTools(this._toolList)
  }

  /** Drops tools added by registerTools (or decorated ones) by name; clients get tools/list_changed. */
  unregisterTools(names) {
    this.registerTools([], { remove: names })
  }

  setTools(tools) {
    this.server.setTools(tools)
  }

  /** The server's OpenMetrics text (needs the `metrics` option). */
  metrics() {
    return this.server.metrics()
  }

  setPrompts(prompts) {
    this.server.setPrompts(prompts)
  }

  setResources(resources, templates) {
    this.server.setResources(resources, templates)
  }

  notifyResourceUpdated(uri) {
    this.server.notifyResourceUpdated(uri)
  }

  closeSession(sessionId) {
    return this.server.closeSession(sessionId)
  }

  async close() {
    if (!this._server || this._state === 'closed') return
    if (!this._closing) {
      this._state = 'closing'
      this._closing = this._server.close().then(() => {
        this._state = 'closed'
      })
    }
    return this._closing
  }

  _endpoint() {
    return '/' + this.path.replace(/^\/+/, '')
  }

  // mount 'app' with oauth: the protected-resource metadata paths (the resource's, and the
  // bare one) as routes of the HTTP adapter itself, so the global prefix does not move them off
  // /.well-known; handle() answers them from the auth policy.
  _routeMetadata(resource) {
    let host
    try {
      host = this._moduleRef.get(core.HttpAdapterHost, { strict: false })
    } catch {
      host = null
    }
    const adapter = host && host.httpAdapter
    if (!adapter || typeof adapter.get !== 'function') {
      this._logger.warn(`no HTTP adapter: serve ${WELL_KNOWN} yourself (handle() answers it)`)
      return
    }
    const rpath = new URL(resource).pathname.replace(/\/+$/, '')
    const paths = [...new Set([WELL_KNOWN + rpath, WELL_KNOWN])]
    const serve = (req, res) => {
      // Fastify gives its own request and reply: the raw Node objects are what handle() takes.
      if (res && res.raw && typeof res.hijack === 'function') {
        res.hijack()
        return this.handle(req.raw, res.raw)
      }
      return this.handle(req, res)
    }
    for (const p of paths) adapter.get(p, serve)
  }

  // -- discovery --

  _explore() {
    for (const wrapper of this._discovery.getProviders()) {
      const instance = wrapper.instance
      if (!instance || typeof instance !== 'object') continue
      const proto = Object.getPrototypeOf(instance)
      if (!proto || proto === Object.prototype) continue
      const names = this._scanner.getAllMethodNames(proto)
      for (const key of names) {
        const fn = instance[key]
        if (typeof fn !== 'function') continue
        const tool = this._reflector.get(MCP_TOOL, fn)
        const resource = this._reflector.get(MCP_RESOURCE, fn)
        const prompt = this._reflector.get(MCP_PROMPT, fn)
        if (!tool && !resource && !prompt) continue
        if (!wrapper.isDependencyTreeStatic()) {
          throw new Error(`${wrapper.name}.${key}: MCP methods must be on singleton (not request-scoped) providers`)
        }
        const where = `${wrapper.name}.${key}`
        if (tool) this._addTool(tool, instance, key, where)
        if (resource) this._addResource(resource, instance, key)
        if (prompt) this._addPrompt(prompt, instance, key, where)
      }
    }
    this._toolList = [...this._tools.values()].map((t) => t.definition)
  }

  _addTool(meta, instance, key, where) {
    const name = meta.name || key
    if (this._tools.has(name)) throw new Error(`${where}: a tool named ${name} is already registered`)
    const def = { name }
    if (meta.title !== undefined) def.title = meta.title
    if (meta.description !== undefined) def.description = meta.description
    def.inputSchema = schemaOf(meta.inputSchema, 'input', `${where}: inputSchema`) || { type: 'object' }
    if (meta.outputSchema !== undefined) def.outputSchema = schemaOf(meta.outputSchema, 'output', `${where}: outputSchema`)
    if (meta.annotations !== undefined) def.annotations = meta.annotations
    if (meta.icons !== undefined) def.icons = meta.icons
    if (meta._meta !== undefined) def._meta = meta._meta
    this._tools.set(name, {
      definition: def,
      call: (args, ctx) => instance[key](args, ctx),
      zod: isZod(meta.inputSchema) ? meta.inputSchema : undefined,
      requiredScopes: meta.requiredScopes,
    })
  }

  _addResource(meta, instance, key) {
    const def = { name: meta.name }
    for (const k of ['title', 'description', 'mimeType', 'size', 'annotations', 'icons', '_meta']) if (meta[k] !== undefined) def[k] = meta[k]
    const call = (uri, params, ctx) => instance[key]({ uri, params }, ctx)
    if (meta.uri) {
      this._resources.set(meta.uri, { definition: { uri: meta.uri, ...def }, call })
    } else {
      this._templates.push({ definition: { uriTemplate: meta.uriTemplate, ...def }, match: templateMatcher(meta.uriTemplate), call })
    }
  }

  _addPrompt(meta, instance, key, where) {
    if (this._prompts.has(meta.name)) throw new Error(`${where}: a prompt named ${meta.name} is already registered`)
    const { list, zod } = promptArguments(meta.arguments, `${where}: arguments`)
    const def = { name: meta.name }
    for (const k of ['title', 'description', 'icons', '_meta']) if (meta[k] !== undefined) def[k] = meta[k]
    if (list) def.arguments = list
    this._prompts.set(meta.name, { definition: def, call: (args, ctx) => instance[key](args, ctx), zod })
  }

  // -- the server --

  _serverOptions() {
    const o = {}
    for (const [k, v] of Object.entries(this._options)) if (!MODULE_KEYS.includes(k)) o[k] = v
    // The module's `auth` is a principal function; the server's `auth` is the OAuth option.
    if (this._options.oauth) o.auth = this._options.oauth
    const fallback = {
      callTool: this._options.callTool,
      readResource: this._options.readResource,
      getPrompt: this._options.getPrompt,
    }
    o.tools = [...this._toolList, ...(this._options.tools || [])]
    const resources = [...this._resources.values()].map((r) => r.definition)
    const templates = this._templates.map((t) => t.definition)
    o.resources = [...resources, ...(this._options.resources || [])]
    o.resourceTemplates = [...templates, ...(this._options.resourceTemplates || [])]
    o.prompts = [...[...this._prompts.values()].map((p) => p.definition), ...(this._options.prompts || [])]
    o.callTool = async (call, ctx) => {
      const tool = this._tools.get(call.name)
      if (!tool) {
        if (fallback.callTool) return fallback.callTool(call, ctx)
        throw new Error(`no handler for tool ${call.name}`)
      }
      if (tool.requiredScopes && tool.requiredScopes.length) {
        const refused = scopeError(tool.requiredScopes, ctx.auth)
        if (refused) return { content: [{ type: 'text', text: refused }], isError: true }
      }
      let args = call.arguments
      if (tool.zod) {
        // The JSON Schema check ran in Rust; zod adds its defaults, transforms and refinements.
        const parsed = await tool.zod.safeParseAsync(args)
        if (!parsed.success) {
          const detail = parsed.error.issues.map((i) => `${i.path.length ? '/' + i.path.join('/') : '(root)'}: ${i.message}`).join('; ')
          return { content: [{ type: 'text', text: `Invalid arguments for tool ${call.name}: ${detail}` }], isError: true }
        }
        args = parsed.data
      }
      return toolResult(await tool.call(args, ctx))
    }
    if (this._resources.size || this._templates.length || fallback.readResource) {
      o.readResource = async (uri, ctx) => {
        const fixed = this._resources.get(uri)
        if (fixed) return resourceResult(await fixed.call(uri, {}, ctx), uri, fixed.definition.mimeType)
        for (const t of this._templates) {
          const params = t.match(uri)
          if (params) return resourceResult(await t.call(uri, params, ctx), uri, t.definition.mimeType)
        }
        if (fallback.readResource) return fallback.readResource(uri, ctx)
        const e = new Error(`Resource not found: ${uri}`)
        e.code = -32002
        throw e
      }
    }
    if (this._prompts.size || fallback.getPrompt) {
      o.getPrompt = async (name, args, ctx) => {
        const p = this._prompts.get(name)
        if (!p) {
          if (fallback.getPrompt) return fallback.getPrompt(name, args, ctx)
          throw new Error(`no handler for prompt ${name}`)
        }
        let a = args
        if (p.zod) {
          const parsed = await p.zod.safeParseAsync(args)
          if (!parsed.success) {
            const e = new Error(`Invalid arguments for prompt ${name}: ${parsed.error.issues.map((i) => i.message).join('; ')}`)
            e.code = -32602
            throw e
          }
          a = parsed.data
        }
        return promptResult(await p.call(a, ctx))
      }
    }
    return o
  }

  _findEmitter() {
    let EventEmitter2
    try {
      EventEmitter2 = require('@nestjs/event-emitter').EventEmitter2
    } catch {
      return null
    }
    try {
      return this._moduleRef.get(EventEmitter2, { strict: false }) || null
    } catch {
      // Installed but EventEmitterModule not imported: nothing to emit on.
      return null
    }
  }

  // Only events someone listens to are asked for: unrequested ones are never sent to JS.
  _monitor() {
    const user = this._options.monitor || {}
    const emitter = this._emitter
    const m = {}
    const wire = (cb, event, toPayload) => {
      if (!user[cb] && !emitter) return
      m[cb] = (...args) => {
        if (user[cb]) user[cb](...args)
        if (emitter) emitter.emit(event, toPayload(...args))
      }
    }
    wire('onConnectionEstablished', EVENTS.established, (c) => c)
    wire('onConnectionClosed', EVENTS.closed, (sessionId, durationMs) => ({ sessionId, durationMs }))
    wire('onConnectionChange', EVENTS.changed, (s) => s)
    wire('onConnectionRejected', EVENTS.rejected, (r) => r)
    return m
  }
}

// ---- health ------------------------------------------------------------------------------

class McpHealthIndicator {
  constructor(service, moduleRef) {
    this._service = service
    this._moduleRef = moduleRef
  }

  /**
   * `{ [key]: { status: 'up', activeConnections, totalConnections } }` while the server runs.
   * With @nestjs/terminus 11 (HealthIndicatorService) a stopped server is reported down;
   * with older terminus a HealthCheckError is thrown.
   */
  async isHealthy(key = 'mcp') {
    const running = this._service.state === 'running'
    const details = { mount: typeof this._service.mount === 'string' ? this._service.mount : 'port' }
    if (running) {
      const stats = this._service.getConnectionStats()
      details.activeConnections = stats.activeConnections
      details.totalConnections = stats.totalConnections
    } else {
      details.state = this._service.state
    }
    let terminus = null
    try {
      terminus = require('@nestjs/terminus')
    } catch {}
    if (terminus && terminus.HealthIndicatorService) {
      let his = null
      try {
        his = this._moduleRef.get(terminus.HealthIndicatorService, { strict: false })
      } catch {}
      if (his) {
        const check = his.check(key)
        return running ? check.up(details) : check.down(details)
      }
    }
    const result = { [key]: { status: running ? 'up' : 'down', ...details } }
    if (!running && terminus && terminus.HealthCheckError) throw new terminus.HealthCheckError('MCP server is not running', result)
    return result
  }
}

// ---- the controller (mount: 'app') ---------------------------------------------------------

// A controller class per module instance: its route path is the module's `path`, so the
// app's global prefix, guards, interceptors and filters apply to it like to any other route.
function mcpController(path, authOf) {
  class McpController {
    constructor(service) {
      this._service = service
    }

    async handle(req, res) {
      let auth
      if (authOf) auth = await authOf(req)
      else if (req.auth && typeof req.auth === 'object') auth = req.auth
      const options = {}
      if (auth) options.auth = auth
      if (req.rawBody && Buffer.isBuffer(req.rawBody)) options.body = req.rawBody
      // Fastify gives its own request and reply: handle() takes the raw Node objects, and the
      // reply is hijacked so Fastify does not answer too. Its parser has read the body already.
      if (res && res.raw && typeof res.hijack === 'function' && req && req.raw) {
        if (options.body === undefined && req.body !== undefined && req.body !== null) options.body = req.body
        res.hijack()
        await this._service.handle(req.raw, res.raw, options)
        return
      }
      // Express' JSON parser may have consumed the body already.
      if (options.body === undefined && req.body !== undefined && req.readableEnded) options.body = req.body
      await this._service.handle(req, res, options)
    }
  }
  Object.defineProperty(McpController, 'name', { value: 'McpController' })
  Inject(McpNativeService)(McpController, undefined, 0)
  const desc = Object.getOwnPropertyDescriptor(McpController.prototype, 'handle')
  common.All(path)(McpController.prototype, 'handle', desc)
  common.Req()(McpController.prototype, 'handle', 0)
  common.Res()(McpController.prototype, 'handle', 1)
  common.Controller()(McpController)
  return McpController
}

// ---- the module --------------------------------------------------------------------------

class McpNativeModule {
  /** Server options plus `path` (default '/mcp') and `mount` ('app' (default) or { port }). */
  static forRoot(options = {}) {
    return McpNativeModule._dynamic(options, [{ provide: MCP_NATIVE_OPTIONS, useValue: options }], [])
  }

  /**
   * Options from a factory. `path`, `mount` and `auth` are structural (the route is declared
   * before factories run), so they are given here, not by the factory.
   */
  static forRootAsync(options) {
    if (!options || typeof options.useFactory !== 'function') throw new TypeError('forRootAsync needs useFactory')
    const { path, mount, auth, global } = options
    const provider = {
      provide: MCP_NATIVE_OPTIONS,
      inject: options.inject || [],
      useFactory: async (...deps) => {
        const o = (await options.useFactory(...deps)) || {}
        const merged = { ...o }
        if (path !== undefined) merged.path = path
        if (mount !== undefined) merged.mount = mount
        if (auth !== undefined) merged.auth = auth
        return merged
      },
    }
    return McpNativeModule._dynamic({ path, mount, auth, global }, [provider], options.imports || [])
  }

  static _dynamic(structural, optionProviders, imports) {
    const mount = structural.mount === undefined ? 'app' : structural.mount
    const controllers = mount === 'app' ? [mcpController(structural.path || '/mcp', structural.auth)] : []
    return {
      module: McpNativeModule,
      global: structural.global !== false,
      imports: [DiscoveryModule, ...imports],
      controllers,
      providers: [...optionProviders, McpNativeService, McpHealthIndicator],
      exports: [McpNativeService, McpHealthIndicator],
    }
  }
}

// Decorators applied by hand: constructor injection by token (no emitted metadata in JS).
Inject(MCP_NATIVE_OPTIONS)(McpNativeService, undefined, 0)
Inject(DiscoveryService)(McpNativeService, undefined, 1)
Inject(MetadataScanner)(McpNativeService, undefined, 2)
Inject(Reflector)(McpNativeService, undefined, 3)
Inject(ModuleRef)(McpNativeService, undefined, 4)
Injectable()(McpNativeService)
Inject(McpNativeService)(McpHealthIndicator, undefined, 0)
Inject(ModuleRef)(McpHealthIndicator, undefined, 1)
Injectable()(McpHealthIndicator)
Module({})(McpNativeModule)

module.exports = {
  McpNativeModule,
  McpNativeService,
  McpHealthIndicator,
  McpTool,
  McpResource,
  McpPrompt,
  MCP_NATIVE_OPTIONS,
  MCP_NATIVE_EVENTS: EVENTS,
}
