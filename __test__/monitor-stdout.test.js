'use strict'
// Issue 3, child-process mode: a server started with `stdoutEvents: true` in a child process
// (fixtures/monitor-child.js) that also writes plenty of ordinary console.log output. Three real
// SDK clients (one DELETEs, one idles past sessionIdleTimeoutMs, one stays) and one refused
// initialize; the child's stdout is parsed here, line by line (no dependency on the native
// ConnectionEventHub): every [MCP_CONNECTION] line must be whole JSON per docs/monitoring.md, never
// interleaved with the other output, and agree with the monitor callbacks and the final stats.
const path = require('path')
const { spawn } = require('child_process')
const {
  PREFIX,
  sleep,
  waitFor,
  sdkClient,
  post,
  initializeBody,
  lineSplitter,
  eventLineProblems,
  parseEventLine,
} = require('./fixtures/monitor-helpers')

const FIXTURE = path.join(__dirname, 'fixtures', 'monitor-child.js')
const IDLE_MS = 300
const STATS_INTERVAL_MS = 5000

// Every line the child may print, ordinary or not.
const LINE_RES = {
  listening: /^LISTENING http:\/\/127\.0\.0\.1:\d+\/mcp$/,
  log: /^LOG (\d+) (x*)$/,
  cb: /^CB \{.*\}$/,
  warning: /^WARNING \{.*\}$/,
  stats: /^STATS \{.*\}$/,
  closed: /^CLOSED \{.*\}$/,
}

function classify(line) {
  if (line.startsWith(PREFIX)) return 'event'
  for (const [kind, re] of Object.entries(LINE_RES)) if (re.test(line)) return kind
  return 'unknown'
}

function startChild(env) {
  const child = spawn(process.execPath, [FIXTURE], {
    cwd: path.join(__dirname, '..'),
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const stdout = lineSplitter()
  let stderr = ''
  child.stdout.setEncoding('utf8')
  child.stdout.on('data', (c) => stdout.push(c))
  child.stderr.setEncoding('utf8')
  child.stderr.on('data', (c) => {
    stderr += c
  })
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })))
  return {
    child,
    lines: stdout.lines,
    rest: stdout.rest,
    stderr: () => stderr,
    exited,
    // SIGTERM, then a bounded wait; SIGKILL if it does not exit on its own.
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return exited
      child.kill('SIGTERM')
      let timer
      const t = await Promise.race([exited, new Promise((resolve) => (timer = setTimeout(resolve, 10000, null)))])
      clearTimeout(timer)
      if (t) return t
      child.kill('SIGKILL')
      return { ...(await exited), killed: true }
    },
  }
}

const events = (lines) => lines.filter((l) => l.startsWith(PREFIX)).map(parseEventLine)
const cbs = (lines) => lines.filter((l) => l.startsWith('CB ')).map((l) => JSON.parse(l.slice(3)))
const eventsOf = (lines, type) => events(lines).filter((e) => e.eventType === type)
const disconnectedFor = (lines, id) => eventsOf(lines, 'disconnected').filter((e) => e.clientInfo.id === id)

describe('stdoutEvents in a child process: three SDK clients', () => {
  let proc
  let A, B, C
  let url
  let rejectedStatus
  let exit
  let stdoutAtStop // lines before SIGTERM
  let firstStatsAt

  beforeAll(async () => {
    proc = startChild({ IDLE_MS: String(IDLE_MS), MAX_CONNECTIONS: '3' })
    const listening = await waitFor(() => proc.lines.find((l) => LINE_RES.listening.test(l)), 'LISTENING', { tries: 1000 })
    url = listening.slice('LISTENING '.length)

    A = await sdkClient(url, 'child-client-a', '1.1.0')
    B = await sdkClient(url, 'child-client-b', '2.2.0')
    C = await sdkClient(url, 'child-client-c', '3.3.0')

    let keepAlive = true
    const keeper = (async () => {
      // C stays: a ping well inside the idle timeout; bounded (600 rounds).
      for (let i = 0; keepAlive && i < 600; i++) {
        try {
          await C.client.ping()
        } catch {}
        await sleep(40)
      }
    })()
    try {
      // A fourth client while three are open: refused (maxConnections 3).
      const r = await post(url, initializeBody('child-client-d'))
      rejectedStatus = r.status
      await r.arrayBuffer()

      await A.transport.terminateSession()
      await waitFor(() => disconnectedFor(proc.lines, A.sessionId).length, 'A disconnected line', { soft: true })
      await waitFor(() => disconnectedFor(proc.lines, B.sessionId).length, 'B idle_timeout line', { tries: 400, soft: true })
      // The first stats_update comes one interval after start.
      firstStatsAt = await waitFor(() => eventsOf(proc.lines, 'stats_update')[0], 'first stats_update', {
        tries: 900,
        soft: true,
      })
      // Past the next tick nothing changed, so no second stats_update is written. (Waiting
      // longer than needed only makes this check weaker, never flaky.)
      if (firstStatsAt) await sleep(STATS_INTERVAL_MS + 700)
    } finally {
      keepAlive = false
      await keeper
    }
    stdoutAtStop = proc.lines.slice()
    exit = await proc.stop()
    await Promise.all([A.close(), B.close(), C.close()])
  }, 45000)

  afterAll(async () => {
    if (proc) await proc.stop()
    await Promise.all([A, B, C].filter(Boolean).map((c) => c.close()))
  })

  test('the child closes and exits on its own after SIGTERM', () => {
    expect(exit).toEqual({ code: 0, signal: null })
    expect(proc.rest()).toBe('')
    expect(proc.lines.some((l) => l.startsWith('CLOSED '))).toBe(true)
  })

  test('every line is whole: [MCP_CONNECTION] lines are valid JSON per the documented line format and never interleaved with other output', () => {
    const unknown = proc.lines.filter((l) => classify(l) === 'unknown')
    expect(unknown.map((l) => l.slice(0, 200))).toEqual([])
    // The prefix never shows up inside another line (an event written into the middle of one).
    const embedded = proc.lines.filter((l) => !l.startsWith(PREFIX) && l.includes('[MCP_CONNECTION]'))
    expect(embedded).toEqual([])
    const bad = proc.lines
      .filter((l) => l.startsWith(PREFIX))
      .map((l) => ({ line: l.slice(0, 200), problems: eventLineProblems(l, 'child-1') }))
      .filter((x) => x.problems.length)
    expect(bad).toEqual([])
    // The chatter arrived intact and in order (each LOG line exactly as written).
    const logs = proc.lines.filter((l) => l.startsWith('LOG '))
    expect(logs.length).toBeGreaterThan(1000)
    const broken = []
    logs.forEach((l, i) => {
      const [, seq, xs] = LINE_RES.log.exec(l)
      if (Number(seq) !== i || xs.length !== i % 1500) broken.push(l.slice(0, 80))
    })
    expect(broken).toEqual([])
  })

  test('connected: one line per client, in order, with clientInfo and running totals', () => {
    const connected = eventsOf(proc.lines, 'connected')
    expect(connected.map((e) => e.clientInfo.id)).toEqual([A.sessionId, B.sessionId, C.sessionId])
    connected.forEach((e, i) => {
      expect(e.clientInfo).toMatchObject({ remoteAddress: '127.0.0.1', userAgent: 'node' })
      expect(e.connectionStats).toMatchObject({ totalConnections: i + 1, activeConnections: i + 1, maxConnections: 3 })
    })
    expect(connected.map((e) => e.clientInfo.clientName)).toEqual(['child-client-a', 'child-client-b', 'child-client-c'])
    expect(connected.map((e) => e.clientInfo.clientVersion)).toEqual(['1.1.0', '2.2.0', '3.3.0'])
    for (const e of connected) if (e.clientInfo.era !== undefined) expect(e.clientInfo.era).toBe('legacy')
  })

  test('connection_rejected: the refused fourth initialize (503)', () => {
    expect(rejectedStatus).toBe(503)
    const rejected = eventsOf(proc.lines, 'connection_rejected')
    expect(rejected).toHaveLength(1)
    expect(rejected[0].reason).toBe('max_connections')
    expect(rejected[0].connectionStats).toMatchObject({ totalConnections: 3, activeConnections: 3 })
    if (rejected[0].clientInfo) expect(rejected[0].clientInfo.remoteAddress).toBe('127.0.0.1')
    const cb = cbs(proc.lines).filter((c) => c.kind === 'rejected')
    expect(cb).toHaveLength(1)
    expect(cb[0].info).toMatchObject({ reason: 'max_connections', clientIP: '127.0.0.1' })
  })

  test('disconnected: deleted (A), idle_timeout (B), shutdown (C), once each, with durationMs and totals', () => {
    const a = disconnectedFor(proc.lines, A.sessionId)
    const b = disconnectedFor(proc.lines, B.sessionId)
    const c = disconnectedFor(proc.lines, C.sessionId)
    expect([a.length, b.length, c.length]).toEqual([1, 1, 1])
    expect(a[0]).toMatchObject({ reason: 'deleted', connectionStats: { totalConnections: 3, activeConnections: 2 } })
    expect(b[0]).toMatchObject({ reason: 'idle_timeout', connectionStats: { totalConnections: 3, activeConnections: 1 } })
    expect(b[0].durationMs).toBeGreaterThanOrEqual(IDLE_MS)
    expect(c[0]).toMatchObject({ reason: 'shutdown', connectionStats: { totalConnections: 3, activeConnections: 0 } })
    // Shutdown comes after SIGTERM only.
    expect(disconnectedFor(stdoutAtStop, C.sessionId)).toHaveLength(0)
    for (const e of [a[0], b[0], c[0]]) expect(typeof e.durationMs).toBe('number')
  })

  test('the lines agree with the monitor callbacks', () => {
    const cb = cbs(proc.lines)
    const est = cb.filter((c) => c.kind === 'established')
    const connected = eventsOf(proc.lines, 'connected')
    expect(est.map((c) => c.info.sessionId)).toEqual(connected.map((e) => e.clientInfo.id))
    for (const e of connected) {
      const info = est.find((c) => c.info.sessionId === e.clientInfo.id).info
      expect(info.connectedAt).toBe(e.clientInfo.connectedAt)
      expect(info.clientIP).toBe(e.clientInfo.remoteAddress)
      expect(info.userAgent).toBe(e.clientInfo.userAgent)
      expect(info.clientName).toBe(e.clientInfo.clientName)
    }
    const closed = cb.filter((c) => c.kind === 'closed')
    const disconnected = eventsOf(proc.lines, 'disconnected')
    expect(closed.map((c) => c.sessionId).sort()).toEqual(disconnected.map((e) => e.clientInfo.id).sort())
    for (const e of disconnected) {
      const c = closed.filter((x) => x.sessionId === e.clientInfo.id)
      expect(c).toHaveLength(1)
      expect(c[0].durationMs).toBe(e.durationMs)
    }
    // close() called onConnectionClosed for C before it resolved.
    const closedLine = JSON.parse(proc.lines.find((l) => l.startsWith('CLOSED ')).slice(7))
    expect(closedLine.closedCallbacks).toBe(3)
    // The last onConnectionChange: nothing open, three ever.
    const changes = cb.filter((c) => c.kind === 'change')
    expect(changes[changes.length - 1]).toMatchObject({ activeConnections: 0, totalConnections: 3 })
  })

  test('STATS (getConnectionStats before close) agrees with the last event line before it: 3 total / 1 active', () => {
    const i = proc.lines.findIndex((l) => l.startsWith('STATS '))
    expect(i).toBeGreaterThan(-1)
    const stats = JSON.parse(proc.lines[i].slice(6))
    expect(stats).toMatchObject({ totalConnections: 3, activeConnections: 1 })
    expect(stats.connections.map((c) => c.sessionId)).toEqual([C.sessionId])
    expect(Number.isNaN(Date.parse(stats.lastUpdated))).toBe(false)
    expect(Number.isNaN(Date.parse(stats.connections[0].connectedAt))).toBe(false)
    const before = events(proc.lines.slice(0, i))
    expect(before.length).toBeGreaterThan(0)
    expect(before[before.length - 1].connectionStats).toMatchObject({ totalConnections: 3, activeConnections: 1 })
  })

  test('stats_update: written once an interval has passed, only when the counts changed, matching the events', () => {
    expect(firstStatsAt).toBeDefined()
    const evs = events(stdoutAtStop)
    const updates = evs.filter((e) => e.eventType === 'stats_update')
    expect(updates.length).toBeGreaterThanOrEqual(1)
    for (let k = 0; k < updates.length; k++) {
      const idx = evs.indexOf(updates[k])
      const lastChange = evs
        .slice(0, idx)
        .filter((e) => e.eventType === 'connected' || e.eventType === 'disconnected')
        .pop()
      expect(updates[k].connectionStats).toEqual(lastChange.connectionStats)
      if (k > 0) expect(updates[k].connectionStats).not.toEqual(updates[k - 1].connectionStats)
    }
    // Nothing changed between the first update and SIGTERM, so it was the only one.
    const after = evs.slice(evs.indexOf(updates[0]) + 1)
    expect(after.filter((e) => e.eventType !== 'stats_update')).toEqual([])
    expect(updates).toHaveLength(1)
  })
})

describe('stdoutEvents child: a throwing monitor callback', () => {
  test("emits a process 'warning' and the server keeps serving and writing lines", async () => {
    const proc = startChild({ MONITOR_THROW: '1', CHATTER: '0', IDLE_MS: '60000' })
    const clients = []
    try {
      const listening = await waitFor(() => proc.lines.find((l) => LINE_RES.listening.test(l)), 'LISTENING', { tries: 1000 })
      const url = listening.slice('LISTENING '.length)
      clients.push(await sdkClient(url, 'thrower-1'))
      clients.push(await sdkClient(url, 'thrower-2'))
      await expect(clients[0].client.ping()).resolves.toBeDefined()
      await waitFor(() => proc.lines.filter((l) => l.startsWith('WARNING ')).length >= 2, 'two warnings')
      const warnings = proc.lines.filter((l) => l.startsWith('WARNING ')).map((l) => JSON.parse(l.slice(8)))
      for (const w of warnings) {
        expect(w.name).toBe('MonitorCallbackWarning')
        expect(w.message).toMatch(/onConnectionEstablished threw/)
      }
      expect(eventsOf(proc.lines, 'connected').map((e) => e.clientInfo.id)).toEqual(clients.map((c) => c.sessionId))
    } finally {
      const exit = await proc.stop()
      await Promise.all(clients.map((c) => c.close()))
      expect(exit).toEqual({ code: 0, signal: null })
    }
    expect(eventsOf(proc.lines, 'disconnected').map((e) => e.reason)).toEqual(['shutdown', 'shutdown'])
  }, 20000)
})
