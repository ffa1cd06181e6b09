'use strict'
// What the shared store (docs/deployment.md) costs per request, measured A/B on the same build:
// one addon server without `shared` and one with it (Redis on loopback), alternating, several
// rounds; the server pinned to one CPU and the load generator to the other. Reports req/s and
// the server's CPU time per request (utime+stime from /proc/PID/stat over requests served),
// which a loaded machine disturbs much less than req/s. Optional: two instances behind the
// round-robin proxy (scripts/rr-proxy.js) against one instance, req/s only.
//
//   cargo build --release --bin mcp-loadgen && npm run build
//   node bench/cluster-cost.js            env: ROUNDS=3 DURATION=5 MODES=tools-list,modern-tools-list
//                                              CONNECTIONS=32 PROXY=1 (add the two-instance row)
const fs = require('node:fs')
const net = require('node:net')
const path = require('node:path')
const { spawn, execFileSync } = require('node:child_process')

const ROOT = path.join(__dirname, '..')
const LOADGEN = path.join(ROOT, 'target', 'release', 'mcp-loadgen')
const ROUNDS = Number(process.env.ROUNDS || 3)
const DURATION = Number(process.env.DURATION || 5)
const CONNECTIONS = Number(process.env.CONNECTIONS || 32)
const MODES = (process.env.MODES || 'tools-list,modern-tools-list').split(',')
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100
const pinned = fs.existsSync('/usr/bin/taskset') && require('node:os').cpus().length >= 2

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer()
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })
}

function spawnPinned(cpu, cmd, args, env) {
  return pinned ? spawn('taskset', ['-c', String(cpu), cmd, ...args], { env, stdio: ['ignore', 'pipe', 'inherit'] }) : spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'inherit'] })
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

const cpuTicks = (pid) => {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ')
  return Number(rest[11]) + Number(rest[12]) // utime, stime (fields 14 and 15)
}

function stop(proc) {
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    proc.once('exit', resolve)
    proc.kill('SIGTERM')
  })
}

async function server(redisUrl, cpu = 1) {
  const env = { ...process.env }
  if (redisUrl) env.BENCH_SHARED_REDIS = redisUrl
  else delete env.BENCH_SHARED_REDIS
  const proc = spawnPinned(cpu, process.execPath, [path.join(ROOT, 'bench', 'servers', 'addon.js'), '--port', '0'], env)
  const url = await waitLine(proc, 'LISTENING ')
  // The node process itself (taskset execs it, so the pid is the same).
  return { proc, url, pid: proc.pid }
}

function loadgen(mode, url) {
  const args = [mode, '--url', url, '--connections', String(CONNECTIONS), '--duration', String(DURATION), '--warmup', '1', '--threads', '1']
  const out = execFileSync(pinned ? 'taskset' : LOADGEN, pinned ? ['-c', '0', LOADGEN, ...args] : args, { maxBuffer: 1 << 24 }).toString()
  return JSON.parse(out)
}

async function measure(mode, redisUrl) {
  const s = await server(redisUrl)
  try {
    const before = cpuTicks(s.pid)
    const r = loadgen(mode, s.url)
    const ticks = cpuTicks(s.pid) - before
    // The warm-up's requests are served too but not counted: CPU per request is an upper bound,
    // the same for both sides.
    return { rps: r.rps, ok: r.ok, errors: r.errors || 0, usPerReq: r.ok ? ((ticks / CLK_TCK) * 1e6) / r.ok : NaN }
  } finally {
    await stop(s.proc)
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

async function main() {
  if (!fs.existsSync(LOADGEN)) throw new Error('build the load generator first: cargo build --release --bin mcp-loadgen')
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
        const proxy = spawn(process.execPath, [path.join(ROOT, 'scripts', 'rr-proxy.js'), one.url, two.url], { stdio: ['ignore', 'pipe', 'inherit'] })
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
  const load = fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')
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
