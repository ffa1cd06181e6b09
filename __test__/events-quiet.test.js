'use strict'
// Quiet mode (pushQuiet / endQuiet / drainEvents) must find exactly what push() finds, however
// the stream is cut: the same events in the same order, the same non-event lines, the same stats
// and parse-error counts, and nothing dropped unless the queue was full (and then reported).
const { spawnSync } = require('node:child_process')
const path = require('node:path')
const { ConnectionEventHub, formatConnectionEvent } = require('..')

function rng(seed) {
  return () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff)
}

const ts = (n) => new Date(Date.parse('2026-11-24T00:00:00.000Z') + n * 37).toISOString()

// A stream of one server's stdout: every event type, non-ASCII, a line starting with NUL, empty
// lines, CRLF, malformed event lines and one over-long line.
function stream(seed, serverId) {
  const rand = rng(seed)
  const pick = (a) => a[Math.floor(rand() * a.length)]
  const open = []
  let total = 0
  const lines = []
  for (let n = 0; n < 1200; n++) {
    const r = rand()
    const stats = () => ({ totalConnections: total, activeConnections: open.length, maxConnections: 50 })
    let l
    if (r < 0.2 || (r < 0.45 && open.length === 0)) {
      total++
      const c = { id: `${serverId}-${total}`, remoteAddress: '127.0.0.1', connectedAt: ts(n), era: pick(['legacy', 'modern']), clientName: pick(['ü', 'cli', '工具']) }
      open.push(c)
      l = formatConnectionEvent({ type: 'MCP_CONNECTION_EVENT', eventType: 'connected', serverId, clientInfo: c, connectionStats: stats(), timestamp: ts(n) }).slice(0, -1)
    } else if (r < 0.35) {
      const [c] = open.splice(Math.floor(rand() * open.length), 1)
      l = formatConnectionEvent({ type: 'MCP_CONNECTION_EVENT', eventType: 'disconnected', serverId, clientInfo: c, connectionStats: stats(), durationMs: n, reason: pick(['deleted', 'idle_timeout']), timestamp: ts(n) }).slice(0, -1)
    } else if (r < 0.4) {
      l = '  [MCP_CONNECTION]\t' + JSON.stringify({ type: 'MCP_CONNECTION_EVENT', eventType: 'stats_update', connectionStats: stats(), timestamp: ts(n) }) + ' '
    } else if (r < 0.42) {
      l = formatConnectionEvent({ type: 'MCP_CONNECTION_EVENT', eventType: 'connection_rejected', serverId, reason: 'max_connections', connectionStats: stats(), timestamp: ts(n) }).slice(0, -1)
    } else if (r < 0.46) {
      l = pick(['[MCP_CONNECTION] {bad json é', '[MCP_CONNECTION] {"type":"MCP_CONNECTION_EVENT"}', '[MCP_CONNECTION]'])
    } else if (n === 600) {
      l = 'z'.repeat(5000)
    } else {
      l = pick(['', 'plain', 'ünï ✓ 工具调用', '\u0000 starts with NUL', 'tab\there', '😀 astral', 'cr\rmid', 'x'.repeat(300)])
    }
    lines.push(l + pick(['\n', '\r\n']))
  }
  return lines.join('') + 'unterminated tail'
}

// Random cuts: Buffers cut anywhere (inside UTF-8 characters too), or strings cut between
// code points.
function cuts(text, rand, asString) {
  const out = []
  if (asString) {
    const cps = Array.from(text)
    for (let i = 0; i < cps.length; ) {
      const k = 1 + Math.floor(rand() * (rand() < 0.5 ? 16 : 3000))
      out.push(cps.slice(i, i + k).join(''))
      i += k
    }
  } else {
    const buf = Buffer.from(text)
    for (let i = 0; i < buf.length; ) {
      const k = 1 + Math.floor(rand() * (rand() < 0.5 ? 16 : 3000))
      out.push(buf.subarray(i, i + k))
      i += k
    }
  }
  return out
}

const OPTS = { maxLineBytes: 2048, errorThreshold: 5 }

test('same events, lines, stats and parse errors as push(), however the stream is cut', () => {
  const ids = ['srv-a', 'srv-ü']
  const texts = ids.map((id, i) => stream(11 + i, id))
  // What push() finds, fed whole.
  const ref = new ConnectionEventHub(OPTS)
  const want = { events: [], lines: new Map(ids.map((id) => [id, []])) }
  for (const [i, id] of ids.entries()) {
    for (const o of [...ref.push(id, texts[i]), ...ref.end(id)]) {
      if (o.type === 'event') want.events.push({ serverId: id, event: o.event })
      // push() gives a malformed line as an excerpt (these are short enough to be whole), quiet
      // mode as it was; both give an over-long line's excerpt.
      else want.lines.get(id).push(o.line)
    }
  }
  const eventCount = ref.getAllStats().reduce((n, s) => n + s.eventCount, 0)
  expect(want.events.length).toBe(eventCount)
  expect(eventCount).toBeGreaterThan(1000)
  expect(ref.getAllStats().every((s) => s.parseErrorCount > 10)).toBe(true)

  for (let seed = 1; seed <= 6; seed++) {
    const rand = rng(seed)
    const asString = seed % 2 === 0
    const hub = new ConnectionEventHub({ ...OPTS, eventCapacity: 10_000, onEventsDropped: () => { throw new Error('dropped') } })
    const thresholds = []
    const hub2 = new ConnectionEventHub({ ...OPTS, onParseErrorThreshold: (id, n) => thresholds.push([id, n]) })
    const queues = ids.map((id, i) => cuts(texts[i], rand, asString))
    const got = new Map(ids.map((id) => [id, []]))
    const drained = new Map(ids.map((id) => [id, []]))
    // Interleave the servers' chunks; drain at random moments, sometimes partially.
    while (queues.some((q) => q.length > 0)) {
      const i = Math.floor(rand() * ids.length)
      const c = queues[i].shift()
      if (c === undefined) continue
      got.get(ids[i]).push(...hub.pushQuiet(ids[i], c))
      hub2.pushQuiet(ids[i], c)
      if (rand() < 0.1) {
        for (const e of hub.drainEvents(rand() < 0.5 ? ids[i] : undefined, rand() < 0.5 ? 3 : undefined)) drained.get(e.serverId).push(e)
      }
    }
    for (const id of ids) {
      got.get(id).push(...hub.endQuiet(id))
      hub2.endQuiet(id)
    }
    for (const e of hub.drainEvents()) drained.get(e.serverId).push(e)
    expect(hub.drainEvents()).toEqual([])
    for (const id of ids) {
      expect({ seed, id, lines: got.get(id) }).toEqual({ seed, id, lines: want.lines.get(id) })
      expect({ seed, id, events: drained.get(id) }).toEqual({ seed, id, events: want.events.filter((e) => e.serverId === id) })
      const { pendingEvents, droppedEvents, ...stats } = hub.getStats(id)
      expect({ pendingEvents, droppedEvents }).toEqual({ pendingEvents: 0, droppedEvents: 0 })
      expect(stats).toEqual(ref.getStats(id))
    }
    expect(thresholds.sort()).toEqual(ids.map((id) => [id, 6]).sort())
  }
})

test('a full queue drops the oldest events, counts them and reports them', () => {
  const ev = (i) => formatConnectionEvent({ type: 'MCP_CONNECTION_EVENT', eventType: 'stats_update', connectionStats: { totalConnections: i, activeConnections: 0 }, timestamp: ts(i) })
  const reports = []
  const hub = new ConnectionEventHub({ eventCapacity: 3, onEventsDropped: (id, n) => reports.push([id, n]) })
  let text = 'log\n'
  for (let i = 1; i <= 5; i++) text += ev(i)
  expect(hub.pushQuiet('s', text)).toEqual(['log'])
  expect(reports).toEqual([['s', 2]])
  expect(hub.getStats('s')).toMatchObject({ eventCount: 5, pendingEvents: 3, droppedEvents: 2, totalConnections: 5 })
  expect(hub.drainEvents('s', 2).map((e) => e.event.connectionStats.totalConnections)).toEqual([3, 4])
  expect(hub.drainEvents('other')).toEqual([])
  expect(hub.drainEvents().map((e) => [e.serverId, e.event.connectionStats.totalConnections])).toEqual([['s', 5]])
  expect(hub.getStats('s')).toMatchObject({ pendingEvents: 0, droppedEvents: 2 })
  expect(hub.pushQuiet('s', ev(6))).toEqual([])
  expect(reports).toEqual([['s', 2]])

  // eventCapacity 0: stats only; nothing is queued, so nothing is dropped.
  const statsOnly = new ConnectionEventHub({ eventCapacity: 0, onEventsDropped: () => reports.push('no') })
  statsOnly.pushQuiet('s', text)
  expect(statsOnly.getStats('s')).toMatchObject({ eventCount: 5, pendingEvents: 0, droppedEvents: 0 })
  expect(statsOnly.drainEvents()).toEqual([])
  expect(reports).toEqual([['s', 2]])
})

test('without onEventsDropped, dropping warns once per server', () => {
  // A plain Node process: Jest's sandbox does not see the process's warnings.
  const script = `
    const { ConnectionEventHub, formatConnectionEvent } = require(${JSON.stringify(path.join(__dirname, '..'))})
    const warnings = []
    process.on('warning', (w) => warnings.push([w.code, w.message]))
    const hub = new ConnectionEventHub({ eventCapacity: 1 })
    const ev = formatConnectionEvent({ type: 'MCP_CONNECTION_EVENT', eventType: 'stats_update',
      connectionStats: { totalConnections: 1, activeConnections: 0 }, timestamp: '${ts(0)}' })
    hub.pushQuiet('s', ev + ev)
    hub.pushQuiet('s', ev + ev)
    hub.pushQuiet('t', ev + ev)
    setImmediate(() => console.log(JSON.stringify({ warnings, dropped: hub.getStats('s').droppedEvents })))
  `
  const r = spawnSync(process.execPath, ['--no-warnings', '-e', script], { encoding: 'utf8' })
  const { warnings, dropped } = JSON.parse(r.stdout)
  expect(warnings.map(([code]) => code)).toEqual(['MCP_CONNECTION_EVENTS_DROPPED', 'MCP_CONNECTION_EVENTS_DROPPED'])
  expect(warnings[0][1]).toContain('"s"')
  expect(warnings[1][1]).toContain('"t"')
  expect(dropped).toBe(3)
})

test('quiet-mode argument checks; push() and pushQuiet() can share a hub', () => {
  expect(() => new ConnectionEventHub({ eventCapacity: -1 })).toThrow()
  expect(() => new ConnectionEventHub({ eventCapacity: 1.5 })).toThrow()
  expect(() => new ConnectionEventHub({ onEventsDropped: 1 })).toThrow(TypeError)
  const hub = new ConnectionEventHub()
  expect(() => hub.pushQuiet('s', 42)).toThrow(TypeError)
  expect(() => hub.pushQuiet(1, 'x')).toThrow(TypeError)
  expect(() => hub.drainEvents(1)).toThrow(TypeError)
  expect(() => hub.drainEvents('s', -1)).toThrow(TypeError)
  expect(hub.endQuiet('never')).toEqual([])
  const ev = formatConnectionEvent({ type: 'MCP_CONNECTION_EVENT', eventType: 'stats_update', connectionStats: { totalConnections: 1, activeConnections: 0 }, timestamp: ts(0) })
  expect(hub.push('s', ev).map((o) => o.type)).toEqual(['event'])
  // push() hands its events out itself; the server has no queue until pushQuiet() is used.
  expect(hub.getStats('s').pendingEvents).toBeUndefined()
  expect(hub.pushQuiet('s', ev + '\u0000nul\n')).toEqual(['\u0000nul'])
  expect(hub.getStats('s')).toMatchObject({ eventCount: 2, pendingEvents: 1, droppedEvents: 0 })
  hub.remove('s')
  expect(hub.drainEvents()).toEqual([])
})

// ---- writeQuiet: coalesced quiet mode ------------------------------------------------------

// Collects what a hub hands out through onLines, per server, in order.
function linesSink() {
  const got = new Map()
  const onLines = (id, lines) => {
    if (!got.has(id)) got.set(id, [])
    got.get(id).push(...lines)
  }
  return { got, onLines }
}

test('writeQuiet finds what pushQuiet finds: any cuts, any flush size, reads in between', () => {
  const ids = ['srv-a', 'srv-ü']
  const texts = ids.map((id, i) => stream(21 + i, id))
  const ref = new ConnectionEventHub(OPTS)
  const want = new Map(ids.map((id, i) => [id, [...ref.pushQuiet(id, texts[i]), ...ref.endQuiet(id)]]))
  const wantEvents = ref.drainEvents()
  expect(wantEvents.length).toBeGreaterThan(1000)

  // Flush sizes from 1 byte (every write is pushed, lines and characters cut across pushes) to
  // larger than the stream (pushed only when something reads).
  for (const [seed, coalesceBytes] of [[1, 1], [2, 5], [3, 97], [4, 4096], [5, 1 << 20], [6, 64 * 1024]]) {
    const rand = rng(seed)
    const asString = seed % 3 === 0
    const sink = linesSink()
    const hub = new ConnectionEventHub({ ...OPTS, coalesceBytes, eventCapacity: 100_000, onLines: sink.onLines })
    const queues = ids.map((id, i) => cuts(texts[i], rand, asString))
    const drained = []
    while (queues.some((q) => q.length > 0)) {
      const i = Math.floor(rand() * ids.length)
      const c = queues[i].shift()
      if (c === undefined) continue
      hub.writeQuiet(ids[i], c)
      const r = rand()
      if (r < 0.02) drained.push(...hub.drainEvents(rand() < 0.5 ? ids[i] : undefined))
      else if (r < 0.03) hub.getAllStats()
      else if (r < 0.04) expect(hub.getStats(ids[i]).parseErrorCount).toBe(hub.parseErrors(ids[i]))
    }
    for (const id of ids) {
      const tail = hub.endQuiet(id)
      sink.got.get(id).push(...tail)
    }
    drained.push(...hub.drainEvents())
    for (const id of ids) {
      expect({ seed, id, lines: sink.got.get(id) }).toEqual({ seed, id, lines: want.get(id) })
      expect(hub.getStats(id)).toEqual(ref.getStats(id))
    }
    const order = (es) => ids.flatMap((id) => es.filter((e) => e.serverId === id))
    expect(order(drained)).toEqual(order(wantEvents))
  }
})

test('writeQuiet: a read never sees stale state, and the lines come out before it returns', () => {
  const ev = formatConnectionEvent({ type: 'MCP_CONNECTION_EVENT', eventType: 'stats_update', connectionStats: { totalConnections: 7, activeConnections: 2 }, timestamp: ts(1) })
  const calls = []
  const hub = new ConnectionEventHub({ onLines: (id, lines) => calls.push([id, lines]) })
  // One event cut in two writes, then a log line: nothing is pushed yet.
  hub.writeQuiet('s', Buffer.from(ev.slice(0, 20)))
  hub.writeQuiet('s', Buffer.from(ev.slice(20) + 'log one\n'))
  expect(calls).toEqual([])
  expect(hub.getStats('s')).toMatchObject({ eventCount: 1, activeConnections: 2, pendingEvents: 1 })
  expect(calls).toEqual([['s', ['log one']]])

  hub.writeQuiet('s', 'log two\n' + ev)
  expect(hub.drainEvents().map((e) => e.event.connectionStats.totalConnections)).toEqual([7, 7])
  expect(calls.at(-1)).toEqual(['s', ['log two']])

  hub.writeQuiet('t', '[MCP_CONNECTION] {nope\n')
  expect(hub.parseErrors('t')).toBe(1)
  expect(calls.at(-1)).toEqual(['t', ['[MCP_CONNECTION] {nope']])

  hub.writeQuiet('t', 'x\n')
  expect(hub.getAllStats().map((s) => s.serverId)).toEqual(['s', 't'])
  expect(calls.at(-1)).toEqual(['t', ['x']])

  // push() and pushQuiet() after writeQuiet keep the stream's order: what was written first is
  // delivered first.
  hub.writeQuiet('s', 'before\n')
  expect(hub.pushQuiet('s', 'after\n')).toEqual(['after'])
  expect(calls.at(-1)).toEqual(['s', ['before']])
  hub.writeQuiet('s', 'before push\n')
  expect(hub.push('s', 'after push\n').map((o) => o.line)).toEqual(['after push'])
  expect(calls.at(-1)).toEqual(['s', ['before push']])
})

test('writeQuiet: multibyte characters and lines split across writes and across pushes', () => {
  const text = 'ü工😀 first\n' + '工'.repeat(40) + '\n[MCP_CONNECTION] {"ü":1}\nlast 😀'
  const bytes = Buffer.from(text)
  for (const coalesceBytes of [1, 2, 3, 5, 64]) {
    const sink = linesSink()
    const hub = new ConnectionEventHub({ coalesceBytes, onLines: sink.onLines })
    // One byte per write: every character and line is cut, and (small coalesceBytes) pushed in
    // pieces, so the native side reassembles them.
    for (let i = 0; i < bytes.length; i++) hub.writeQuiet('s', bytes.subarray(i, i + 1))
    const tail = hub.endQuiet('s')
    expect({ coalesceBytes, lines: [...(sink.got.get('s') ?? []), ...tail] }).toEqual({
      coalesceBytes,
      lines: ['ü工😀 first', '工'.repeat(40), '[MCP_CONNECTION] {"ü":1}', 'last 😀'],
    })
    expect(hub.getStats('s')).toMatchObject({ parseErrorCount: 1, eventCount: 0 })
  }
})

test('writeQuiet copies the chunk, pushes on its own at the end of the turn, and endQuiet/remove flush', async () => {
  const sink = linesSink()
  const hub = new ConnectionEventHub({ onLines: sink.onLines })
  const buf = Buffer.from('one\ntwo\n')
  hub.writeQuiet('s', buf)
  buf.fill(0x41) // the caller reuses its buffer: what was written is already copied
  expect(sink.got.size).toBe(0)
  await new Promise((resolve) => setImmediate(resolve))
  expect(sink.got.get('s')).toEqual(['one', 'two'])

  // A chunk bigger than coalesceBytes is pushed at once, after what was buffered before it.
  const small = new ConnectionEventHub({ coalesceBytes: 8, onLines: sink.onLines })
  small.writeQuiet('b', 'a\n')
  small.writeQuiet('b', Buffer.from('bb\n'))
  small.writeQuiet('b', new Uint8Array(Buffer.from('a long line\nover the size\n')))
  expect(sink.got.get('b')).toEqual(['a', 'bb', 'a long line', 'over the size'])

  // endQuiet: the buffered text and the unterminated line come out.
  hub.writeQuiet('s', 'three\nfour')
  expect(hub.endQuiet('s')).toEqual(['four'])
  expect(sink.got.get('s')).toEqual(['one', 'two', 'three'])

  // remove: what was written is read (lines delivered) before the server is forgotten.
  hub.writeQuiet('r', 'bye\n')
  hub.remove('r')
  expect(sink.got.get('r')).toEqual(['bye'])
  expect(hub.getStats('r')).toBeNull()
  // Nothing left to push: the timer armed above finds nothing.
  await new Promise((resolve) => setImmediate(resolve))
  expect(sink.got.get('r')).toEqual(['bye'])

  // Without onLines the lines are dropped, the stats still count.
  const statsOnly = new ConnectionEventHub({ eventCapacity: 0 })
  statsOnly.writeQuiet('s', formatConnectionEvent({ type: 'MCP_CONNECTION_EVENT', eventType: 'stats_update', connectionStats: { totalConnections: 3, activeConnections: 1 }, timestamp: ts(2) }) + 'log\n')
  expect(statsOnly.getStats('s')).toMatchObject({ eventCount: 1, activeConnections: 1 })
})

test('writeQuiet argument checks; a throwing onLines loses no lines', () => {
  expect(() => new ConnectionEventHub({ onLines: 1 })).toThrow(TypeError)
  for (const coalesceBytes of [0, -1, 1.5, NaN, '64', 2 ** 31]) {
    expect(() => new ConnectionEventHub({ coalesceBytes })).toThrow(TypeError)
  }
  const hub = new ConnectionEventHub()
  expect(() => hub.writeQuiet('s', 42)).toThrow(TypeError)
  expect(() => hub.writeQuiet(1, 'x')).toThrow(TypeError)
  expect(() => hub.flush(1)).toThrow(TypeError)
  hub.flush() // nothing written: a no-op

  // A plain Node process: Jest intercepts uncaught errors itself.
  const script = `
    const { ConnectionEventHub } = require(${JSON.stringify(path.join(__dirname, '..'))})
    const seen = []
    const errors = []
    process.on('uncaughtException', (e) => errors.push(e.message))
    const hub = new ConnectionEventHub({ onLines: (id, lines) => { seen.push(...lines); throw new Error('boom ' + id) } })
    hub.writeQuiet('s', 'a\\n')
    hub.writeQuiet('t', 'b\\n')
    hub.flush()
    const after = hub.getAllStats().length
    setImmediate(() => console.log(JSON.stringify({ seen, errors, after })))
  `
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' })
  expect(r.stderr).toBe('')
  expect(JSON.parse(r.stdout)).toEqual({ seen: ['a', 'b'], errors: ['boom s', 'boom t'], after: 2 })
})
