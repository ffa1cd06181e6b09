'use strict'
// The [MCP_CONNECTION] stdout event protocol, parent side (docs/api.md; the line format:
// docs/monitoring.md, "The [MCP_CONNECTION] line"). The work (line splitting, validation,
// stats) is native; this layer turns the native batch (one JSON array per push, see
// src/bindings/events.rs) into objects, calls the callbacks on the JS thread, and makes Dates.
const native = require('../native.js')

const TAG_EVENT = 69 // 'E' (parseConnectionEventLineRaw's records)
// An event line written exactly as `PREFIX + json` comes back as the JSON's place in the batch.
const PREFIX = '[MCP_CONNECTION] '

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
  // serverId → the native slot number that names it in the push calls
  #slots = new Map()
  #onEvent
  #onParseErrorThreshold

  constructor(opts = {}) {
    if (opts === null || typeof opts !== 'object') throw new TypeError('options must be an object')
    const { maxLineBytes, errorThreshold, onEvent, onParseErrorThreshold } = opts
    if (onEvent !== undefined && typeof onEvent !== 'function') throw new TypeError('onEvent must be a function')
    if (onParseErrorThreshold !== undefined && typeof onParseErrorThreshold !== 'function') {
      throw new TypeError('onParseErrorThreshold must be a function')
    }
    this.#native = native.eventHubNew(maxLineBytes, errorThreshold)
    this.#onEvent = onEvent
    this.#onParseErrorThreshold = onParseErrorThreshold
  }

  push(serverId, chunk) {
    checkServerId(serverId)
    let batch
    if (typeof chunk === 'string') batch = native.eventHubPushString(this.#native, this.#slot(serverId), chunk)
    else if (chunk instanceof Uint8Array) batch = native.eventHubPushBuffer(this.#native, this.#slot(serverId), chunk)
    else throw new TypeError('chunk must be a Buffer, a Uint8Array or a string')
    return this.#decode(serverId, batch)
  }

  end(serverId) {
    checkServerId(serverId)
    const slot = this.#slots.get(serverId)
    // Only push() makes a server known.
    if (slot === undefined) return []
    return this.#decode(serverId, native.eventHubEnd(this.#native, slot))
  }

  #slot(serverId) {
    let slot = this.#slots.get(serverId)
    if (slot === undefined) {
      slot = native.eventHubSlot(this.#native, serverId)
      this.#slots.set(serverId, slot)
    }
    return slot
  }

  getStats(serverId) {
    checkServerId(serverId)
    const json = native.eventHubStatsJson(this.#native, serverId)
    return json == null ? null : reviveStats(JSON.parse(json))
  }

  getAllStats() {
    return JSON.parse(native.eventHubAllStatsJson(this.#native)).map(reviveStats)
  }

  parseErrors(serverId) {
    checkServerId(serverId)
    return native.eventHubParseErrors(this.#native, serverId)
  }

  remove(serverId) {
    checkServerId(serverId)
    this.#slots.delete(serverId)
    native.eventHubRemove(this.#native, serverId)
  }

  #decode(serverId, batch) {
    const out = []
    if (batch.length === 0) return out
    // One native JSON.parse for the whole batch: log lines are strings, events are their own
    // (already validated) JSON objects, followed by where their line is (see the native docs).
    const items = JSON.parse(batch)
    const onEvent = this.#onEvent
    let callbackError
    const n = items.length
    for (let i = 0; i < n; i++) {
      const x = items[i]
      if (typeof x === 'string') {
        out.push({ type: 'log', serverId, line: x })
      } else if (x === null) {
        out.push({ type: 'parse_error', serverId, line: items[i + 1], error: items[i + 2] })
        i += 2
      } else if (typeof x === 'number') {
        if (this.#onParseErrorThreshold !== undefined) {
          try {
            this.#onParseErrorThreshold(serverId, x)
          } catch (err) {
            if (callbackError === undefined) callbackError = err
          }
        }
      } else {
        const at = items[++i]
        let line
        if (typeof at === 'number') line = PREFIX + batch.slice(at, items[++i])
        else line = at
        out.push({ type: 'event', serverId, line, event: x })
        if (onEvent !== undefined) {
          try {
            onEvent(serverId, x)
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
