'use strict'
// Hostile-client soak (issue 13). One addon server process (bench/soak-server.js), its
// descriptor limit lowered with `prlimit --nofile=256`, under every attack at once:
//   slowloris headers, stalled request bodies, SSE streams that never read while the server
//   pushes notifications, 8 MB answers never read, 1 MB resources/subscribe floods, and one
//   client grabbing slots from one IP.
// Meanwhile a well-behaved client (127.0.0.2, both eras, its own process) measures its latency;
// its quiet baseline is measured before and after the mix (both runs together), and the
// attackers run at a lower CPU priority (they stand for clients on other machines). It fails when:
//   p99 during the mix > 3 × its quiet p99 (floor 1 ms), or a good request fails;
//   server RSS during the mix > quiet RSS + 64 MiB;
//   after the mix, descriptors, sessions or RSS do not return within 10% of their start.
// Everything is loopback and bounded in time and count. `SOAK_SECONDS` (default 20) sets the
// mix length; `--short` runs the few-second version. The last lines are the figures and
// `soak: N passed, M failed`. Diagnostics: `SOAK_SMAPS=<dir>` saves the server's
// /proc/PID/smaps at start, at each new peak and after the mix (which mapping grew: the
// allocator's arena, glibc, V8, code); `SOAK_TRACE_MEM=1` makes the server print
// process.memoryUsage() every 250 ms.
const { spawn } = require('node:child_process')
const fs = require('node:fs')
const http = require('node:http')
const net = require('node:net')
const path = require('node:path')

const SHORT = process.argv.includes('--short')
// `npm test` runs the short soak with `--no-latency-gate`: timing goals belong to benchmarks, so
// there the good client's p99 is reported, not asserted; it must still get every answer, and the
// memory, descriptor and session checks hold as in `npm run soak`.
const LATENCY_GATE = !process.argv.includes('--no-latency-gate')
const MIX_S = Number(process.env.SOAK_SECONDS || (SHORT ? 6 : 20))
const SETTLE_S = Number(process.env.SOAK_SETTLE_SECONDS || (SHORT ? 12 : 20))
const NOFILE = Number(process.env.SOAK_NOFILE || 256)
const TOKEN = 'soak-token'
const MODERN = '2026-07-28'
const LEGACY = '2025-06-18'
const GOOD_ADDR = '127.0.0.2'
const BAD_ADDR = '127.0.0.1'
const COUNTS = {
  slowloris: SHORT ? 40 : 60,
  stalledBodies: SHORT ? 40 : 60,
  sse: SHORT ? 10 : 20,
  bigAnswers: SHORT ? 8 : 20,
  subscribeFloods: SHORT ? 4 : 10,
  grabber: SHORT ? 200 : 1000,
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const MiB = 1024 * 1024

// --- the server -----------------------------------------------------------------------------

function startServer() {
  const script = path.join(__dirname, 'soak-server.js')
  const child = spawn('prlimit', [`--nofile=${NOFILE}:${NOFILE}`, process.execPath, '--expose-gc', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, SOAK_TOKEN: TOKEN },
  })
  return new Promise((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => reject(new Error('soak server did not start in 20 s')), 20_000)
    child.stdout.on('data', (c) => {
      out += c
      const m = /READY (\d+)/.exec(out)
      if (m) {
        clearTimeout(timer)
        child.stdout.removeAllListeners('data')
        child.stdout.resume()
        resolve({ child, port: Number(m[1]) })
      }
    })
    child.on('exit', (code) => reject(new Error(`soak server exited (${code})`)))
  })
}

function rssBytes(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m ? Number(m[1]) * 1024 : 0
}

const fdCount = (pid) => fs.readdirSync(`/proc/${pid}/fd`).length

// --- HTTP helpers -------------------------------------------------------------------------------

function rpc(agent, port, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body)
    const rq = http.request(
      {
        host: '127.0.0.1',
        port,
        path: '/mcp',
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'content-length': Buffer.byteLength(data), ...headers },
        timeout: 30_000,
      },
      (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (c) => (text += c))
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text }))
      },
    )
    rq.on('timeout', () => rq.destroy(new Error('timed out')))
    rq.on('error', reject)
    rq.end(data)
  })
}

function stats(port) {
  return new Promise((resolve, reject) => {
    const rq = http.get({ host: '127.0.0.1', port, path: '/internal/connections', headers: { authorization: `Bearer ${TOKEN}`, host: `127.0.0.1:${port}` }, agent: false, timeout: 10_000 }, (res) => {
      let t = ''
      res.on('data', (c) => (t += c))
      res.on('end', () => {
        try {
          resolve(JSON.parse(t))
        } catch (e) {
          reject(new Error(`stats: ${res.statusCode} ${t.slice(0, 100)}`))
        }
      })
    })
    rq.on('timeout', () => rq.destroy(new Error('stats timed out')))
    rq.on('error', reject)
  })
}

const init = (clientName) => ({
  jsonrpc: '2.0',
  id: 0,
  method: 'initialize',
  params: { protocolVersion: LEGACY, capabilities: {}, clientInfo: { name: clientName, version: '1' } },
})

async function openSession(agent, port, name) {
  const r = await rpc(agent, port, init(name))
  const sid = r.headers['mcp-session-id']
  if (r.status !== 200 || !sid) return { status: r.status }
  await rpc(agent, port, { jsonrpc: '2.0', method: 'notifications/initialized' }, { 'mcp-session-id': sid, 'mcp-protocol-version': LEGACY })
  return { status: 200, sid }
}

function modernCall(agent, port, id, name, args) {
  const meta = {
    'io.modelcontextprotocol/protocolVersion': MODERN,
    'io.modelcontextprotocol/clientCapabilities': {},
    'io.modelcontextprotocol/clientInfo': { name: 'good-modern', version: '1' },
  }
  return rpc(
    agent,
    port,
    { jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args, _meta: meta } },
    { 'mcp-protocol-version': MODERN, 'mcp-method': 'tools/call', 'mcp-name': name },
  )
}

// --- the well-behaved client ------------------------------------------------------------------

function goodClient(port) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 2, localAddress: GOOD_ADDR })
  let sid
  let n = 0
  const run = async (ms, latencies, failures) => {
    const end = Date.now() + ms
    while (Date.now() < end) {
      n++
      const t0 = process.hrtime.bigint()
      try {
        let r
        if (n % 2 === 0) {
          if (!sid) sid = (await openSession(agent, port, 'good-legacy')).sid
          r = await rpc(agent, port, { jsonrpc: '2.0', id: n, method: 'tools/call', params: { name: 'echo', arguments: { v: String(n) } } }, { 'mcp-session-id': sid, 'mcp-protocol-version': LEGACY })
        } else {
          r = await modernCall(agent, port, n, 'echo', { v: String(n) })
        }
        if (r.status !== 200 || !r.text.includes(`"text":"${n}"`)) {
          failures.push(`${r.status} ${r.text.slice(0, 120)}`)
          if (r.status === 404) sid = undefined
        } else {
          latencies.push(Number(process.hrtime.bigint() - t0) / 1e6)
        }
      } catch (e) {
        failures.push(e.message)
      }
      await sleep(10)
    }
  }
  return { run, close: () => agent.destroy() }
}

function pct(xs, q) {
  if (xs.length === 0) return NaN
  const s = xs.slice().sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(s.length * q))]
}
const p99 = (xs) => pct(xs, 0.99)
const p50 = (xs) => pct(xs, 0.5)

// --- the attackers -------------------------------------------------------------------------------

function rawSocket(port) {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port, localAddress: BAD_ADDR })
    s.on('error', () => {})
    s.once('connect', () => resolve(s))
    s.once('close', () => resolve(s))
    s.setTimeout(60_000, () => s.destroy())
  })
}

async function attackers(port) {
  const sockets = []
  const timers = []
  const tally = { slowlorisOpen: 0, stalledOpen: 0, sseStreams: 0, bigAnswers: 0, subscribeRefused: 0, grabbed: 0, grabRefused: 0 }
  const agentBad = () => new http.Agent({ keepAlive: true, localAddress: BAD_ADDR })

  // Slowloris: a header line a second, never finished.
  for (let i = 0; i < COUNTS.slowloris; i++) {
    const s = await rawSocket(port)
    sockets.push(s)
    s.write(`POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n`)
    timers.push(setInterval(() => !s.destroyed && s.write(`X-Slow-${i}: a\r\n`), 1000))
  }
  // Stalled bodies: complete headers, a promised body that never comes.
  for (let i = 0; i < COUNTS.stalledBodies; i++) {
    const s = await rawSocket(port)
    sockets.push(s)
    s.write(`POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: 100000\r\n\r\n{"jsonrpc":`)
  }
  // SSE streams that never read, subscribed, while the server pushes resource updates; and a
  // request stream fed 100k log notifications that is never read either.
  const sseAgent = agentBad()
  for (let i = 0; i < COUNTS.sse; i++) {
    const o = await openSession(sseAgent, port, `sse-${i}`)
    if (!o.sid) continue
    const h = { 'mcp-session-id': o.sid, 'mcp-protocol-version': LEGACY }
    await rpc(sseAgent, port, { jsonrpc: '2.0', id: 1, method: 'resources/subscribe', params: { uri: 'mem://a' } }, h)
    const s = await rawSocket(port)
    sockets.push(s)
    s.write(`GET /mcp HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAccept: text/event-stream\r\nMcp-Session-Id: ${o.sid}\r\nMcp-Protocol-Version: ${LEGACY}\r\n\r\n`)
    s.pause()
    tally.sseStreams++
    if (i === 0) {
      const body = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'notify', arguments: { n: 100_000 } } })
      const t = await rawSocket(port)
      sockets.push(t)
      t.write(`POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nMcp-Session-Id: ${o.sid}\r\nMcp-Protocol-Version: ${LEGACY}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`)
      t.pause()
    }
  }
  // Resource updates to every subscribed GET stream for the whole mix.
  await modernCall(sseAgent, port, 10, 'pump', { ms: MIX_S * 1000 }).catch(() => {})
  // 8 MB answers never read.
  for (let i = 0; i < COUNTS.bigAnswers; i++) {
    const s = await rawSocket(port)
    sockets.push(s)
    const meta = { 'io.modelcontextprotocol/protocolVersion': MODERN, 'io.modelcontextprotocol/clientCapabilities': {} }
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'big', arguments: {}, _meta: meta } })
    s.write(`POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nMcp-Protocol-Version: ${MODERN}\r\nMcp-Method: tools/call\r\nMcp-Name: big\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`)
    s.pause()
    tally.bigAnswers++
  }
  // 1 MB subscribe floods, in the background for the whole mix.
  const floodAgent = agentBad()
  let flooding = true
  const uri = 'mem://' + 'u'.repeat(MiB)
  const floods = []
  for (let i = 0; i < COUNTS.subscribeFloods; i++) {
    floods.push(
      (async () => {
        const o = await openSession(floodAgent, port, `flood-${i}`).catch(() => ({}))
        if (!o.sid) return
        for (let k = 0; flooding && k < 10_000; k++) {
          const r = await rpc(floodAgent, port, { jsonrpc: '2.0', id: k, method: 'resources/subscribe', params: { uri: uri + k } }, { 'mcp-session-id': o.sid, 'mcp-protocol-version': LEGACY }).catch(() => null)
          if (r && r.text.includes('-32602')) tally.subscribeRefused++
          await sleep(20)
        }
      })(),
    )
  }
  // One client grabbing every slot it can from one IP, 8 at a time.
  const grabAgent = agentBad()
  let next = 0
  const grabbers = Array.from({ length: 8 }, async () => {
    while (flooding && next < COUNTS.grabber) {
      next++
      const o = await openSession(grabAgent, port, `grab-${next}`).catch(() => ({ status: 0 }))
      if (o.sid) tally.grabbed++
      else tally.grabRefused++
    }
  })
  const stop = async () => {
    flooding = false
    await Promise.all([...floods, ...grabbers])
    for (const t of timers) clearInterval(t)
    for (const s of sockets) s.destroy()
    for (const a of [sseAgent, floodAgent, grabAgent]) a.destroy()
  }
  return { stop, tally }
}

// --- the well-behaved client's own process ----------------------------------------------------
// It runs apart from the attackers so their work on this process's JS thread does not count
// as server latency. Protocol on stdin/stdout: `quiet <ms>` / `mix <ms>` → one JSON line
// { latencies, failures }.

async function goodChild(port) {
  const good = goodClient(port)
  const rl = require('node:readline').createInterface({ input: process.stdin })
  for await (const line of rl) {
    const [cmd, ms] = line.trim().split(' ')
    if (cmd === 'exit') break
    const latencies = []
    const failures = []
    await good.run(Number(ms), cmd === 'warm' ? [] : latencies, cmd === 'warm' ? [] : failures)
    process.stdout.write(JSON.stringify({ latencies, failures }) + '\n')
  }
  good.close()
  rl.close()
}

function startGood(port) {
  const child = spawn(process.execPath, [__filename, '--good', String(port)], { stdio: ['pipe', 'pipe', 'inherit'] })
  const rl = require('node:readline').createInterface({ input: child.stdout })
  const waiting = []
  rl.on('line', (l) => {
    const w = waiting.shift()
    if (w) w(JSON.parse(l))
  })
  return {
    run: (cmd, ms) =>
      new Promise((resolve) => {
        waiting.push(resolve)
        child.stdin.write(`${cmd} ${ms}\n`)
      }),
    close: () => {
      child.stdin.end('exit 0\n')
      return new Promise((r) => child.once('exit', r))
    },
  }
}

// --- the tour -------------------------------------------------------------------------------------
// Before the baseline, one well-behaved client uses each feature the attackers will abuse, and
// reads every answer: a large answer in both eras, a notification burst, a subscribed GET stream
// under resource updates, a refused oversized subscribe. "Start" is then a server that has done
// each kind of work once (its code paged in, its allocator's first large pages taken), so the
// after-mix gate measures what the hostile clients left behind, not first use.
async function tour(port) {
  const agent = new http.Agent({ keepAlive: true, localAddress: GOOD_ADDR })
  const o = await openSession(agent, port, 'tour')
  const h = { 'mcp-session-id': o.sid, 'mcp-protocol-version': LEGACY }
  await rpc(agent, port, { jsonrpc: '2.0', id: 1, method: 'resources/subscribe', params: { uri: 'mem://a' } }, h)
  await rpc(agent, port, { jsonrpc: '2.0', id: 2, method: 'resources/subscribe', params: { uri: 'mem://' + 'u'.repeat(MiB) } }, h)
  const get = http.get({ host: '127.0.0.1', port, path: '/mcp', agent: false, localAddress: GOOD_ADDR, headers: { accept: 'text/event-stream', ...h } })
  get.on('error', () => {})
  get.on('response', (res) => res.resume())
  await modernCall(agent, port, 3, 'pump', { ms: 300 })
  await rpc(agent, port, { jsonrpc: '2.0', id: 4, method: 'tools/call', params: { name: 'notify', arguments: { n: 30_000 } } }, h)
  await rpc(agent, port, { jsonrpc: '2.0', id: 5, method: 'tools/call', params: { name: 'big', arguments: {} } }, h)
  await modernCall(agent, port, 6, 'big', {})
  await sleep(400)
  get.destroy()
  await new Promise((resolve) => {
    const rq = http.request({ host: '127.0.0.1', port, path: '/mcp', method: 'DELETE', agent, headers: h }, (res) => res.resume().on('end', resolve))
    rq.on('error', resolve)
    rq.end()
  })
  agent.destroy()
}

// --- the run -------------------------------------------------------------------------------------

async function main() {
  const { child, port } = await startServer()
  const pid = child.pid
  // prlimit execs node in place: the pid is the server's.
  const results = []
  const check = (name, ok, detail) => {
    results.push({ name, ok, detail })
    console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}: ${detail}`)
  }
  const good = startGood(port)
  try {
    // Quiet: warm up, then the baseline.
    await good.run('warm', 1000)
    await tour(port)
    // Past the server's 2 s full GC, so the tour's garbage is gone from the baseline.
    await sleep(2500)
    const { latencies: quietLat } = await good.run('quiet', SHORT ? 2000 : 4000)
    await sleep(200)
    const start = { rss: rssBytes(pid), fds: fdCount(pid), sessions: (await stats(port)).activeConnections }
    if (process.env.SOAK_SMAPS) fs.writeFileSync(`${process.env.SOAK_SMAPS}/start.smaps`, fs.readFileSync(`/proc/${pid}/smaps`))
    console.log(`quiet: p50 ${p50(quietLat).toFixed(2)} ms, p99 ${p99(quietLat).toFixed(2)} ms over ${quietLat.length} requests; RSS ${(start.rss / MiB).toFixed(1)} MiB, ${start.fds} fds, ${start.sessions} connections`)

    // The mix.
    let peakRss = start.rss
    let peakFds = start.fds
    const sampler = setInterval(() => {
      try {
        const r = rssBytes(pid)
        if (r > peakRss && process.env.SOAK_SMAPS) fs.writeFileSync(`${process.env.SOAK_SMAPS}/peak.smaps`, fs.readFileSync(`/proc/${pid}/smaps`))
        peakRss = Math.max(peakRss, r)
        peakFds = Math.max(peakFds, fdCount(pid))
      } catch {}
    }, 100)
    const t0 = Date.now()
    // The attackers stand for clients on other machines: their own CPU (building 1 MB bodies,
    // holding sockets) runs at a lower priority so that it does not count as server latency.
    // The server and the good client keep the default priority.
    try {
      require('node:os').setPriority(10)
    } catch {}
    const attack = attackers(port)
    const { latencies: mixLat, failures: mixFail } = await good.run('mix', MIX_S * 1000)
    // Attack set-up that has not finished by now is cut short by stop().
    const { stop, tally } = await attack
    const mixP99 = p99(mixLat)
    let peakSessions = 0
    try {
      peakSessions = (await stats(port)).activeConnections
    } catch {}
    await stop()
    clearInterval(sampler)
    console.log(`mix (${((Date.now() - t0) / 1000).toFixed(1)} s): ${JSON.stringify(tally)}`)
    console.log(`mix: good client p50 ${p50(mixLat).toFixed(2)} ms, p99 ${mixP99.toFixed(2)} ms, max ${Math.max(...mixLat).toFixed(0)} ms over ${mixLat.length} requests, ${mixFail.length} failed; peak RSS ${(peakRss / MiB).toFixed(1)} MiB, peak ${peakFds} fds, ${peakSessions} connections at the end`)

    // After: give the server SETTLE_S to return to its start.
    const within = (v, s, slack) => v <= s * 1.1 + slack
    let after
    for (let i = 0; i < SETTLE_S * 4; i++) {
      await sleep(250)
      after = { rss: rssBytes(pid), fds: fdCount(pid), sessions: (await stats(port).catch(() => ({ activeConnections: Infinity }))).activeConnections }
      if (within(after.fds, start.fds, 2) && within(after.sessions, start.sessions, 1) && within(after.rss, start.rss, 0)) break
    }
    console.log(`after: RSS ${(after.rss / MiB).toFixed(1)} MiB, ${after.fds} fds, ${after.sessions} connections`)
    if (process.env.SOAK_SMAPS) fs.writeFileSync(`${process.env.SOAK_SMAPS}/after.smaps`, fs.readFileSync(`/proc/${pid}/smaps`))
    // Quiet again: the baseline is both quiet runs together, so one noisy moment of a shared
    // machine before the mix does not set the bound alone (the bound stays 3x).
    const { latencies: quietAfter } = await good.run('quiet', SHORT ? 2000 : 4000)
    const quietAll = quietLat.concat(quietAfter)
    const quietP99 = p99(quietAll)
    console.log(`quiet after: p50 ${p50(quietAfter).toFixed(2)} ms, p99 ${p99(quietAfter).toFixed(2)} ms over ${quietAfter.length} requests; baseline p99 ${quietP99.toFixed(2)} ms over ${quietAll.length}`)

    const floor = Math.max(quietP99, 1)
    check('good client kept working', mixFail.length === 0 && mixLat.length > 0, `${mixLat.length} ok, ${mixFail.length} failed${mixFail.length ? ` (first: ${mixFail[0]})` : ''}`)
    if (LATENCY_GATE) check('p99 within 3x of quiet', mixP99 <= 3 * floor, `${mixP99.toFixed(2)} ms vs 3 × ${floor.toFixed(2)} ms`)
    else console.log(`info p99 ${mixP99.toFixed(2)} ms vs 3 × ${floor.toFixed(2)} ms (not gated: --no-latency-gate)`)
    check('RSS within quiet + 64 MiB', peakRss <= start.rss + 64 * MiB, `peak ${(peakRss / MiB).toFixed(1)} MiB vs ${(start.rss / MiB).toFixed(1)} + 64 MiB`)
    check('descriptors back within 10%', within(after.fds, start.fds, 2), `${after.fds} vs ${start.fds} at start`)
    check('sessions back within 10%', within(after.sessions, start.sessions, 1), `${after.sessions} vs ${start.sessions} at start`)
    check('RSS back within 10%', within(after.rss, start.rss, 0), `${(after.rss / MiB).toFixed(1)} vs ${(start.rss / MiB).toFixed(1)} MiB at start`)
  } finally {
    await good.close()
    child.kill('SIGTERM')
    await new Promise((r) => {
      const t = setTimeout(() => {
        child.kill('SIGKILL')
        r()
      }, 10_000)
      child.once('exit', () => {
        clearTimeout(t)
        r()
      })
    })
  }
  const failed = results.filter((r) => !r.ok).length
  console.log(`soak: ${results.length - failed} passed, ${failed} failed`)
  process.exitCode = failed ? 1 : 0
}

if (process.argv.includes('--good')) {
  goodChild(Number(process.argv[process.argv.indexOf('--good') + 1])).catch((e) => {
    console.error(e)
    process.exit(1)
  })
} else {
  main().catch((e) => {
    console.error(e)
    console.log('soak: 0 passed, 1 failed')
    process.exit(1)
  })
}
