'use strict'
// startStreamableMcpServer: the public face of the native server. Only what must run on the JS
// thread lives here: calling the host's callbacks, AbortSignals, Date objects. HTTP, JSON-RPC,
// sessions and monitoring are native.
const native = require('../native.js')
const { IdMap } = require('./idmap.js')

const CALLBACKS = ['callTool', 'readResource', 'getPrompt', 'complete']

// Answers at least this large count against maxResponseBytesInFlight (src/protocol/held.rs).
const LARGE_ANSWER = 64 * 1024
// A cheap lower bound of a result's JSON size: the text of its content items (tool results,
// prompts) and resource contents, where large answers carry their bulk. Other shapes count 0
// and are checked once serialized.
function answerSize(value) {
  if (value === null || typeof value !== 'object') return 0
  let n = 0
  for (const list of [value.content, value.contents, value.messages]) {
    if (!Array.isArray(list)) continue
    for (let i = 0; i < list.length; i++) {
      const item = list[i]
      if (item === null || typeof item !== 'object') continue
      const c = item.content !== null && typeof item.content === 'object' ? item.content : item
      if (typeof c.text === 'string') n += c.text.length
      if (typeof c.blob === 'string') n += c.blob.length
      if (typeof c.data === 'string') n += c.data.length
    }
  }
  return n
}

// Strings of a large answer at least this long are handed to Rust apart from the rest.
const PART_MIN = 4096
// Stands for a string handed apart; the nonce keeps it from matching anything a callback sends.
const PART_MARKER = `\u0000mcp-part-${require('node:crypto').randomBytes(6).toString('hex')}:`
const PART_MARKER_JSON = JSON.stringify(PART_MARKER).slice(1, -1)

// A shallow copy of a result with the long strings of its items (the fields answerSize counts)
// replaced by markers, the strings pushed on `parts`. The callback's own objects are untouched.
function withoutParts(value, parts) {
  const shell = { ...value }
  for (const key of ['content', 'contents', 'messages']) {
    const list = value[key]
    if (!Array.isArray(list)) continue
    shell[key] = list.map((item) => {
      if (item === null || typeof item !== 'object' || typeof item.toJSON === 'function') return item
      const c = item.content
      if (c !== null && typeof c === 'object' && !Array.isArray(c) && typeof c.toJSON !== 'function') {
        const cut = cutParts(c, parts)
        if (cut !== c) return { ...cutParts(item, parts), content: cut }
      }
      return cutParts(item, parts)
    })
  }
  return shell
}

function cutParts(item, parts) {
  let out = item
  for (const f of ['text', 'blob', 'data']) {
    const v = item[f]
    if (typeof v === 'string' && v.length >= PART_MIN) {
      if (out === item) out = { ...item }
      out[f] = PART_MARKER + parts.length
      parts.push(v)
    }
  }
  return out
}
const CHANGE_SPACING_MS = 50
// Flags of a handler-mode entry (src/bindings/handler.rs): invocations wait; heads wait.
const DRAIN = 2
const DONE = 4
const LEVELS = ['debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency']

function toInfo(raw) {
  const info = {
    sessionId: raw.sessionId,
    era: raw.era,
    clientIP: raw.clientIP,
    userAgent: raw.userAgent,
    connectedAt: new Date(raw.connectedAt),
    lastActivity: new Date(raw.lastActivity),
    requestCount: raw.requestCount,
  }
  if (raw.clientName !== undefined) info.clientName = raw.clientName
  if (raw.clientVersion !== undefined) info.clientVersion = raw.clientVersion
  if (raw.protocolVersion !== undefined) info.protocolVersion = raw.protocolVersion
  if (raw.auth !== undefined) info.auth = raw.auth
  return info
}

function toStats(json) {
  const raw = JSON.parse(json)
  return {
    activeConnections: raw.activeConnections,
    totalConnections: raw.totalConnections,
    connections: raw.connections.map(toInfo),
    ...(raw.bySubject ? { bySubject: raw.bySubject } : {}),
    ...(raw.otherSubjects ? { otherSubjects: raw.otherSubjects } : {}),
    lastUpdated: new Date(raw.lastUpdated),
  }
}

// Reports a throw from a host's monitor callback without letting it reach the native side.
function safely(name, fn, ...args) {
  try {
    const r = fn(...args)
    if (r && typeof r.then === 'function') r.then(undefined, (e) => reportHostError(name, e))
  } catch (e) {
    reportHostError(name, e)
  }
}

function reportHostError(name, e) {
  process.emitWarning(`mcp-swagger-native: ${name} threw: ${e && e.stack ? e.stack : e}`, 'MonitorCallbackWarning')
}

function errorPayload(e) {
  const out = { message: e instanceof Error ? e.message : typeof e === 'string' ? e : 'callback failed' }
  if (e && typeof e.code === 'number' && Number.isInteger(e.code)) out.code = e.code
  if (e && e.data !== undefined) {
    try {
      JSON.stringify(e.data)
      out.data = e.data
    } catch {}
  }
  return JSON.stringify(out)
}

// The context's data are read through accessors, so the object stays one allocation.
function lazy(name) {
  return {
    get() {
      return this._data()[name]
    },
    enumerable: true,
  }
}

class RequestContext {
  constructor(server, callId, data, principals = null, principalId = 0) {
    this._server = server
    this._callId = callId
    this._d = data
    this._controller = null
    this._aborted = null
    // The caller's principal (see the `auth` accessor): the server's entry for it when the
    // call was dispatched (JSON text, or the object once parsed), its id and the server's map.
    this._principals = principals
    this._principalId = principalId
    this._auth = principals === null ? undefined : principals.get(principalId)
  }

  _data() {
    return this._d
  }

  // Created on first use, like the data.
  get signal() {
    if (!this._controller) {
      this._controller = new AbortController()
      if (this._aborted !== null) this._controller.abort(this._aborted)
    }
    return this._controller.signal
  }

  _abort(reason) {
    if (this._aborted !== null) return
    this._aborted = new Error(reason || 'aborted')
    this._aborted.name = 'AbortError'
    if (this._controller) this._controller.abort(this._aborted)
  }

  sendProgress(progress, total, message) {
    this._server.sendProgress(this._callId, progress, total ?? undefined, message ?? undefined)
  }

  log(level, data, logger) {
    if (!LEVELS.includes(level)) throw new TypeError(`unknown log level ${level}`)
    this._server.log(this._callId, level, JSON.stringify(data === undefined ? null : data), logger ?? undefined)
  }

  // Rejects with the native side's Error: `code` and, when the client sent one, `data`.
  async request(method, params) {
    const text = await this._server.request(this._callId, method, params === undefined ? undefined : JSON.stringify(params))
    return JSON.parse(text)
  }

  closeStream() {
    this._server.closeStream(this._callId)
  }
}

class StreamableMcpServer {
  constructor(nativeServer) {
    this._native = nativeServer
    this.url = nativeServer.url
    this.port = nativeServer.port
  }

  getConnectionStats() {
    return toStats(this._native.statsJson())
  }

  getActiveConnections() {
    return this._native.activeConnections()
  }

  getConnectionInfo(sessionId) {
    const json = this._native.connectionInfoJson(String(sessionId))
    return json === null || json === undefined ? null : toInfo(JSON.parse(json))
  }

  setTools(tools) {
    this._native.setListing('tools', JSON.stringify(tools || []))
  }

  setPrompts(prompts) {
    this._native.setListing('prompts', JSON.stringify(prompts || []))
  }

  setResources(resources, templates) {
    this._native.setListing('resources', JSON.stringify(resources || []), templates === undefined ? undefined : JSON.stringify(templates))
  }

  notifyResourceUpdated(uri) {
    this._native.notifyResourceUpdated(String(uri))
  }

  // OpenMetrics text of this server's registry; rejects when `metrics` is off.
  async metrics() {
    return this._native.metricsText()
  }

  closeSession(sessionId) {
    return this._native.closeSession(String(sessionId))
  }

  // Every instance sharing this one's Redis prefix; rejects without the `shared` option.
  async getClusterStats() {
    const s = JSON.parse(await this._native.clusterStatsJson())
    return {
      ...s,
      instances: s.instances.map((i) => ({ ...i, startedAt: new Date(i.startedAt), lastSeen: new Date(i.lastSeen) })),
      connections: s.connections.map((c) => ({ ...toInfo(c), instanceId: c.instanceId })),
      lastUpdated: new Date(s.lastUpdated),
    }
  }

  // Resolves once the native side has closed and every monitor event it queued (the
  // onConnectionClosed of each session) has been delivered.
  close() {
    if (!this._closing) {
      const drained = new Promise((resolve) => {
        this._onDrained = resolve
      })
      this._closing = this._native.close().then(() => drained)
    }
    return this._closing
  }
}

function startStreamableMcpServer(opts = {}, monitor = {}) {
  return startServer(opts, monitor, null)
}

// Shared by startStreamableMcpServer and createStreamableMcpHandler (lib/handler.js): `Wrapper`
// is the handler class in handler mode (no listener), null for a listening server.
async function startServer(opts, monitor, Wrapper) {
  opts = opts === undefined ? {} : opts
  if (opts === null || typeof opts !== 'object') throw new TypeError('options must be an object')
  monitor = monitor || {}
  const callbacks = {}
  for (const name of CALLBACKS) {
    if (opts[name] !== undefined && typeof opts[name] !== 'function') throw new TypeError(`${name} must be a function`)
    callbacks[name] = opts[name]
  }
  const wire = {}
  for (const [k, v] of Object.entries(opts)) if (typeof v !== 'function') wire[k] = v
  wire.hasCallTool = !!callbacks.callTool
  wire.hasReadResource = !!callbacks.readResource
  wire.hasGetPrompt = !!callbacks.getPrompt
  wire.hasComplete = !!callbacks.complete
  if (opts.logger !== undefined && typeof opts.logger !== 'function') throw new TypeError('logger must be a function')
  const logger = opts.logger
  wire.hasLogger = typeof logger === 'function'
  if (Wrapper) wire.handlerMode = true
  // auth.verify stays in JS; the native side learns only that it exists.
  let verify
  if (opts.auth !== undefined && opts.auth !== null) {
    if (typeof opts.auth !== 'object') throw new TypeError('auth must be an object')
    const { verify: fn, ...rest } = opts.auth
    if (fn !== undefined && typeof fn !== 'function') throw new TypeError('auth.verify must be a function')
    wire.auth = { ...rest, hasVerify: typeof fn === 'function' }
    if (fn) {
      // Always answers a JSON string ("null": unknown token) or rejects; the native side
      // checks the shape, the audience and the expiry.
      verify = (token, ip, userAgent) =>
        Promise.resolve()
          .then(() => fn(token, userAgent === undefined || userAgent === null ? { ip } : { ip, userAgent }))
          .then((info) => JSON.stringify(info === undefined ? null : info))
    }
  }
  // Events no callback listens to are not sent across at all.
  wire.monitor = {
    established: typeof monitor.onConnectionEstablished === 'function',
    closed: typeof monitor.onConnectionClosed === 'function',
    rejected: typeof monitor.onConnectionRejected === 'function',
    changed: typeof monitor.onConnectionChange === 'function',
  }

  const contexts = new IdMap()
  // Aborts that arrived while their invocation still waited in the queue (a timeout or a
  // cancellation before JS got to it): applied when the call is dispatched.
  const earlyAborts = new Map()
  let server = null
  let wrapper = null
  let lastChange = 0
  let changeTimer = null
  const deliverChange = () => {
    if (changeTimer) clearTimeout(changeTimer)
    changeTimer = null
    lastChange = Date.now()
    // Taking the stats re-arms the change flag, so the next change is reported again.
    if (server) safely('onConnectionChange', monitor.onConnectionChange, toStats(server.takeStats()))
  }

  const finish = (callId, ok, value) => {
    contexts.delete(callId)
    if (!server) return
    if (Wrapper) {
      // Handler mode: the answers of the callbacks that settle together (a batch's, in one
      // run of microtasks) are handed over back to back, then their responses written (see
      // answerBatch).
      answers.push(callId, ok, value)
      if (answers.length === 3) queueMicrotask(answerBatch)
      return
    }
    answerSafely(callId, ok, value)
  }
  // A result whose getters throw fails the call with that error.
  const answerSafely = (callId, ok, value) => {
    try {
      return answer(callId, ok, value)
    } catch (e) {
      return answer(callId, false, e)
    }
  }
  // Handler mode: each answer may finish a request at once; its flags say what JS does next,
  // or the heads it finished come back with it ([flags, ticket, head, …]). The native calls
  // run in a row, then Node writes the responses: each part's code stays in cache.
  let answers = []
  const answerBatch = () => {
    const list = answers
    answers = []
    const outs = new Array(list.length / 3)
    for (let i = 0; i < list.length; i += 3) outs[i / 3] = answerSafely(list[i], list[i + 1], list[i + 2])
    for (let i = 0; i < outs.length; i++) {
      const r = outs[i]
      if (typeof r !== 'number') completed(r)
      else if (r > 1) settle(r)
    }
  }

  // Hands a callback's outcome to the native side; gives its flags (bit 0: still waited for).
  const answer = (callId, ok, value) => {
    if (ok) {
      // A large answer that cannot be held now (maxResponseBytesInFlight) is refused before it
      // is serialized: no copy of it is made (docs/hardening.md, "Answers in flight").
      const size = answerSize(value)
      if (size >= LARGE_ANSWER) {
        if (!server.answerFits(size)) {
          return server.resolveCall(callId, false, JSON.stringify({ answersInFlight: size }))
        }
        // Its large strings go to Rust as they are and are spliced in there: V8 makes no
        // serialized copy of them.
        if (typeof value.toJSON !== 'function') {
          const parts = []
          let shell
          try {
            shell = JSON.stringify(withoutParts(value, parts))
          } catch (e) {
            return server.resolveCall(callId, false, JSON.stringify({ badResult: true, message: `result is not serializable: ${e.message}` }))
          }
          return server.resolveCallParts(callId, shell, PART_MARKER_JSON, parts)
        }
      }
      let json
      try {
        json = JSON.stringify(value)
      } catch (e) {
        return server.resolveCall(callId, false, JSON.stringify({ badResult: true, message: `result is not serializable: ${e.message}` }))
      }
      if (json === undefined || value === null || typeof value !== 'object' || Array.isArray(value)) {
        return server.resolveCall(callId, false, JSON.stringify({ badResult: true, message: 'the callback must return an object' }))
      }
      return server.resolveCall(callId, true, json)
    }
    return server.resolveCall(callId, false, errorPayload(value))
  }

  // Handler mode (lib/handler.js): a native entry's flags. DRAIN: invocations wait; DONE:
  // requests finished and their heads wait in pollReady.
  let drainSoon = false
  const drainBatch = () => {
    drainSoon = false
    drain()
  }
  // `now`: drain at once (the handler's batch of requests has just been served).
  const settle = (flags, now) => {
    if (flags & DRAIN) {
      if (now) drain()
      else if (!drainSoon) {
        drainSoon = true
        setImmediate(drainBatch)
      }
    }
    if (flags & DONE && wrapper) completed(server.pollReady())
  }
  // Heads of finished requests, `[flags, ticket, head, …]`, to the handler; then what the
  // entry that gave them asks next.
  const completed = (out) => {
    wrapper._complete(out)
    if (out[0] > 1) settle(out[0])
  }

  // Called when invocations wait; takes every one of them in one crossing and one parse.
  let drainPending = false
  const drain = () => {
    if (!server) {
      drainPending = true
      return
    }
    const batch = JSON.parse(server.takeInvocations())
    for (let i = 0; i < batch.length; i++) {
      const b = batch[i]
      // The native side forgot which principals JS holds: so does JS (bounded).
      if (b === 'reset') {
        principals.clear()
        continue
      }
      // A principal's JSON text comes once, with the first call that names its id.
      if (b.length > 5) principals.set(b[4], b[5])
      dispatch(b[0], b[1], b[2], b[3], b[4])
    }
  }

  let lastDispatched = 0
  // This server's principals by id: JSON text until a callback reads ctx.auth, then one
  // frozen object shared by every call of that principal.
  const principals = new Map()
  const dispatch = (callId, kind, params, ctxData, principalId) => {
    if (callId > lastDispatched) lastDispatched = callId
    const ctx = principalId === undefined ? new RequestContext(server, callId, ctxData) : new RequestContext(server, callId, ctxData, principals, principalId)
    contexts.set(callId, ctx)
    if (earlyAborts.size > 0 && earlyAborts.has(callId)) {
      ctx._abort(earlyAborts.get(callId))
      earlyAborts.delete(callId)
    }
    const fn = callbacks[kind]
    let result
    try {
      if (!fn) throw new Error(`no ${kind} callback`)
      switch (kind) {
        case 'callTool':
          result = fn({ name: params.name, arguments: params.arguments || {} }, ctx)
          break
        case 'readResource':
          result = fn(params.uri, ctx)
          break
        case 'getPrompt':
          result = fn(params.name, params.arguments || {}, ctx)
          break
        case 'complete':
          result = fn(params.ref, params.argument, ctx)
          break
      }
    } catch (e) {
      finish(callId, false, e)
      return
    }
    if (result && typeof result.then === 'function') {
      result.then(
        (v) => finish(callId, true, v),
        (e) => finish(callId, false, e),
      )
    } else {
      finish(callId, true, result)
    }
  }

  const events = (kind, payload) => {
    switch (kind) {
      case 'abort': {
        const { callId, reason } = JSON.parse(payload)
        const ctx = contexts.get(callId)
        if (ctx) ctx._abort(reason)
        else if (callId > lastDispatched) earlyAborts.set(callId, reason)
        break
      }
      case 'established':
        if (monitor.onConnectionEstablished) safely('onConnectionEstablished', monitor.onConnectionEstablished, toInfo(JSON.parse(payload)))
        break
      case 'closed': {
        const { sessionId, durationMs, reason } = JSON.parse(payload)
        if (monitor.onConnectionClosed) safely('onConnectionClosed', monitor.onConnectionClosed, sessionId, durationMs, reason)
        break
      }
      case 'rejected': {
        const r = JSON.parse(payload)
        if (monitor.onConnectionRejected) safely('onConnectionRejected', monitor.onConnectionRejected, { reason: r.reason, clientIP: r.clientIP, at: new Date(r.at) })
        break
      }
      case 'logs': {
        // A batch of core log records: [[level, message, fields], ...].
        const batch = JSON.parse(payload)
        for (let i = 0; i < batch.length; i++) safely('logger', logger, batch[i][0], batch[i][1], batch[i][2])
        break
      }
      case 'drained':
        if (changeTimer) deliverChange()
        if (wrapper && wrapper._onDrained) wrapper._onDrained()
        break
      case 'changed': {
        // The native side queues one 'changed' until the stats are taken. Deliveries are also
        // spaced CHANGE_SPACING_MS apart, so a burst of thousands of sessions costs a few
        // stats snapshots, not one each; the last one always carries the final numbers.
        const wait = lastChange + CHANGE_SPACING_MS - Date.now()
        if (wait <= 0) deliverChange()
        else if (!changeTimer) changeTimer = setTimeout(deliverChange, wait)
        break
      }
    }
  }

  server = await native.startNativeServer(JSON.stringify(wire), drain, events, verify)
  if (drainPending) drain()
  wrapper = Wrapper ? new Wrapper(server, opts, settle) : new StreamableMcpServer(server)
  // Handler mode: requests woken on another thread (a timer, a stream, I/O) wait for a poll.
  if (Wrapper) server.setReadySink(() => settle(DONE))
  return wrapper
}

for (const name of ['sessionId', 'era', 'protocolVersion', 'clientInfo', 'clientCapabilities', 'inputResponses', 'requestState', 'requestId', 'headers', 'traceparent', 'tracestate']) {
  Object.defineProperty(RequestContext.prototype, name, lazy(name))
}

// ctx.auth: the call names its principal by id and the server keeps each principal once
// (dispatch), as JSON text until a callback reads it, then as one frozen object that every call
// of that principal shares: a principal costs one parse per token rather than one per call, and
// no callback can alter another's.
function deepFreeze(v) {
  if (v && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v)
    for (const k of Object.keys(v)) deepFreeze(v[k])
  }
  return v
}
Object.defineProperty(RequestContext.prototype, 'auth', {
  get() {
    let p = this._auth
    if (typeof p === 'string') {
      const known = this._principals.get(this._principalId)
      if (typeof known === 'object') {
        p = known // another call of this principal parsed it already
      } else {
        p = deepFreeze(JSON.parse(p))
        // Kept for the next calls, unless the map was reset since this call was dispatched.
        if (known === this._auth) this._principals.set(this._principalId, p)
      }
      this._auth = p
    }
    return p
  },
  enumerable: true,
})

module.exports = { startStreamableMcpServer, StreamableMcpServer }
// Not part of the public API (index.js spreads the enumerable exports).
Object.defineProperty(module.exports, 'startServer', { value: startServer, enumerable: false })
