'use strict'
// The [MCP_CONNECTION] stdout event protocol, parent side (DESIGN §3–4). The work (line
// splitting, validation, stats) is native; this layer turns the native records into objects,
// calls the callbacks on the JS thread, and makes Dates.
const native = require('../native.js')

const TAG_EVENT = 69 // 'E'
const TAG_LOG = 76 // 'L'
const TAG_ERROR = 88 // 'X'
const TAG_THRESHOLD = 84 // 'T'

class ConnectionEventParseError extends Error {
  constructor(message, line) {
    super(message)
    this.name = 'ConnectionEventParseError'
    this.code = 'MCP_CONNECTION_PARSE_ERROR'
    this.line = line
  }
}

function eventOf(line) {
  return JSON.parse(line.slice(line.indexOf('{')))
}

function reviveStats(s) {
  for (const c of s.connections) c.connectedAt = new Date(c.connectedAt)
  if (s.lastEventAt !== undefined) s.lastEventAt = new Date(s.lastEventAt)
  return s
}

function checkServerId(serverId) {
  if (typeof serverId !== 'string') throw new TypeError('serverId must be a string')
}

function rethrowLater(err) {
  // A throwing callback must not cost the caller the lines of this chunk: surface it the way
  // an unhandled listener error would, after push() has returned.
  queueMicrotask(() => {
    throw err
  })
}

class ConnectionEventHub {
  #native
  #onEvent
  #onParseErrorThreshold

  constructor(opts = {}) {
    if (opts === null || typeof opts !== 'object') throw new TypeError('options must be an object')
    const { maxLineBytes, errorThreshold, onEvent, onParseErrorThreshold } = opts
    if (onEvent !== undefined && typeof onEvent !== 'function') throw new TypeError('onEvent must be a function')
    if (onParseErrorThreshold !== undefined && typeof onParseErrorThreshold !== 'function') {
      throw new TypeError('onParseErrorThreshold must be a function')
    }
    this.#native = new native.NativeConnectionEventHub(maxLineBytes, errorThreshold)
    this.#onEvent = onEvent
    this.#onParseErrorThreshold = onParseErrorThreshold
  }

  push(serverId, chunk) {
    checkServerId(serverId)
    let records
    if (typeof chunk === 'string') records = this.#native.pushString(serverId, chunk)
    else if (chunk instanceof Uint8Array) records = this.#native.pushBuffer(serverId, chunk)
    else throw new TypeError('chunk must be a Buffer, a Uint8Array or a string')
    return this.#decode(serverId, records)
  }

  end(serverId) {
    checkServerId(serverId)
    return this.#decode(serverId, this.#native.end(serverId))
  }

  getStats(serverId) {
    checkServerId(serverId)
    const json = this.#native.statsJson(serverId)
    return json == null ? null : reviveStats(JSON.parse(json))
  }

  getAllStats() {
    return JSON.parse(this.#native.allStatsJson()).map(reviveStats)
  }

  parseErrors(serverId) {
    checkServerId(serverId)
    return this.#native.parseErrors(serverId)
  }

  remove(serverId) {
    checkServerId(serverId)
    this.#native.remove(serverId)
  }

  #decode(serverId, records) {
    const out = []
    if (records.length === 0) return out
    const onEvent = this.#onEvent
    let callbackError
    const parts = records.split('\n')
    const n = parts.length - 1 // the records string ends with '\n'
    for (let i = 0; i < n; i++) {
      const rec = parts[i]
      const tag = rec.charCodeAt(0)
      if (tag === TAG_EVENT) {
        const line = rec.slice(1)
        const event = eventOf(line)
        out.push({ type: 'event', serverId, line, event })
        if (onEvent !== undefined) {
          try {
            onEvent(serverId, event)
          } catch (err) {
            if (callbackError === undefined) callbackError = err
          }
        }
      } else if (tag === TAG_LOG) {
        out.push({ type: 'log', serverId, line: rec.slice(1) })
      } else if (tag === TAG_ERROR) {
        out.push({ type: 'parse_error', serverId, line: rec.slice(1), error: parts[++i] })
      } else if (tag === TAG_THRESHOLD) {
        if (this.#onParseErrorThreshold !== undefined) {
          try {
            this.#onParseErrorThreshold(serverId, Number(rec.slice(1)))
          } catch (err) {
            if (callbackError === undefined) callbackError = err
          }
        }
      }
    }
    if (callbackError !== undefined) rethrowLater(callbackError)
    return out
  }
}

function parseConnectionEventLine(line) {
  if (typeof line !== 'string') throw new TypeError('line must be a string')
  const rec = native.parseConnectionEventLineRaw(line)
  if (rec.length === 0) return null
  if (rec.charCodeAt(0) === TAG_EVENT) return eventOf(rec.slice(1, -1))
  const nl = rec.indexOf('\n')
  const excerpt = rec.slice(1, nl)
  const message = rec.slice(nl + 1, -1)
  throw new ConnectionEventParseError(`malformed [MCP_CONNECTION] line: ${message}`, excerpt)
}

function formatConnectionEvent(e) {
  if (e === null || typeof e !== 'object') throw new TypeError('event must be an object')
  try {
    return native.formatConnectionEventJson(JSON.stringify(e))
  } catch (err) {
    throw new TypeError(err.message)
  }
}

module.exports = {
  ConnectionEventHub,
  ConnectionEventParseError,
  parseConnectionEventLine,
  formatConnectionEvent,
}
