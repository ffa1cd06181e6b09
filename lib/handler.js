'use strict'
// createStreamableMcpHandler: the same native server without a listener. The host's HTTP server
// (node:http, Express, Fastify's raw objects, Nest) hands each request to handler.handle(req,
// res); the request crosses to Rust once, and the answer comes back whole (JSON, errors) or as
// an SSE stream written to `res`. See docs/handler-mode.md.
const { StreamableMcpServer } = require('./server.js')
const { startServer } = require('./server.js')
const { IdMap } = require('./idmap.js')

const EMPTY = Buffer.alloc(0)
const DEFAULT_MAX_BODY = 4 * 1024 * 1024

// The request body, read up to one byte past the limit: Rust answers 413 beyond it.
function readBody(req, limit) {
  return new Promise((resolve, reject) => {
    const chunks = []
    let size = 0
    let done = false
    const finish = (err) => {
      if (done) return
      done = true
      req.off('data', onData)
      req.off('end', onEnd)
      req.off('error', onError)
      if (err) reject(err)
      else resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size))
    }
    const onData = (c) => {
      chunks.push(c)
      size += c.length
      if (size > limit) {
        req.pause()
        finish()
      }
    }
    const onEnd = () => finish()
    const onError = (e) => finish(e)
    req.on('data', onData)
    req.on('end', onEnd)
    req.on('error', onError)
  })
}

function toBuffer(body) {
  if (Buffer.isBuffer(body)) return body
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength)
  if (typeof body === 'string') return Buffer.from(body)
  // A body a framework's JSON parser already turned into a value.
  return Buffer.from(JSON.stringify(body))
}

function badRequest(res, message) {
  if (res.headersSent || res.writableEnded) return
  res.statusCode = 400
  res.setHeader('content-type', 'application/json')
  res.end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32600, message: `Invalid Request: ${message}` } }))
}

class StreamableMcpHandler extends StreamableMcpServer {
  constructor(nativeServer, opts, settle) {
    super(nativeServer)
    // No listener: `url` is the endpoint path and `port` 0.
    this.endpoint = nativeServer.url
    this._maxBody = Number.isInteger(opts && opts.maxBodyBytes) ? opts.maxBodyBytes : DEFAULT_MAX_BODY
    this._settle = settle
    // Requests whose head is not known yet, by ticket.
    this._waiting = new IdMap()
    this._streams = new IdMap()
    this._tickets = 0
    // Requests read and waiting for this turn's batch (see handle).
    this._queue = []
    this._flush = () => this._serveQueued()
    nativeServer.setChunkSink((id, chunk) => {
      const res = this._streams.get(id)
      if (!res) return
      if (chunk === null) {
        this._streams.delete(id)
        res.end()
      } else {
        res.write(chunk)
      }
    })
  }

  /**
   * Serves one request. Resolves when the response is complete (for a stream: when it ends or
   * the client goes away). Never rejects for a bad request: the client gets the error.
   */
  async handle(req, res, options) {
    if (!req || !res || typeof res.setHeader !== 'function') throw new TypeError('handle(req, res) needs a Node request and response')
    let body = EMPTY
    if (options && options.body !== undefined && options.body !== null) body = toBuffer(options.body)
    else if (req.method === 'POST') {
      try {
        body = await readBody(req, this._maxBody)
      } catch (e) {
        return badRequest(res, `the body could not be read (${e.message})`)
      }
    }
    const ticket = (this._tickets = (this._tickets + 1) >>> 0)
    const ex = new Exchange(this, ticket, res)
    ex.req = req
    ex.body = body
    // What the host may change once handle() has returned (a router restoring `req.url`, the
    // auth object) is taken now.
    try {
      ex.auth = options && options.auth ? JSON.stringify(options.auth) : undefined
    } catch (e) {
      return badRequest(res, e.message)
    }
    // Every request is the endpoint's except the OAuth metadata paths (RFC 9728), which the
    // host routes here too: only those pass their real path.
    const url = req.originalUrl || req.url
    ex.path = typeof url === 'string' && url.startsWith('/.well-known/') ? url.split('?')[0] : undefined
    const socket = req.socket || {}
    ex.ip = socket.remoteAddress || ''
    ex.port = socket.remotePort || 0
    // Served in a batch once this turn's I/O is done: the native side then runs for every
    // request of the turn in a row, with its code and data in cache, instead of between Node's
    // parsing of each (docs/handler-mode.md, "Where it runs").
    this._queue.push(ex)
    if (this._queue.length === 1) setImmediate(this._flush)
    return ex.done
  }

  // Serves the queued requests, writes what they were answered at once, then runs the
  // callbacks they invoked: each part runs for the whole batch in a row.
  _serveQueued() {
    const queue = this._queue
    this._queue = []
    let flags = 0
    // Answered at once: [exchange, head, …], written once the whole batch is served.
    const answered = []
    for (let i = 0; i < queue.length; i++) {
      const ex = queue[i]
      let served
      try {
        served = this._serve(ex)
      } catch (e) {
        // Not the client's fault (the host's response object threw, say): this request's
        // handle() rejects, the rest of the batch is served.
        ex.fail(e)
        continue
      }
      if (typeof served === 'number') flags |= served
      else {
        flags |= served[4]
        answered.push(ex, served)
      }
    }
    for (let i = 0; i < answered.length; i += 2) answered[i].respondSafely(answered[i + 1])
    if (flags > 1) this._settle(flags, true)
  }

  // One request through the native service, polled on this thread: most are answered before
  // it returns. Gives the head of an answer, else the entry's flags.
  _serve(ex) {
    const { req, res, body, ticket } = ex
    ex.req = ex.body = null
    let served
    try {
      served = this._native.serve(ticket, req.method, req.rawHeaders.join('\n'), body, ex.ip, ex.port, ex.auth, ex.path)
    } catch (e) {
      badRequest(res, e.message)
      ex.end()
      return 0
    }
    if (typeof served !== 'number') return served
    // Still being served: its head comes through _complete.
    this._waiting.set(ticket, ex)
    ex.listen()
    return served
  }

  // The heads pollReady gave: [flags, ticket, head, ticket, head, …].
  _complete(out) {
    for (let i = 1; i < out.length; i += 2) {
      const ex = this._waiting.get(out[i])
      const head = out[i + 1]
      if (ex === undefined) {
        // Its client went away meanwhile.
        if (head[3] !== null) this._native.cancelStream(head[3])
        continue
      }
      this._waiting.delete(out[i])
      ex.respondSafely(head)
    }
  }
}

// One request's response: written whole, or streamed; `done` (what handle() returns) resolves
// when it is finished.
class Exchange {
  constructor(handler, ticket, res) {
    this.handler = handler
    this.ticket = ticket
    this.res = res
    this.stream = 0
    this.phase = WAITING
    this.resolve = null
    this.reject = null
    this.done = new Promise((resolve, reject) => {
      this.resolve = resolve
      this.reject = reject
    })
    this.listening = false
    this.onClose = () => this.closed()
    // What the batch serves it with (cleared once served).
    this.req = null
    this.body = null
    this.auth = undefined
    this.path = undefined
    this.ip = ''
    this.port = 0
  }

  listen() {
    if (this.listening) return
    this.listening = true
    this.res.on('close', this.onClose)
  }

  end() {
    this.phase = DONE
    this.resolve()
  }

  // Writing the response may throw (the host had already sent a head, say): handle() then
  // rejects, and the rest of the batch is still answered.
  respondSafely(head) {
    try {
      this.respond(head)
    } catch (e) {
      this.fail(e)
    }
  }

  fail(e) {
    this.phase = DONE
    this.reject(e)
  }

  // Node closed the response: before the head the request is dropped, as the listener drops a
  // closed connection's; during a stream the stream is cancelled; after a whole answer nothing.
  closed() {
    const h = this.handler
    if (this.phase === WAITING) {
      if (h._waiting.delete(this.ticket)) {
        const flags = h._native.cancelServe(this.ticket)
        if (flags > 1) h._settle(flags)
      }
      this.end()
    } else if (this.phase === STREAMING) {
      if (h._streams.delete(this.stream)) h._native.cancelStream(this.stream)
      this.end()
    }
  }

  // head: [status, headers, body | null, stream | null, flags].
  respond(head) {
    const res = this.res
    const stream = head[3]
    if (res.writableEnded || res.destroyed) {
      if (stream !== null) this.handler._native.cancelStream(stream)
      return this.end()
    }
    // The head in one call, headers as the flat [name, value, …] list Rust made (merged with
    // any the host set before).
    res.writeHead(head[0], head[1])
    if (stream === null) {
      res.end(head[2] === null ? undefined : head[2])
      return this.end()
    }
    this.handler._streams.set(stream, res)
    if (typeof res.flushHeaders === 'function') res.flushHeaders()
    this.stream = stream
    this.listen()
    this.phase = STREAMING
    this.handler._native.startStream(stream)
  }
}

// An exchange's phases.
const WAITING = 0
const STREAMING = 1
const DONE = 2

async function createStreamableMcpHandler(opts = {}, monitor = {}) {
  return startServer(opts, monitor, StreamableMcpHandler)
}

module.exports = { createStreamableMcpHandler, StreamableMcpHandler }
