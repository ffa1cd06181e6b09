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

// Upstream mcp-swagger-server names the client `clientInfo.sessionId`; the native parser takes it
// as `id`, and so does the event object handed out (the typed contract), keeping `sessionId` too.
function withClientId(e) {
  const c = e.clientInfo
  if (c !== undefined && c !== null && c.id === undefined && typeof c.sessionId === 'string') c.id = c.sessionId
  return e
}

function eventOf(line) {
  return withClientId(JSON.parse(line.slice(line.indexOf('{'))))
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
  #onEventsDropped
  #eventCapacity
  // servers already warned about dropped events (when there is no onEventsDropped)
  #warnedDrops = new Set()
  // writeQuiet(): serverId → the bytes (or text) written and not yet pushed
  #pending = new Map()
  #onLines
  #coalesceBytes
  // a setImmediate that pushes everything written this turn, when one is scheduled
  #flushTimer

  constructor(opts = {}) {
    if (opts === null || typeof opts !== 'object') throw new TypeError('options must be an object')
    const { maxLineBytes, errorThreshold, eventCapacity, onEvent, onParseErrorThreshold, onEventsDropped, onLines, coalesceBytes } = opts
    if (onLines !== undefined && typeof onLines !== 'function') throw new TypeError('onLines must be a function')
    if (coalesceBytes !== undefined && !(Number.isInteger(coalesceBytes) && coalesceBytes >= 1 && coalesceBytes <= 1 << 30)) {
      throw new TypeError('coalesceBytes must be an integer from 1 to 2^30')
    }
    if (onEvent !== undefined && typeof onEvent !== 'function') throw new TypeError('onEvent must be a function')
    if (onParseErrorThreshold !== undefined && typeof onParseErrorThreshold !== 'function') {
      throw new TypeError('onParseErrorThreshold must be a function')
    }
    if (onEventsDropped !== undefined && typeof onEventsDropped !== 'function') {
      throw new TypeError('onEventsDropped must be a function')
    }
    this.#native = native.eventHubNew(maxLineBytes, errorThreshold, eventCapacity)
    this.#onEvent = onEvent
    this.#onParseErrorThreshold = onParseErrorThreshold
    this.#onEventsDropped = onEventsDropped
    this.#eventCapacity = eventCapacity === undefined ? 1024 : eventCapacity
    this.#onLines = onLines
    this.#coalesceBytes = coalesceBytes === undefined ? 64 * 1024 : coalesceBytes
  }

  // Coalesced quiet mode: a call into the addon costs about a microsecond whatever the chunk's
  // size, so small chunks are copied into one buffer per server and pushed together (when it is
  // full, at the end of this event-loop turn, or before anything reads the hub's state).
  writeQuiet(serverId, chunk) {
    checkServerId(serverId)
    let p = this.#pending.get(serverId)
    if (p === undefined) {
      p = { buf: undefined, len: 0, text: '' }
      this.#pending.set(serverId, p)
    }
    if (typeof chunk === 'string') {
      if (p.len > 0) this.#flushOne(serverId, p)
      p.text += chunk
      if (p.text.length >= this.#coalesceBytes) this.#flushOne(serverId, p)
    } else if (chunk instanceof Uint8Array) {
      if (p.text.length > 0) this.#flushOne(serverId, p)
      const cap = this.#coalesceBytes
      if (p.len + chunk.length > cap) {
        if (p.len > 0) this.#flushOne(serverId, p)
        if (chunk.length >= cap) {
          // Too big to be worth copying: pushed as it is (everything before it already was).
          this.#deliver(serverId, this.pushQuiet(serverId, chunk))
          return
        }
      }
      // Copied, so the caller may reuse its buffer as soon as this returns.
      if (p.buf === undefined) p.buf = Buffer.allocUnsafe(cap)
      p.buf.set(chunk, p.len)
      p.len += chunk.length
    } else {
      throw new TypeError('chunk must be a Buffer, a Uint8Array or a string')
    }
    if (this.#flushTimer === undefined && (p.len > 0 || p.text.length > 0)) {
      this.#flushTimer = setImmediate(() => {
        this.#flushTimer = undefined
        this.flush()
      })
    }
  }

  flush(serverId) {
    if (serverId === undefined) {
      for (const [id, p] of this.#pending) this.#flushOne(id, p)
      return
    }
    checkServerId(serverId)
    const p = this.#pending.get(serverId)
    if (p !== undefined) this.#flushOne(serverId, p)
  }

  #flushOne(serverId, p) {
    let lines
    if (p.len > 0) {
      const n = p.len
      // Taken before the call: onLines may write again.
      p.len = 0
      lines = this.pushQuiet(serverId, p.buf.subarray(0, n))
    } else if (p.text.length > 0) {
      const t = p.text
      p.text = ''
      lines = this.pushQuiet(serverId, t)
    } else {
      return
    }
    this.#deliver(serverId, lines)
  }

  #deliver(serverId, lines) {
    if (lines.length === 0 || this.#onLines === undefined) return
    try {
      this.#onLines(serverId, lines)
    } catch (err) {
      rethrowLater(err)
    }
  }

  // Quiet mode: the native side keeps the stats and queues the events; JS gets only the lines
  // that are not events (one string per push, split here).
  pushQuiet(serverId, chunk) {
    checkServerId(serverId)
    this.#flushPending(serverId)
    let text
    if (typeof chunk === 'string') text = native.eventHubPushQuietString(this.#native, this.#slot(serverId), chunk)
    else if (chunk instanceof Uint8Array) text = native.eventHubPushQuietBuffer(this.#native, this.#slot(serverId), chunk)
    else throw new TypeError('chunk must be a Buffer, a Uint8Array or a string')
    return this.#decodeQuiet(serverId, text)
  }

  endQuiet(serverId) {
    checkServerId(serverId)
    this.#flushPending(serverId)
    const slot = this.#slots.get(serverId)
    if (slot === undefined) return []
    return this.#decodeQuiet(serverId, native.eventHubEndQuiet(this.#native, slot))
  }

  drainEvents(serverId, max) {
    if (serverId !== undefined) checkServerId(serverId)
    if (max !== undefined && (typeof max !== 'number' || !(max >= 0) || (Number.isFinite(max) && !Number.isInteger(max)))) {
      throw new TypeError('max must be a non-negative integer')
    }
    this.#flushPending(serverId)
    const json = native.eventHubDrainJson(this.#native, serverId, max)
    return json.length === 0 ? [] : JSON.parse(json)
  }

  #decodeQuiet(serverId, text) {
    if (text.length === 0) return []
    let start = 0
    if (text.charCodeAt(0) === 0) {
      // header: \0<threshold count or nothing>,<events dropped>\0 (see src/bindings/events.rs)
      const end = text.indexOf('\0', 1)
      const [count, dropped] = text.slice(1, end).split(',')
      start = end + 1
      this.#reportQuiet(serverId, count === '' ? undefined : Number(count), Number(dropped))
    }
    if (start === text.length) return []
    const lines = (start === 0 ? text : text.slice(start)).split('\n')
    lines.pop() // every line ends with \n
    return lines
  }

  #reportQuiet(serverId, count, dropped) {
    let callbackError
    if (count !== undefined && this.#onParseErrorThreshold !== undefined) {
      try {
        this.#onParseErrorThreshold(serverId, count)
      } catch (err) {
        callbackError = err
      }
    }
    if (dropped > 0) {
      if (this.#onEventsDropped !== undefined) {
        try {
          this.#onEventsDropped(serverId, dropped)
        } catch (err) {
          if (callbackError === undefined) callbackError = err
        }
      } else if (!this.#warnedDrops.has(serverId)) {
        // Never silent: without a callback, warn once per server (the count is in getStats()).
        this.#warnedDrops.add(serverId)
        process.emitWarning(
          `ConnectionEventHub: the event queue of server ${JSON.stringify(serverId)} is full ` +
            `(eventCapacity ${this.#eventCapacity}); the oldest events are dropped. Call drainEvents() ` +
            'more often or raise eventCapacity; getStats().droppedEvents counts them.',
          { code: 'MCP_CONNECTION_EVENTS_DROPPED' },
        )
      }
    }
    if (callbackError !== undefined) rethrowLater(callbackError)
  }

  push(serverId, chunk) {
    checkServerId(serverId)
    this.#flushPending(serverId)
    let batch
    if (typeof chunk === 'string') batch = native.eventHubPushString(this.#native, this.#slot(serverId), chunk)
    else if (chunk instanceof Uint8Array) batch = native.eventHubPushBuffer(this.#native, this.#slot(serverId), chunk)
    else throw new TypeError('chunk must be a Buffer, a Uint8Array or a string')
    return this.#decode(serverId, batch)
  }

  end(serverId) {
    checkServerId(serverId)
    this.#flushPending(serverId)
    const slot = this.#slots.get(serverId)
    // Only push() makes a server known.
    if (slot === undefined) return []
    return this.#decode(serverId, native.eventHubEnd(this.#native, slot))
  }

  // Nothing reads the hub's state, or pushes behind writeQuiet()'s back, before what was written
  // is pushed. A no-op (one Map size check) for hosts that never call writeQuiet().
  #flushPending(serverId) {
    if (this.#pending.size === 0) return
    if (serverId === undefined) this.flush()
    else {
      const p = this.#pending.get(serverId)
      if (p !== undefined && (p.len > 0 || p.text.length > 0)) this.#flushOne(serverId, p)
    }
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
    this.#flushPending(serverId)
    const json = native.eventHubStatsJson(this.#native, serverId)
    return json == null ? null : reviveStats(JSON.parse(json))
  }

  getAllStats() {
    this.#flushPending(undefined)
    return JSON.parse(native.eventHubAllStatsJson(this.#native)).map(reviveStats)
  }

  parseErrors(serverId) {
    checkServerId(serverId)
    this.#flushPending(serverId)
    return native.eventHubParseErrors(this.#native, serverId)
  }

  remove(serverId) {
    checkServerId(serverId)
    // What was written is still read (its lines delivered, its stats counted) before it goes.
    this.#flushPending(serverId)
    this.#pending.delete(serverId)
    this.#slots.delete(serverId)
    this.#warnedDrops.delete(serverId)
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
        withClientId(x)
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
