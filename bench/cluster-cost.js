'use strict'
// What the shared store (docs/deployment.md) costs per request, measured A/B on the same build:
// one addon server without `shared` and one with it (Redis on loopback), alternating, several
// rounds; the server pinned to one CPU and the load generator to the other. Reports req/s and
// the server's CPU time per request (utime+stime from /proc/PID/stat over requests served),
// which a loaded machine disturbs much less than req/s. Optional: two instances behind the
// round-robin proxy (scripts/rr-proxy.js) against one instance, req/s only. The shared steps are
// in bench/lib/ab.js.
//
//   cargo build --release --bin mcp-loadgen && npm run build
//   node bench/cluster-cost.js            env: ROUNDS=3 DURATION=5 MODES=tools-list,modern-tools-list
//                                              CONNECTIONS=32 PROXY=1 (add the two-instance row)
const net = require('node:net')
const path = require('node:path')
const { spawn } = require('node:child_process')
const ab = require('./lib/ab')

const ROUNDS = Number(process.env.ROUNDS || 3)
const DURATION = Number(process.env.DURATION || 5)
const CONNECTIONS = Number(process.env.CONNECTIONS || 32)
const MODES = (process.env.MODES || 'tools-list,modern-tools-list').split(',')
const pinned = ab.canPin()

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer()
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })
}

function waitLine(proc, prefix) {
  return new Promise((resolve, reject) => {
    let buf = ''
    const onData = (d) => {
      buf += d.toString()
      const m = buf.split('\n').find((l) => l.startsWith(prefix))
      if (m) {
        proc.stdout.off('data', onData)
        resolve(m.slice(prefix.length).trim())
      }
    }
    proc.stdout.on('data', onData)
    proc.once('exit', (c) => reject(new Error(`exited ${c} before ${prefix}`)))
  })
}

const stop = (proc) => ab.stopServer(proc)

async function server(redisUrl, cpu = 1) {
  const s = await ab.startServer({ env: { BENCH_SHARED_REDIS: redisUrl || undefined }, pin: pinned, cpu })
  return { proc: s.child, url: s.url, pid: s.pid }
}

const loadgen = (mode, url) => ab.runLoadgen(mode, url, { connections: CONNECTIONS, seconds: DURATION, warmup: 1, threads: 1, pin: pinned })

async function measure(mode, redisUrl) {
  const s = await server(redisUrl)
  try {
    const before = ab.cpuSeconds(s.pid)
    const r = loadgen(mode, s.url)
    const seconds = ab.cpuSeconds(s.pid) - before
    // The warm-up's requests are served too but not counted: CPU per request is an upper bound,
    // the same for both sides.
    return { rps: r.rps, ok: r.ok, errors: r.errors || 0, usPerReq: r.ok ? (seconds * 1e6) / r.ok : NaN }
  } finally {
    await stop(s.proc)
  }
}

const median = (xs) => ab.median(xs, { mean: true })

async function main() {
  ab.requireLoadgen()
  const redisPort = await freePort()
  const redis = spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
  await new Promise((r) => setTimeout(r, 500))
  const redisUrl = `redis://127.0.0.1:${redisPort}`
  const rows = []
  try {
    for (const mode of MODES) {
      const off = []
      const on = []
      for (let i = 0; i < ROUNDS; i++) {
        off.push(await measure(mode, null))
        on.push(await measure(mode, redisUrl))
      }
      const rpsRatio = median(on.map((x, i) => x.rps / off[i].rps))
      const cpuRatio = median(on.map((x, i) => x.usPerReq / off[i].usPerReq))
      rows.push({ mode, offRps: median(off.map((x) => x.rps)), onRps: median(on.map((x) => x.rps)), rpsRatio, offUs: median(off.map((x) => x.usPerReq)), onUs: median(on.map((x) => x.usPerReq)), cpuRatio, errors: [...off, ...on].reduce((n, x) => n + x.errors, 0) })
    }
    if (process.env.PROXY === '1') {
      for (const mode of MODES) {
        const one = await server(redisUrl, 1)
        const two = await server(redisUrl, 1)
        const proxy = spawn(process.execPath, [path.join(ab.ROOT, 'scripts', 'rr-proxy.js'), one.url, two.url], { stdio: ['ignore', 'pipe', 'inherit'] })
        try {
          const purl = await waitLine(proxy, 'LISTENING ')
          const direct = loadgen(mode, one.url)
          const through = loadgen(mode, purl)
          rows.push({ mode: `${mode} (2 instances via proxy vs 1 direct)`, offRps: direct.rps, onRps: through.rps, rpsRatio: through.rps / direct.rps, errors: (direct.errors || 0) + (through.errors || 0) })
        } finally {
          await stop(proxy)
          await stop(one.proc)
          await stop(two.proc)
        }
      }
    }
  } finally {
    await stop(redis)
  }
  const load = ab.loadAverage()
  console.log(`| workload | without shared req/s | with shared req/s | ratio (median of ${ROUNDS} paired rounds) | CPU µs/req without | with | ratio |`)
  console.log('|---|---:|---:|---:|---:|---:|---:|')
  for (const r of rows) {
    const f = (x, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : '–')
    console.log(`| ${r.mode} | ${f(r.offRps)} | ${f(r.onRps)} | ${f(r.rpsRatio, 2)} | ${f(r.offUs, 1)} | ${f(r.onUs, 1)} | ${f(r.cpuRatio, 2)} |${r.errors ? ` errors: ${r.errors}` : ''}`)
  }
  console.log(`\nload average ${load}; ${pinned ? 'server on CPU 1, load generator on CPU 0' : 'not pinned'}; ${CONNECTIONS} connections, ${DURATION} s per run`)
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
