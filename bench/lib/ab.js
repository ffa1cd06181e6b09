'use strict'
// What the A/B cost scripts (cpu-ab.js, auth-cost.js, metrics-cost.js, cluster-cost.js) share:
// starting the bench addon server (bench/servers/addon.js) and stopping it, running mcp-loadgen
// against it, reading the server's CPU time, pinning to one CPU each, and the median. Each
// script keeps its own command line, variants and table.
const { spawn, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const ROOT = path.resolve(__dirname, '..', '..')
const LOADGEN = process.env.LOADGEN || path.join(process.env.CARGO_TARGET_DIR || path.join(ROOT, 'target'), 'release', 'mcp-loadgen')
const TOOLS = JSON.parse(fs.readFileSync(path.join(ROOT, 'bench', 'servers', 'tools.json'), 'utf8')).length

// Server on CPU 1 and load generator on CPU 0 needs two CPUs and taskset.
const canPin = () => (os.availableParallelism ? os.availableParallelism() : os.cpus().length) >= 2 && spawnSync('taskset', ['--version'], { stdio: 'ignore' }).status === 0

// [command, args], through `taskset -c CPU` when `pin`; taskset execs the command, so a spawned
// child's pid is the command's own.
const pinned = (pin, cpu, cmd, args) => (pin ? ['taskset', ['-c', String(cpu), cmd, ...args]] : [cmd, args])

// Nanoseconds on CPU of every thread of `pid` (/proc/<pid>/task/*/schedstat); with
// `onlyNative`, only the addon's own threads (tokio workers named mcp-native).
function cpuNs(pid, onlyNative = false) {
  let sum = 0
  for (const t of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      if (onlyNative && !fs.readFileSync(`/proc/${pid}/task/${t}/comm`, 'utf8').startsWith('mcp-native')) continue
      sum += Number(fs.readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0])
    } catch {
      // a thread that just ended
    }
  }
  return sum
}

let clkTck = 0
// utime + stime of `pid` in seconds (/proc/<pid>/stat, clock ticks).
function cpuSeconds(pid) {
  if (!clkTck) clkTck = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ')
  return (Number(rest[11]) + Number(rest[12])) / clkTck
}

// Starts `TREE/bench/servers/addon.js --port 0 ...args` (another server of bench/servers with
// env.BENCH_SCRIPT, e.g. addon-handler.js or node-http.js) and resolves once it prints LISTENING:
// { child, pid, url, bearer } (`bearer` is the token it prints with BENCH_AUTH, else null).
// `env` entries set to undefined are removed from the inherited environment.
function startServer({ tree = ROOT, args = [], env = {}, pin = false, cpu = 1, timeoutMs = 20_000 } = {}) {
  const full = { ...process.env }
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete full[k]
    else full[k] = v
  }
  const [cmd, argv] = pinned(pin, cpu, process.execPath, [path.join(path.resolve(tree), 'bench', 'servers', env.BENCH_SCRIPT || 'addon.js'), '--port', '0', ...args])
  const child = spawn(cmd, argv, { cwd: ROOT, env: full, stdio: ['ignore', 'pipe', 'inherit'] })
  return new Promise((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => reject(new Error('server did not start')), timeoutMs)
    const onExit = (code) => {
      clearTimeout(timer)
      reject(new Error(`server exited ${code}`))
    }
    child.on('exit', onExit)
    child.stdout.on('data', (d) => {
      out += d
      const m = out.match(/LISTENING (\S+)/)
      if (m) {
        clearTimeout(timer)
        child.off('exit', onExit)
        const bearer = out.match(/BEARER (\S+)/)
        resolve({ child, pid: child.pid, url: m[1], bearer: bearer ? bearer[1] : null })
      }
    })
  })
}

// SIGTERM, then waits for the exit (at most 5 s).
async function stopServer(child) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((r) => child.once('exit', r))
  child.kill('SIGTERM')
  await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))])
}

// The mcp-loadgen command line of one run: [command, args].
function loadgenCommand(mode, url, { connections = 16, seconds = 2, warmup = 0, requests, threads, bearer, expectTools = TOOLS, pin = false, cpu = 0 } = {}) {
  const a = [mode, '--url', url, '--connections', String(connections), '--expect-tools', String(expectTools), '--duration', String(seconds), '--warmup', String(warmup)]
  if (requests !== undefined) a.push('--requests', String(requests))
  if (threads !== undefined) a.push('--threads', String(threads))
  if (bearer) a.push('--bearer', bearer)
  return pinned(pin, cpu, LOADGEN, a)
}

// Its JSON summary (the last line it prints); throws with its stderr when it prints none.
function loadgenSummary(status, stdout, stderr) {
  try {
    return JSON.parse(stdout.trim().split('\n').pop())
  } catch {
    throw new Error(`load generator failed (${status}): ${stderr}`)
  }
}

// One mcp-loadgen run (bounded by `seconds` and `requests`); returns its JSON summary (the
// last line it prints). Throws with its stderr when it prints none.
function runLoadgen(mode, url, opts = {}) {
  const [cmd, argv] = loadgenCommand(mode, url, opts)
  const r = spawnSync(cmd, argv, { encoding: 'utf8', maxBuffer: 1 << 24 })
  return loadgenSummary(r.status, r.stdout || '', r.stderr || String(r.error))
}

// `runLoadgen` without blocking, so several runs can go at once.
function runLoadgenAsync(mode, url, opts = {}) {
  const [cmd, argv] = loadgenCommand(mode, url, opts)
  const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout.on('data', (d) => (out += d))
  child.stderr.on('data', (d) => (err += d))
  return new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (status) => {
      try {
        resolve(loadgenSummary(status, out, err))
      } catch (e) {
        reject(e)
      }
    })
  })
}

// Whether a load generator summary counted anything wrong.
const failedRun = (out) => (out.errors || 0) + (out.missing || 0) > 0 || Boolean(out.fatal) || !out.ok

function requireLoadgen() {
  if (!fs.existsSync(LOADGEN)) throw new Error(`${LOADGEN} is missing: run bench/setup.sh (or cargo build --release --bin mcp-loadgen) first`)
}

// The middle value; of an even count, the upper middle one (`mean: true`: the two middles' mean).
function median(xs, { mean = false } = {}) {
  const s = [...xs].sort((a, b) => a - b)
  if (mean && s.length % 2 === 0) return (s[s.length / 2 - 1] + s[s.length / 2]) / 2
  return s[Math.floor(s.length / 2)]
}

const loadAverage = () => os.loadavg().map((x) => x.toFixed(2)).join(' ')

module.exports = { ROOT, LOADGEN, TOOLS, canPin, pinned, cpuNs, cpuSeconds, startServer, stopServer, runLoadgen, runLoadgenAsync, failedRun, requireLoadgen, median, loadAverage }
