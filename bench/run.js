'use strict'
// The side-by-side benchmark runner: starts each server, drives it with mcp-loadgen (Rust, hyper
// client, verifies every response), samples memory, and prints one markdown table.
//
//   node bench/run.js            full run (a few minutes on 2 cores); writes bench/results.md
//   node bench/run.js --smoke    a few seconds, small counts; no timing assertions; exits non-zero
//                                if a server fails or the load generator counts any error
//
// bench/run.sh and bench/smoke.sh build and install what this needs first. Environment knobs:
//   BENCH_DURATION (s, measured time per throughput cell), BENCH_WARMUP (s), BENCH_ROUNDS,
//   BENCH_CONNECTIONS,
//   BENCH_REQUESTS (cap per cell), BENCH_IDLE_SESSIONS, BENCH_SSE_STREAMS,
//   BENCH_ONLY=ping,tools-call,...  (workload keys), BENCH_SERVERS=addon,sdk,node,handler,hyper,
//   addon-metrics, addon-auth-js, addon-auth-jwt, addon-redis, addon-cluster (the last two need
//   redis-server, which the run starts on a free loopback port; not in --smoke),
//   BENCH_JSON=1 (2025-era POSTs answered as application/json instead of SSE, every server),
//   BENCH_PIN=0 (do not pin server and load generator to separate CPUs), BENCH_OUT (results file),
//   BENCH_COST_ROUNDS (rounds per row of the metrics-cost table, default 8; 0 skips it; it runs
//   on full runs and when BENCH_SERVERS names addon-metrics).
const { spawn, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const together = require('./cpu-ab-together')

const ROOT = path.resolve(__dirname, '..')
const BENCH = __dirname
const smoke = process.argv.includes('--smoke')
const env = process.env
const num = (name, dflt) => (env[name] !== undefined && env[name] !== '' ? Number(env[name]) : dflt)

const targetDir = env.CARGO_TARGET_DIR ? path.resolve(env.CARGO_TARGET_DIR) : path.join(ROOT, 'target')
const LOADGEN = path.join(targetDir, 'release', 'mcp-loadgen')
const CEILING = path.join(targetDir, 'release', 'mcp-ceiling')
const TOOLS_JSON = path.join(BENCH, 'servers', 'tools.json')
const TOOL_COUNT = JSON.parse(fs.readFileSync(TOOLS_JSON, 'utf8')).length

const cfg = {
  duration: num('BENCH_DURATION', smoke ? 0.3 : 2),
  warmup: num('BENCH_WARMUP', smoke ? 0.1 : 0.5),
  // Throughput cells run this many rounds (servers interleaved); each server's best round is
  // reported: on a shared machine a neighbour's load only ever lowers a figure, so the best round
  // is the closest to what the server can do, and every server gets the same chance.
  rounds: num('BENCH_ROUNDS', smoke ? 1 : 3),
  connections: num('BENCH_CONNECTIONS', smoke ? 4 : 64),
  requests: num('BENCH_REQUESTS', smoke ? 200 : 2_000_000),
  churnRequests: num('BENCH_REQUESTS', smoke ? 40 : 2_000_000),
  idleSessions: num('BENCH_IDLE_SESSIONS', smoke ? 50 : 10_000),
  sseStreams: num('BENCH_SSE_STREAMS', smoke ? 20 : 1_000),
  json: env.BENCH_JSON === '1',
  // Smoke: one server process per server and era, reused by every workload. Full: a fresh process
  // for every cell, so no cell inherits another's heap, sessions or event store.
  fresh: !smoke,
}
for (const [k, v] of Object.entries(cfg)) {
  if (typeof v === 'number' && !(Number.isFinite(v) && v >= 0)) throw new Error(`bad ${k}: ${v}`)
}

// --- CPU placement: server and load generator on separate CPUs, so they do not steal each other's.
const ncpu = os.availableParallelism ? os.availableParallelism() : os.cpus().length
const hasTaskset = spawnSync('taskset', ['--version'], { stdio: 'ignore' }).status === 0
const pin = env.BENCH_PIN !== '0' && hasTaskset && ncpu >= 2
const half = Math.floor(ncpu / 2)
const LOADGEN_CPUS = pin ? range(0, half) : null
const SERVER_CPUS = pin ? range(half, ncpu) : null
function range(a, b) {
  return Array.from({ length: b - a }, (_, i) => a + i).join(',')
}
function pinned(cpus, cmd, args) {
  return cpus ? ['taskset', ['-c', cpus, cmd, ...args]] : [cmd, args]
}

// --- Servers. `sdk` is the TypeScript SDK: v1 (the host's wiring) for 2025 rows, v2 for 2026 rows.
const SERVERS = [
  { key: 'addon', label: 'this addon', cmd: () => ['node', [path.join(BENCH, 'servers', 'addon.js'), ...nodeFlags()]] },
  // The same server with `metrics: true`, on the request-path cells only: the cost of metrics.
  {
    key: 'addon-metrics',
    label: 'this addon, metrics on',
    only: ['tools-list', 'tools-call', 'modern-tools-list', 'modern-tools-call'],
    cmd: () => ['node', [path.join(BENCH, 'servers', 'addon.js'), '--metrics', ...nodeFlags()]],
  },
  // The same server with authorization on (`auth`, docs/authorization.md): a JS verifier (run
  // once per token, then cached) and JWTs verified in Rust; every request carries the bearer token
  // the server prints. The cost of authorization on a cached token.
  ...['js', 'jwt'].map((mode) => ({
    key: `addon-auth-${mode}`,
    label: `this addon, auth (${mode === 'js' ? 'JS verifier' : 'jwt'})`,
    only: ['tools-list', 'tools-call', 'modern-tools-list', 'modern-tools-call'],
    env: { BENCH_AUTH: mode },
    cmd: () => ['node', [path.join(BENCH, 'servers', 'addon.js'), ...nodeFlags()]],
  })),
  // The shared store (docs/deployment.md): one instance joined to Redis, and two instances on
  // Redis behind the round-robin proxy of scripts/rr-proxy.js (a Node process, so that row
  // measures the proxy too). Full runs only, when redis-server is installed: main() starts one
  // on a free loopback port.
  ...[
    ['addon-redis', 'this addon, shared on Redis', 'addon.js'],
    ['addon-cluster', '2 instances on Redis, proxied', 'cluster.js'],
  ].map(([key, label, script]) => ({
    key,
    label,
    only: ['ping', 'tools-list', 'tools-call', 'modern-tools-list', 'modern-tools-call'],
    redis: true,
    env: () => ({ BENCH_SHARED_REDIS: redisUrl }),
    cmd: () => ['node', [path.join(BENCH, 'servers', script), ...nodeFlags()]],
  })),
  {
    key: 'sdk',
    label: 'TS SDK',
    cmd: (era) => ['node', [path.join(BENCH, 'servers', era === 'modern' ? 'sdk-v2.js' : 'sdk-v1.js'), ...nodeFlags()]],
  },
  { key: 'node', label: 'node:http', cmd: () => ['node', [path.join(BENCH, 'servers', 'node-http.js'), ...nodeFlags()]] },
  // Handler mode: the same addon behind node:http (Node parses HTTP, handler.handle serves).
  { key: 'handler', label: 'addon handler (node:http)', cmd: () => ['node', [path.join(BENCH, 'servers', 'addon-handler.js'), ...nodeFlags()]] },
  {
    key: 'hyper',
    label: 'hyper (ceiling)',
    cmd: () => [CEILING, ['--port', '0', '--tools', TOOLS_JSON, ...(cfg.json ? [] : ['--sse'])]],
  },
].filter((s) => (!env.BENCH_SERVERS || env.BENCH_SERVERS.split(',').includes(s.key)) && !(smoke && s.redis))
let redisUrl = null
function nodeFlags() {
  return ['--port', '0', ...(cfg.json ? ['--json'] : [])]
}

// --- Workloads.
const WORKLOADS = [
  { key: 'ping', title: 'ping (2025, 64 sessions)', mode: 'ping', era: 'legacy', kind: 'rps', rust: true },
  { key: 'tools-list', title: 'tools/list (2025)', mode: 'tools-list', era: 'legacy', kind: 'rps', rust: true },
  { key: 'tools-call', title: 'tools/call echo (2025, JS)', mode: 'tools-call', era: 'legacy', kind: 'rps', js: true },
  { key: 'churn', title: 'session churn (init+call+DELETE)', mode: 'churn', era: 'legacy', kind: 'rps', unit: 'sessions/s' },
  { key: 'idle', title: 'idle sessions', mode: 'idle-sessions', era: 'legacy', kind: 'mem', count: cfg.idleSessions },
  { key: 'sse', title: 'open GET SSE streams', mode: 'sse-streams', era: 'legacy', kind: 'mem', count: cfg.sseStreams },
  { key: 'modern-tools-list', title: 'tools/list (2026-07-28)', mode: 'modern-tools-list', era: 'modern', kind: 'rps', rust: true },
  { key: 'modern-tools-call', title: 'tools/call echo (2026-07-28, JS)', mode: 'modern-tools-call', era: 'modern', kind: 'rps', js: true },
  { key: 'modern-discover', title: 'server/discover (2026-07-28)', mode: 'modern-discover', era: 'modern', kind: 'rps', rust: true },
].filter((w) => !env.BENCH_ONLY || env.BENCH_ONLY.split(',').includes(w.key))
for (const w of WORKLOADS) {
  w.title = w.title.replace('64 sessions', `${cfg.connections} sessions`)
  if (w.count !== undefined) w.title = `${w.count.toLocaleString('en-US')} ${w.title}`
}

// --- A shared machine: before each throughput cell wait (a bounded time) for the CPUs to be
// quiet, since nothing of ours runs between cells; the busy fraction seen is kept in the results.
const QUIET_BUSY = num('BENCH_QUIET_BUSY', 0.25)
const QUIET_WAIT_MS = num('BENCH_QUIET_WAIT_MS', smoke ? 0 : 5_000)
function cpuTimes() {
  try {
    const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number)
    const idle = f[3] + (f[4] || 0)
    return { total: f.reduce((a, b) => a + b, 0), idle }
  } catch {
    return null
  }
}
async function busyFraction(ms) {
  const a = cpuTimes()
  await sleep(ms)
  const b = cpuTimes()
  if (!a || !b || b.total <= a.total) return 0
  return 1 - (b.idle - a.idle) / (b.total - a.total)
}
async function waitQuiet() {
  const until = Date.now() + QUIET_WAIT_MS
  let busy = await busyFraction(250)
  while (busy > QUIET_BUSY && Date.now() < until) busy = await busyFraction(500)
  return Math.round(busy * 100) / 100
}
function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms))
}

// --- Processes. Every child is tracked, so an interrupted run leaves nothing behind.
const children = new Set()
function track(child) {
  children.add(child)
  child.on('exit', () => children.delete(child))
  return child
}
function killChildren() {
  for (const c of children) {
    try {
      c.kill('SIGKILL')
    } catch {}
  }
}
process.on('exit', killChildren)
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    killChildren()
    process.exit(130)
  })
}

function startServer(server, era) {
  const [cmd, args] = server.cmd(era)
  const [c, a] = pinned(SERVER_CPUS, cmd, args)
  const child = track(spawn(c, a, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, UV_THREADPOOL_SIZE: '2', ...(typeof server.env === 'function' ? server.env() : server.env || {}) } }))
  const state = { child, exited: null, stderr: '', stdout: '' }
  child.stderr.on('data', (d) => {
    state.stderr = (state.stderr + d).slice(-4000)
  })
  child.on('exit', (code, signal) => {
    state.exited = { code, signal }
  })
  return new Promise((resolve) => {
    const timer = setTimeout(() => finish({ error: 'did not report LISTENING within 30 s' }), 30_000)
    const finish = (r) => {
      clearTimeout(timer)
      child.stdout.removeAllListeners('data')
      child.stdout.on('data', () => {}) // keep draining
      resolve({ ...r, state })
    }
    child.stdout.on('data', (d) => {
      state.stdout += d
      const listening = /LISTENING (\S+)/.exec(state.stdout)
      const unavailable = /UNAVAILABLE (.*)/.exec(state.stdout)
      // A server with authorization on prints the token its clients must send.
      const bearer = /BEARER (\S+)/.exec(state.stdout)
      if (listening) finish({ url: listening[1], ...(bearer ? { bearer: bearer[1] } : {}) })
      else if (unavailable) finish({ unavailable: unavailable[1].trim() })
    })
    child.on('exit', (code, signal) => finish({ error: `exited (${code ?? signal}) before listening: ${state.stderr.slice(-500)}` }))
  })
}

// A throwaway redis-server on a free loopback port for the shared-store rows (no persistence);
// stopped with the other children. Returns why it could not start, or null.
async function startRedis() {
  const port = await new Promise((resolve) => {
    const s = require('node:net').createServer()
    s.listen(0, '127.0.0.1', () => {
      const p = s.address().port
      s.close(() => resolve(p))
    })
  })
  const child = track(spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'ignore'] }))
  return new Promise((resolve) => {
    let out = ''
    const timer = setTimeout(() => resolve('redis-server did not start in 10 s'), 10_000)
    child.on('error', (e) => {
      clearTimeout(timer)
      resolve(e.code === 'ENOENT' ? 'redis-server is not installed' : e.message)
    })
    child.stdout.on('data', (d) => {
      out += d
      if (/Ready to accept connections/.test(out)) {
        clearTimeout(timer)
        child.stdout.resume()
        redisUrl = `redis://127.0.0.1:${port}`
        resolve(null)
      }
    })
  })
}

async function stopServer(s) {
  if (!s || !s.state || s.state.exited) return
  const { child } = s.state
  const done = new Promise((r) => child.once('exit', r))
  child.kill('SIGTERM')
  const t = setTimeout(() => child.kill('SIGKILL'), 3000)
  await done
  clearTimeout(t)
}

function runLoadgen(args, limitMs) {
  const [c, a] = pinned(LOADGEN_CPUS, LOADGEN, args)
  return new Promise((resolve) => {
    const child = track(spawn(c, a, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] }))
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (err = (err + d).slice(-4000)))
    const timer = setTimeout(() => child.kill('SIGKILL'), limitMs)
    child.on('exit', (code) => {
      clearTimeout(timer)
      const line = out.trim().split('\n').pop() || ''
      try {
        resolve(JSON.parse(line))
      } catch {
        resolve({ fatal: `load generator exit ${code}: ${err.slice(-500) || out.slice(-500)}` })
      }
    })
  })
}

function loadgenArgs(w, url, pid, bearer) {
  const a = [w.mode, '--url', url, '--connections', String(cfg.connections), '--expect-tools', String(TOOL_COUNT)]
  if (bearer) a.push('--bearer', bearer)
  if (w.kind === 'mem') {
    a.push('--count', String(w.count), '--server-pid', String(pid), '--warmup-sessions', smoke ? '10' : '200', '--settle-ms', smoke ? '100' : '1500')
  } else {
    a.push('--requests', String(w.key === 'churn' ? cfg.churnRequests : cfg.requests))
    a.push('--duration', String(cfg.duration), '--warmup', String(cfg.warmup))
  }
  return a
}

// --- The run.
async function main() {
  for (const bin of [LOADGEN, CEILING]) {
    if (!fs.existsSync(bin)) throw new Error(`${bin} is missing: run \`cargo build --release -p mcp-loadgen\` (bench/run.sh does)`)
  }
  const started = new Date()
  const results = {} // results[workload][server] = loadgen JSON | { na } | { fatal }
  const failures = []
  const cache = new Map() // smoke: `${server}:${era}` -> started server
  const unavailable = {}
  if (SERVERS.some((s) => s.redis)) {
    const why = await startRedis()
    if (why) for (const s of SERVERS.filter((s) => s.redis)) unavailable[s.key] = `not available: ${why}`
  }

  const runs = {} // runs[workload][server] = [loadgen JSON, one per round]
  for (const w of WORKLOADS) {
    results[w.key] = {}
    runs[w.key] = {}
    const rounds = w.kind === 'rps' ? Math.max(1, cfg.rounds) : 1
    for (let round = 0; round < rounds; round++) {
      for (const s of SERVERS) {
        if (s.only && !s.only.includes(w.key)) continue
        if (unavailable[s.key]) {
          results[w.key][s.key] = { na: unavailable[s.key] }
          continue
        }
        if (results[w.key][s.key] && results[w.key][s.key].fatal) continue
        const cacheKey = `${s.key}:${w.era}`
        let srv = cfg.fresh ? null : cache.get(cacheKey)
        if (!srv) {
          srv = await startServer(s, w.era)
          if (!cfg.fresh) cache.set(cacheKey, srv)
        }
        if (srv.unavailable) {
          unavailable[s.key] = `not available: ${srv.unavailable}`
          results[w.key][s.key] = { na: unavailable[s.key] }
          await stopServer(srv)
          continue
        }
        if (srv.error) {
          results[w.key][s.key] = { fatal: `server ${srv.error}` }
          failures.push(`${w.key} / ${s.key}: server ${srv.error}`)
          await stopServer(srv)
          cache.delete(cacheKey)
          continue
        }
        const limit = (cfg.warmup + cfg.duration) * 1000 + 180_000
        const busy = QUIET_WAIT_MS > 0 ? await waitQuiet() : null
        const r = await runLoadgen(loadgenArgs(w, srv.url, srv.state.child.pid, srv.bearer), limit)
        if (busy !== null) r.cpu_busy_before = busy
        if (srv.state.exited) {
          r.fatal = `server exited (${srv.state.exited.code ?? srv.state.exited.signal}): ${srv.state.stderr.slice(-300)}`
          cache.delete(cacheKey)
        }
        ;(runs[w.key][s.key] = runs[w.key][s.key] || []).push(r)
        const errs = (r.errors || 0) + (r.missing || 0)
        if (r.fatal || errs > 0) {
          failures.push(`${w.key} / ${s.key}: ${r.fatal || `${errs} errors ${JSON.stringify(r.error_kinds)} ${JSON.stringify(r.error_samples)}`}`)
        }
        process.stderr.write(
          `  ${w.key.padEnd(18)} ${s.key.padEnd(6)} ${rounds > 1 ? `round ${round + 1} ` : ''}${summary(w, r)}${busy > QUIET_BUSY ? ` (CPUs ${Math.round(busy * 100)}% busy before)` : ''}\n`,
        )
        if (cfg.fresh) await stopServer(srv)
        results[w.key][s.key] = pickBest(runs[w.key][s.key])
      }
    }
  }
  for (const srv of cache.values()) await stopServer(srv)

  const wrk = smoke ? null : await wrkCrossCheck(results)
  const runsOut = runs
  const hub = runHubBench(failures)
  const cost = await metricsCost(failures)
  const md = render(started, results, runs, wrk, hub, failures, cost)

  const rawDir = path.join(BENCH, 'results-raw')
  fs.mkdirSync(rawDir, { recursive: true })
  const stamp = started.toISOString().replace(/[:.]/g, '-')
  fs.writeFileSync(path.join(rawDir, `${smoke ? 'smoke' : 'full'}-${stamp}.json`), JSON.stringify({ cfg, machine: machine(), results, runs: runsOut, wrk, cost }, null, 2))
  const out = env.BENCH_OUT || (smoke ? path.join(rawDir, 'smoke.md') : path.join(BENCH, 'results.md'))
  fs.writeFileSync(out, md)
  process.stdout.write(md)
  process.stderr.write(`\nwritten to ${path.relative(ROOT, out)}\n`)
  // A full, unfiltered run also refreshes the table in every README that carries the markers.
  if (!smoke && !env.BENCH_ONLY && !env.BENCH_SERVERS && !env.BENCH_OUT) {
    for (const readme of [path.join(BENCH, 'README.md'), path.join(ROOT, 'README.md')]) {
      if (updateReadme(readme, md)) process.stderr.write(`updated the table in ${path.relative(ROOT, readme)}\n`)
    }
  }
  if (failures.length) {
    process.stderr.write(`\nFAILED: ${failures.length} cell(s) with errors:\n  ${failures.join('\n  ')}\n`)
    process.exitCode = 1
  }
}

/** The round with the best req/s (its latencies with it); a failed round wins (failures must
 * show); errors are summed over the rounds. */
function pickBest(rs) {
  const failed = rs.find((r) => r.fatal)
  if (failed) return failed
  const sorted = [...rs].sort((a, b) => (b.rps || 0) - (a.rps || 0))
  const pick = { ...sorted[0] }
  pick.errors = rs.reduce((n, r) => n + (r.errors || 0), 0)
  pick.missing = rs.reduce((n, r) => n + (r.missing || 0), 0)
  if (rs.length > 1) pick.rounds_rps = rs.map((r) => r.rps)
  return pick
}

const START = '<!-- bench:results:start -->'
const END = '<!-- bench:results:end -->'
function updateReadme(file, md) {
  let text
  try {
    text = fs.readFileSync(file, 'utf8')
  } catch {
    return false
  }
  const a = text.indexOf(START)
  const b = text.indexOf(END)
  if (a === -1 || b < a) return false
  const body = md.replace(/^## Benchmark results\n/, '').trim()
  fs.writeFileSync(file, `${text.slice(0, a + START.length)}\n${body}\n${text.slice(b)}`)
  return true
}

function summary(w, r) {
  if (r.na) return r.na
  if (r.fatal) return `FATAL ${r.fatal}`
  if (w.kind === 'mem') return `${r.opened} open, ${fmtBytes(r.bytes_per_session)}/session, errors ${r.errors}`
  return `${Math.round(r.rps)} /s p50 ${ms(r.p50_us)} p99 ${ms(r.p99_us)} errors ${r.errors}`
}

// --- wrk against the ceiling's ping, to show the load generator is not the bottleneck.
async function wrkCrossCheck(results) {
  if (spawnSync('wrk', ['--version'], { stdio: 'ignore' }).error) return null
  const hyper = SERVERS.find((s) => s.key === 'hyper')
  if (!hyper || !results.ping || !results.ping.hyper || !results.ping.hyper.rps) return null
  const srv = await startServer(hyper, 'legacy')
  try {
    if (!srv.url) return null
    const res = await fetch(srv.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'wrk', version: '1' } } }),
    })
    const sid = res.headers.get('mcp-session-id')
    await res.text()
    if (!sid) return null
    const script = path.join(os.tmpdir(), `mcp-bench-wrk-${process.pid}.lua`)
    fs.writeFileSync(
      script,
      `wrk.method = "POST"\nwrk.body = '{"jsonrpc":"2.0","id":1,"method":"ping"}'\n` +
        `wrk.headers["Content-Type"] = "application/json"\nwrk.headers["Accept"] = "application/json, text/event-stream"\n` +
        `wrk.headers["Mcp-Session-Id"] = "${sid}"\nwrk.headers["MCP-Protocol-Version"] = "2025-11-25"\n`,
    )
    const threads = LOADGEN_CPUS ? LOADGEN_CPUS.split(',').length : ncpu
    const secs = Math.max(1, Math.round(cfg.duration))
    // wrk and mcp-loadgen alternate on the same server process, best of two each.
    const best = { rps: 0, p99_us: null, non2xx: 0, loadgen_rps: 0 }
    for (let i = 0; i < 2; i++) {
      const [c, a] = pinned(LOADGEN_CPUS, 'wrk', ['-t', String(threads), '-c', String(cfg.connections), '-d', `${secs}s`, '--latency', '-s', script, srv.url])
      const r = spawnSync(c, a, { encoding: 'utf8', timeout: (secs + 30) * 1000 })
      const rps = /Requests\/sec:\s+([\d.]+)/.exec(r.stdout || '')
      const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(r.stdout || '')
      const p99 = /\s99%\s+([\d.]+)(us|ms|s)/.exec(r.stdout || '')
      if (rps && Number(rps[1]) > best.rps) {
        best.rps = Number(rps[1])
        best.p99_us = p99 ? Number(p99[1]) * (p99[2] === 'us' ? 1 : p99[2] === 'ms' ? 1000 : 1e6) : null
        best.non2xx = non2xx ? Number(non2xx[1]) : 0
      }
      const lg = await runLoadgen(['ping', '--url', srv.url, '--connections', String(cfg.connections), '--duration', String(secs), '--warmup', '0.2', '--requests', String(cfg.requests)], (secs + 60) * 1000)
      if (!lg.errors && lg.rps > best.loadgen_rps) best.loadgen_rps = lg.rps
    }
    fs.rmSync(script, { force: true })
    return best.rps ? best : null
  } finally {
    await stopServer(srv)
  }
}

// --- The cost of `metrics: true` as CPU per request, both variants measured at the same time
// (bench/cpu-ab-together.js): the servers share one CPU and their load generators the other, so
// whatever else the machine does disturbs both alike. req/s of best rounds, measured one after
// the other, moves by ±10% on a shared 2-core machine: too coarse for a 3% budget.
const COST_MODES = ['tools-list', 'modern-tools-list', 'tools-call', 'modern-tools-call']
async function metricsCost(failures) {
  const rounds = num('BENCH_COST_ROUNDS', 8)
  const wanted = !smoke && rounds > 0 && (!env.BENCH_SERVERS || SERVERS.some((s) => s.key === 'addon-metrics'))
  if (!wanted) return null
  const rows = []
  for (const mode of COST_MODES) {
    if (env.BENCH_ONLY && !env.BENCH_ONLY.split(',').includes(mode)) continue
    try {
      const r = await together.compare({ rounds, mode, specA: ROOT, specB: `${ROOT}@{"metrics":true}`, log: (l) => process.stderr.write(`  metrics cost ${l}\n`) })
      rows.push({ mode, rounds, cpu: r.cpu, rps: r.rps, min: Math.min(...r.ratios), max: Math.max(...r.ratios) })
    } catch (e) {
      failures.push(`metrics cost ${mode}: ${String(e && e.message).slice(0, 300)}`)
    }
  }
  return { rows, load: require('./lib/ab').loadAverage() }
}

// --- The stdout event hub benchmark (bench/events/hub-bench.js, another engineer's), if present.
function runHubBench(failures) {
  const script = path.join(BENCH, 'events', 'hub-bench.js')
  if (!fs.existsSync(script)) return { note: '`bench/events/hub-bench.js` is not in this tree yet; its table will appear here.' }
  const r = spawnSync('node', [script, ...(smoke ? ['--smoke'] : [])], { cwd: ROOT, encoding: 'utf8', timeout: smoke ? 120_000 : 600_000 })
  if (r.status !== 0) {
    const why = r.error ? r.error.message : `exit ${r.status ?? r.signal}: ${(r.stderr || '').slice(-400)}`
    failures.push(`hub-bench: ${why}`)
    return { note: `hub-bench failed: ${why}` }
  }
  return { table: (r.stdout || '').trim() }
}

// --- Formatting.
function ms(us) {
  if (us === undefined || us === null) return '–'
  const v = us / 1000
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)
}
function fmtInt(n) {
  return Math.round(n).toLocaleString('en-US')
}
function fmtBytes(b) {
  if (b === undefined || b === null) return '–'
  if (Math.abs(b) >= 1024 * 1024) return `${(b / 1024 / 1024).toFixed(1)} MiB`
  if (Math.abs(b) >= 1024) return `${(b / 1024).toFixed(1)} KiB`
  return `${Math.round(b)} B`
}
function ratio(a, b) {
  if (!(a > 0) || !(b > 0)) return '–'
  const r = a / b
  return `${r >= 10 ? r.toFixed(0) : r >= 1 ? r.toFixed(1) : r.toFixed(2)}x`
}

function machine() {
  const cpus = os.cpus()
  const model = cpus.length ? cpus[0].model.replace(/\s+/g, ' ').trim() : 'unknown CPU'
  const rustc = spawnSync('rustc', ['-V'], { encoding: 'utf8' }).stdout?.trim() || 'rustc ?'
  const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).stdout?.trim() || '?'
  return {
    cores: ncpu,
    model,
    memGiB: (os.totalmem() / 2 ** 30).toFixed(1),
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    rustc,
    commit,
  }
}

function render(started, results, runsAll, wrk, hub, failures, cost) {
  const m = machine()
  const cols = SERVERS.map((s) => s.key)
  const lines = []
  lines.push(`## Benchmark results${smoke ? ' (smoke run: tiny counts, figures mean nothing)' : ''}`)
  lines.push('')
  lines.push(
    `Machine: ${m.cores} cores (${m.model}), ${m.memGiB} GiB RAM, ${m.kernel}; ${m.node}, ${m.rustc}; commit ${m.commit}; ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC.`,
  )
  lines.push(
    `Load: mcp-loadgen (Rust, hyper client), ${cfg.connections} keep-alive connections, closed loop, ${cfg.warmup} s warm-up then ${cfg.duration} s or ${fmtInt(cfg.requests)} requests per cell, ` +
      `${cfg.rounds > 1 ? `${cfg.rounds} rounds per throughput cell (servers interleaved; each server's best round is shown, with its latencies), ` : ''}every response verified; ` +
      (cfg.json
        ? 'every server answers 2025-era POSTs as JSON; '
        : "2025-era POSTs answered in each server's default shape (SDK and node:http: SSE; this addon: JSON unless a callback streams first or runs past 100 ms); ") +
      (pin ? `server pinned to CPU ${SERVER_CPUS}, load generator to CPU ${LOADGEN_CPUS} (taskset); ` : 'not pinned (server and load generator share the CPUs); ') +
      `${cfg.fresh ? 'a fresh server process per cell' : 'one server process per server and era, reused by every workload'}. TS SDK = @modelcontextprotocol/sdk 1.32.2 (2025 rows), @modelcontextprotocol/server 2.4.0 (2026-07-28 rows).`,
  )
  lines.push('')
  const head = ['Workload', 'Metric', ...SERVERS.map((s) => s.label)]
  const ratioCols = []
  if (cols.includes('addon')) {
    for (const k of ['sdk', 'node', 'hyper']) if (cols.includes(k)) ratioCols.push(k)
  }
  for (const k of ratioCols) head.push(`addon / ${SERVERS.find((s) => s.key === k).label.replace(' (ceiling)', '')}`)
  lines.push(`| ${head.join(' | ')} |`)
  lines.push(`|${head.map((_, i) => (i < 2 ? ' --- ' : ' ---: ')).join('|')}|`)

  const cell = (r, f) => {
    if (!r) return '–'
    if (r.na) return 'n/a'
    if (r.fatal) return 'FAILED'
    const v = f(r)
    const errs = (r.errors || 0) + (r.missing || 0)
    return errs ? `${v} (${errs} err)` : v
  }
  for (const w of WORKLOADS) {
    const row = results[w.key] || {}
    const metrics =
      w.kind === 'rps'
        ? [
            { name: w.unit || 'req/s', val: (r) => r.rps, fmt: fmtInt },
            { name: 'p50 ms', val: (r) => r.p50_us, fmt: ms },
            { name: 'p99 ms', val: (r) => r.p99_us, fmt: ms },
          ]
        : [
            { name: 'RSS / session', val: (r) => r.bytes_per_session, fmt: fmtBytes },
            { name: 'RSS MiB (base → held)', val: (r) => r.rss_loaded_kb, fmt: null },
          ]
    metrics.forEach((mt, i) => {
      const cells = [i === 0 ? w.title : '', mt.name]
      for (const k of cols) {
        cells.push(
          cell(row[k], (r) =>
            mt.fmt ? mt.fmt(mt.val(r)) : r.rss_base_kb ? `${(r.rss_base_kb / 1024).toFixed(0)} → ${(r.rss_loaded_kb / 1024).toFixed(0)}` : '–',
          ),
        )
      }
      for (const k of ratioCols) {
        const a = row.addon
        const b = row[k]
        const ok = (r) => r && !r.na && !r.fatal
        cells.push(mt.fmt && ok(a) && ok(b) ? ratio(mt.val(a), mt.val(b)) : '–')
      }
      lines.push(`| ${cells.join(' | ')} |`)
    })
  }
  lines.push('')
  lines.push('Ratios are addon ÷ other: above 1x is better for req/s and sessions/s, below 1x is better for latency and memory.')
  const notes = []
  const na = Object.values(results)
    .flatMap((r) => Object.entries(r))
    .find(([k, r]) => k === 'addon' && r.na)
  if (na) notes.push(`The addon rows are empty: ${na[1].na}.`)
  const noisy = Object.values(runsAll)
    .flatMap((r) => Object.values(r))
    .flat()
    .filter((r) => r && r.cpu_busy_before > QUIET_BUSY).length
  const total = Object.values(runsAll)
    .flatMap((r) => Object.values(r))
    .flat()
    .filter((r) => r && r.cpu_busy_before !== undefined).length
  if (total) {
    notes.push(
      `Shared machine: ${noisy} of ${total} measured runs started while other processes kept the CPUs over ${Math.round(QUIET_BUSY * 100)}% busy (after waiting up to ${QUIET_WAIT_MS / 1000} s for quiet); figures from a busy machine are low, never high.`,
    )
  }
  if (wrk) {
    notes.push(
      `Load generator check: wrk against the hyper ceiling (ping, ${cfg.connections} connections, same CPUs, no verification) did ${fmtInt(wrk.rps)} req/s` +
        `${wrk.p99_us ? `, p99 ${ms(wrk.p99_us)} ms` : ''}${wrk.non2xx ? ` (${wrk.non2xx} non-2xx)` : ''}; mcp-loadgen, alternating with it on the same server process, did ${fmtInt(wrk.loadgen_rps)} req/s (${ratio(wrk.loadgen_rps, wrk.rps)} of wrk).`,
    )
  }
  const metricsCost = WORKLOADS.filter((w) => {
    const r = results[w.key] || {}
    return r.addon && r['addon-metrics'] && !r.addon.na && !r.addon.fatal && !r['addon-metrics'].fatal && r.addon.rps
  }).map((w) => {
    const r = results[w.key]
    const cost = (1 - r['addon-metrics'].rps / r.addon.rps) * 100
    return `${w.title} ${cost >= 0 ? '−' : '+'}${Math.abs(cost).toFixed(1)}%`
  })
  if (metricsCost.length) notes.push(`Metrics on (\`metrics: true\`) vs off, req/s of the best rounds: ${metricsCost.join(', ')} (budget: at most 3% lower).`)
  for (const mode of ['js', 'jwt']) {
    const key = `addon-auth-${mode}`
    const authCost = WORKLOADS.filter((w) => {
      const r = results[w.key] || {}
      return r.addon && r[key] && !r.addon.na && !r.addon.fatal && !r[key].na && !r[key].fatal && r.addon.rps
    }).map((w) => {
      const r = results[w.key]
      const cost = (1 - r[key].rps / r.addon.rps) * 100
      return `${w.title} ${cost >= 0 ? '−' : '+'}${Math.abs(cost).toFixed(1)}%`
    })
    if (authCost.length) {
      const how = mode === 'js' ? 'a JS `verify` (cached after the first request of the token)' : '`jwt` (RS256, verified in Rust, then cached)'
      notes.push(`Authorization on with ${how} vs off, req/s of the best rounds: ${authCost.join(', ')} (budget: at most 10% lower).`)
    }
  }
  if (notes.length) lines.push('', ...notes.map((n) => `- ${n}`))
  if (cost && cost.rows.length) {
    const { pct } = together
    lines.push('', '### Cost of `metrics: true`, CPU per request (both variants at once)', '')
    lines.push('| Workload | CPU per request, on vs off (median) | rounds: lowest, highest | req/s, on vs off |', '| --- | ---: | --- | ---: |')
    for (const r of cost.rows) lines.push(`| ${r.mode} | ${pct(r.cpu)} | ${pct(r.min)}, ${pct(r.max)} | ${pct(r.rps)} |`)
    lines.push(
      '',
      `Each round starts both servers (\`bench/servers/addon.js\`, with and without \`metrics: true\`) on one CPU and their load generators (${together.CONNECTIONS} connections each) on the other, measures both at once for ${together.DUR} s and takes each server's CPU time per request; the median of ${cost.rows[0].rounds} rounds' ratios is shown (\`node bench/cpu-ab-together.js\`; load average at the end ${cost.load}).`,
    )
  }
  lines.push('', ...targets(results, cost))
  // hub-bench.js prints its own heading; add one only when it does not.
  if (!(hub.table && /^#{2,4} /m.test(hub.table))) lines.push('', '### Stdout event hub: ConnectionEventHub vs chunk-and-JSON.parse', '')
  lines.push('', hub.table || hub.note)
  if (failures.length) {
    lines.push('', '### Errors', '', ...failures.map((f) => `- ${f.replace(/\|/g, '\\|').slice(0, 600)}`))
  }
  lines.push('')
  return lines.join('\n')
}

/** The issue's targets and the developers' guide's, each met / not met / not measured. */
function targets(results, cost) {
  const get = (w, s) => {
    const r = results[w] && results[w][s]
    return r && !r.na && !r.fatal && !(r.errors || r.missing) ? r : null
  }
  const out = ['### Targets', '', '| Target | Measured | Status |', '| --- | ---: | --- |']
  const row = (name, a, b, fn, fmt, want) => {
    if (!a || !b) return out.push(`| ${name} | – | not measured |`)
    const v = fn(a, b)
    out.push(`| ${name} | ${fmt(v)} | ${want(v) ? 'met' : '**not met**'} |`)
  }
  const x = (v) => `${v.toFixed(2)}x`
  for (const w of ['ping', 'tools-list']) {
    row(`${w}: ≥ 10x the SDK's req/s`, get(w, 'addon'), get(w, 'sdk'), (a, b) => a.rps / b.rps, x, (v) => v >= 10)
  }
  row("tools/call (JS): ≥ 3x the SDK's req/s", get('tools-call', 'addon'), get('tools-call', 'sdk'), (a, b) => a.rps / b.rps, x, (v) => v >= 3)
  for (const w of WORKLOADS.filter((w) => w.kind === 'rps')) {
    row(`${w.key}: p99 below the SDK's`, get(w.key, 'addon'), get(w.key, 'sdk'), (a, b) => a.p99_us / b.p99_us, x, (v) => v < 1)
  }
  row("idle sessions: ≤ 1/10 of the SDK's memory per session", get('idle', 'addon'), get('idle', 'sdk'), (a, b) => a.bytes_per_session / b.bytes_per_session, x, (v) => v <= 0.1)
  row("ping: ≥ 0.5x the ceiling's req/s", get('ping', 'addon'), get('ping', 'hyper'), (a, b) => a.rps / b.rps, x, (v) => v >= 0.5)
  for (const w of WORKLOADS.filter((w) => w.js)) {
    row(`${w.key} (guide): ≥ 1.5x node:http req/s`, get(w.key, 'addon'), get(w.key, 'node'), (a, b) => a.rps / b.rps, x, (v) => v >= 1.5)
  }
  // Handler mode (issue 15): behind node:http it pays Node's HTTP parsing, so its floor is the
  // hand-written node:http server, and it must stay well ahead of the SDK on the same stack.
  for (const w of ['tools-list', 'tools-call']) {
    row(`${w} (handler mode): ≥ 5x the SDK's req/s`, get(w, 'handler'), get(w, 'sdk'), (a, b) => a.rps / b.rps, x, (v) => v >= 5)
  }
  row('tools-call (handler mode): ≥ 0.8x node:http req/s', get('tools-call', 'handler'), get('tools-call', 'node'), (a, b) => a.rps / b.rps, x, (v) => v >= 0.8)
  // The shared store (issue 16): Rust-answered 2025 methods at least half of in-memory, stateless
  // 2026 requests unchanged within 5%.
  for (const w of ['ping', 'tools-list']) {
    row(`${w} (2025) on Redis: ≥ 0.5x in-memory req/s`, get(w, 'addon-redis'), get(w, 'addon'), (a, b) => a.rps / b.rps, x, (v) => v >= 0.5)
  }
  row('modern-tools-list on Redis: ≥ 0.95x in-memory req/s', get('modern-tools-list', 'addon-redis'), get('modern-tools-list', 'addon'), (a, b) => a.rps / b.rps, x, (v) => v >= 0.95)
  for (const w of WORKLOADS.filter((w) => w.rust)) {
    row(`${w.key} (guide, Rust-answered): ≥ 0.7x hyper req/s`, get(w.key, 'addon'), get(w.key, 'hyper'), (a, b) => a.rps / b.rps, x, (v) => v >= 0.7)
  }
  // Metrics (issue 17): at most 3% more CPU per request, measured side by side.
  for (const mode of COST_MODES) {
    const r = cost && cost.rows.find((c) => c.mode === mode)
    row(`${mode}: metrics on costs ≤ 3% CPU per request`, r, r, (a) => a.cpu, together.pct, (v) => v <= 1.03)
  }
  return out
}

main().catch((e) => {
  process.stderr.write(`bench: ${e && e.stack ? e.stack : e}\n`)
  process.exit(1)
})
