'use strict'
// The cost of authorization (`auth`, docs/authorization.md) as server CPU time per request and
// req/s: the bench addon server with authorization off, with a JS verifier (cached after the
// first request of the token) and in `jwt` mode, alternated round by round (A/B/C, the order
// rotating), each driven by mcp-loadgen for a fixed time with the token the server prints. CPU
// time, read from /proc/<pid>/task/*/schedstat before and after, is far less disturbed by a busy
// shared machine than req/s; both are reported.
//
//   node bench/auth-cost.js [rounds=3] [seconds=2]     (after bench/setup.sh has built mcp-loadgen)
//
// The server runs on CPU 1 and the load generator on CPU 0 (taskset) when there are two CPUs.
// Prints, per workload, the median CPU µs per request and req/s of each variant and the change
// against off; exits non-zero if a run counted errors.
const { spawn, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const ROOT = path.resolve(__dirname, '..')
const LOADGEN = path.join(process.env.CARGO_TARGET_DIR || path.join(ROOT, 'target'), 'release', 'mcp-loadgen')
const TOOLS = JSON.parse(fs.readFileSync(path.join(__dirname, 'servers', 'tools.json'), 'utf8')).length
const rounds = Number(process.argv[2] || 3)
const seconds = Number(process.argv[3] || 2)
const WORKLOADS = (process.env.AUTH_COST_ONLY || 'tools-list,tools-call,modern-tools-list,modern-tools-call').split(',')
const VARIANTS = ['off', 'js', 'jwt']
const pin = (os.availableParallelism ? os.availableParallelism() : os.cpus().length) >= 2 && spawnSync('taskset', ['--version'], { stdio: 'ignore' }).status === 0
const pinned = (cpu, cmd, args) => (pin ? ['taskset', ['-c', String(cpu), cmd, ...args]] : [cmd, args])

function cpuNs(pid) {
  let sum = 0
  for (const t of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      sum += Number(fs.readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0])
    } catch {
      // a thread that just ended
    }
  }
  return sum
}

function startServer(variant) {
  const [cmd, args] = pinned(1, 'node', [path.join(__dirname, 'servers', 'addon.js'), '--port', '0'])
  const env = { ...process.env, UV_THREADPOOL_SIZE: '2' }
  delete env.BENCH_AUTH
  if (variant !== 'off') env.BENCH_AUTH = variant
  const child = spawn(cmd, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'inherit'] })
  return new Promise((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => reject(new Error('server did not start')), 20_000)
    child.stdout.on('data', (d) => {
      out += d
      const m = out.match(/LISTENING (\S+)/)
      if (m) {
        clearTimeout(timer)
        const bearer = out.match(/BEARER (\S+)/)
        resolve({ child, url: m[1], bearer: bearer ? bearer[1] : null })
      }
    })
    child.on('exit', (code) => reject(new Error(`server exited ${code}`)))
  })
}

async function stop(child) {
  const exited = new Promise((r) => child.once('exit', r))
  child.kill('SIGTERM')
  await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))])
}

function loadgen(w, srv, secs) {
  const a = [w, '--url', srv.url, '--connections', '16', '--expect-tools', String(TOOLS), '--duration', String(secs), '--warmup', '0']
  if (srv.bearer) a.push('--bearer', srv.bearer)
  const [cmd, args] = pinned(0, LOADGEN, a)
  return spawnSync(cmd, args, { encoding: 'utf8' })
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]
}

async function main() {
  if (!fs.existsSync(LOADGEN)) throw new Error(`${LOADGEN} is missing: run bench/setup.sh first`)
  const cpu = {}
  const rps = {}
  for (const v of VARIANTS) (cpu[v] = {}), (rps[v] = {})
  let failed = false
  for (let round = 0; round < rounds; round++) {
    for (const w of WORKLOADS) {
      // Rotate the order so no variant always runs first (or last) in a round.
      const order = VARIANTS.map((_, i) => VARIANTS[(i + round) % VARIANTS.length])
      for (const variant of order) {
        const srv = await startServer(variant)
        // Warm-up run (JIT, allocator, connections, the token's first verification).
        loadgen(w, srv, 0.5)
        const before = cpuNs(srv.child.pid)
        const r = loadgen(w, srv, seconds)
        const spent = cpuNs(srv.child.pid) - before
        await stop(srv.child)
        let out
        try {
          out = JSON.parse(r.stdout.trim().split('\n').pop())
        } catch {
          throw new Error(`load generator failed: ${r.stderr}`)
        }
        if ((out.errors || 0) + (out.missing || 0) > 0 || out.fatal || !out.ok) {
          failed = true
          process.stderr.write(`${w} ${variant}: errors ${JSON.stringify(out.error_kinds || out.fatal)}\n`)
          continue
        }
        const perReq = spent / 1000 / out.ok
        ;(cpu[variant][w] = cpu[variant][w] || []).push(perReq)
        ;(rps[variant][w] = rps[variant][w] || []).push(out.rps)
        process.stderr.write(`${w} auth ${variant} round ${round + 1}: ${Math.round(out.rps)} req/s, ${perReq.toFixed(1)} µs CPU per request\n`)
      }
    }
  }
  const load = os.loadavg().map((x) => x.toFixed(2)).join(' ')
  console.log(`Median of ${rounds} interleaved rounds, ${seconds} s each, 16 connections${pin ? ', server on CPU 1, load generator on CPU 0' : ''}; load average at the end ${load}.`)
  console.log('')
  console.log('| workload | CPU µs/req off | JS verifier | cost | jwt | cost | req/s off | JS verifier | change | jwt | change |')
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
  const pct = (x, base) => `${x >= base ? '+' : '−'}${Math.abs(((x - base) / base) * 100).toFixed(1)}%`
  for (const w of WORKLOADS) {
    const m = (t, v) => (t[v][w] ? median(t[v][w]) : NaN)
    const [c0, c1, c2] = VARIANTS.map((v) => m(cpu, v))
    const [r0, r1, r2] = VARIANTS.map((v) => m(rps, v))
    console.log(
      `| ${w} | ${c0.toFixed(1)} | ${c1.toFixed(1)} | ${pct(c1, c0)} | ${c2.toFixed(1)} | ${pct(c2, c0)} | ${Math.round(r0)} | ${Math.round(r1)} | ${pct(r1, r0)} | ${Math.round(r2)} | ${pct(r2, r0)} |`,
    )
  }
  if (failed) {
    console.error('a run counted errors')
    process.exit(1)
  }
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
