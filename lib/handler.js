'use strict'
// createStreamableMcpHandler: the same native server without a listener. The host's HTTP server
// (node:http, Express, Fastify's raw objects, Nest) hands each request to handler.handle(req,
// res); the request crosses to Rust once, and the answer comes back whole (JSON, errors) or as
// an SSE stream written to `res`. See docs/handler-mode.md.
const { StreamableMcpServer } = require('./server.js')
const { startServer } = require('./server.js')

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
  constructor(nativeServer, opts) {
    super(nativeServer)
    // No listener: `url` is the endpoint path and `port` 0.
    this.endpoint = nativeServer.url
    this._maxBody = Number.isInteger(opts && opts.maxBodyBytes) ? opts.maxBodyBytes : DEFAULT_MAX_BODY
    this._streams = new Map()
    this._tickets = 0
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
    const socket = req.socket || {}
    const ticket = (this._tickets = (this._tickets + 1) >>> 0)
    // One 'close' listener for the whole exchange (no removal on the hot path): before the head
    // the client going away drops the request, as the listener drops a closed connection's;
    // during a stream it cancels the stream; after a whole answer it does nothing.
    const state = { phase: WAITING, stream: 0, ended: null }
    res.on('close', () => {
      if (state.phase === WAITING) {
        state.phase = GONE
        this._native.cancelServe(ticket)
      } else if (state.phase === STREAMING) {
        state.phase = DONE
        if (this._streams.delete(state.stream)) this._native.cancelStream(state.stream)
        state.ended()
      }
    })
    let head
    try {
      const auth = options && options.auth ? JSON.stringify(options.auth) : undefined
      // Every request is the endpoint's except the OAuth metadata paths (RFC 9728), which the
      // host routes here too: only those pass their real path.
      const url = req.originalUrl || req.url
      const path = typeof url === 'string' && url.startsWith('/.well-known/') ? url.split('?')[0] : undefined
      head = await this._native.serve(ticket, req.method, req.rawHeaders.join('\n'), body, socket.remoteAddress || '', socket.remotePort || 0, auth, path)
    } catch (e) {
      if (state.phase === WAITING) {
        state.phase = DONE
        badRequest(res, e.message)
      }
      return
    }
    // head: [status, headers, body | null, stream | null].
    const stream = head[3]
    if (state.phase !== WAITING || res.writableEnded || res.destroyed) {
      if (stream !== null) this._native.cancelStream(stream)
      return
    }
    // The head in one call, headers as the flat [name, value, …] list Rust made (merged with
    // any the host set before).
    res.writeHead(head[0], head[1])
    if (stream === null) {
      state.phase = DONE
      res.end(head[2] === null ? undefined : head[2])
      return
    }
    const id = stream
    this._streams.set(id, res)
    if (typeof res.flushHeaders === 'function') res.flushHeaders()
    state.stream = id
    await new Promise((resolve) => {
      state.ended = resolve
      state.phase = STREAMING
      this._native.startStream(id)
    })
  }
}

// handle()'s phases.
const WAITING = 0
const STREAMING = 1
const DONE = 2
const GONE = 3

async function createStreamableMcpHandler(opts = {}, monitor = {}) {
  return startServer(opts, monitor, StreamableMcpHandler)
}

module.exports = { createStreamableMcpHandler, StreamableMcpHandler }
