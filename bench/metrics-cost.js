'use strict'
// The cost of `metrics: true` as server CPU time per request, which a busy shared machine
// disturbs far less than req/s: the addon server with and without metrics, alternated, each
// driven by mcp-loadgen for a fixed time; the server's CPU time is read from
// /proc/<pid>/task/*/schedstat (nanoseconds on CPU, every thread) before and after.
//
//   node bench/metrics-cost.js [rounds=5] [seconds=2]     (after bench/setup.sh has built mcp-loadgen)
//   METRICS_COST_PIN=1 node bench/metrics-cost.js ...      server on CPU 1, load generator on CPU 0
//
// Prints, per workload, the median CPU µs per request with metrics off and on and the
// difference; exits non-zero if a run counted errors.
const { spawn, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const ROOT = path.resolve(__dirname, '..')
const LOADGEN = path.join(process.env.CARGO_TARGET_DIR || path.join(ROOT, 'target'), 'release', 'mcp-loadgen')
const TOOLS = JSON.parse(fs.readFileSync(path.join(__dirname, 'servers', 'tools.json'), 'utf8')).length
const rounds = Number(process.argv[2] || 5)
const seconds = Number(process.argv[3] || 2)
const WORKLOADS = (process.env.METRICS_COST_WORKLOADS || 'tools-list,tools-call').split(',')
// With METRICS_COST_PIN=1 the server and the load generator run on one CPU each (taskset).
const PIN = process.env.METRICS_COST_PIN === '1'
const pinned = (cpu, cmd, args) => (PIN ? ['taskset', ['-c', String(cpu), cmd, ...args]] : [cmd, args])

// Nanoseconds on CPU: all threads, and the addon's own (tokio workers named mcp-native).
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

function startServer(metrics) {
  const args = [path.join(__dirname, 'servers', 'addon.js'), '--port', '0', ...(metrics ? ['--metrics'] : [])]
  const child = spawn(...pinned(1, 'node', args), { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] })
  return new Promise((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => reject(new Error('server did not start')), 20_000)
    child.stdout.on('data', (d) => {
      out += d
      const m = out.match(/LISTENING (\S+)/)
      if (m) {
        clearTimeout(timer)
        resolve({ child, url: m[1] })
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

function median(xs) {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]
}

async function main() {
  if (!fs.existsSync(LOADGEN)) throw new Error(`${LOADGEN} is missing: run bench/setup.sh first`)
  const us = { off: {}, on: {} }
  const native = { off: {}, on: {} }
  const rps = { off: {}, on: {} }
  let failed = false
  for (let round = 0; round < rounds; round++) {
    for (const w of WORKLOADS) {
      for (const variant of round % 2 ? ['on', 'off'] : ['off', 'on']) {
        const srv = await startServer(variant === 'on')
        // Warm-up run (JIT, allocator, connections), then the measured one.
        spawnSync(...pinned(0, LOADGEN, [w, '--url', srv.url, '--connections', '16', '--expect-tools', String(TOOLS), '--duration', '0.5', '--warmup', '0']))
        const before = cpuNs(srv.child.pid)
        const beforeNative = cpuNs(srv.child.pid, true)
        const r = spawnSync(...pinned(0, LOADGEN, [w, '--url', srv.url, '--connections', '16', '--expect-tools', String(TOOLS), '--duration', String(seconds), '--warmup', '0']), { encoding: 'utf8' })
        const spent = cpuNs(srv.child.pid) - before
        const spentNative = cpuNs(srv.child.pid, true) - beforeNative
        await stop(srv.child)
        const out = JSON.parse(r.stdout)
        if ((out.errors || 0) + (out.missing || 0) > 0 || out.fatal) failed = true
        const perReq = spent / 1000 / out.ok
        const nativePerReq = spentNative / 1000 / out.ok
        ;(us[variant][w] = us[variant][w] || []).push(perReq)
        ;(native[variant][w] = native[variant][w] || []).push(nativePerReq)
        ;(rps[variant][w] = rps[variant][w] || []).push(out.ok / seconds)
        process.stderr.write(`${w} metrics ${variant} round ${round + 1}: ${out.ok} requests, ${perReq.toFixed(1)} µs CPU each (${nativePerReq.toFixed(1)} on the addon's threads)\n`)
      }
    }
  }
  console.log(`load average: ${fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}${PIN ? ' (pinned: server CPU 1, load generator CPU 0)' : ''}`)
  console.log('| workload | CPU µs/request, metrics off | metrics on | cost | addon threads off | on | cost | req/s off | on |')
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
  const pct = (on, off) => `${(((on - off) / off) * 100).toFixed(1)}%`
  for (const w of WORKLOADS) {
    const [off, on] = [median(us.off[w]), median(us.on[w])]
    const [noff, non] = [median(native.off[w]), median(native.on[w])]
    const [roff, ron] = [median(rps.off[w]), median(rps.on[w])]
    console.log(`| ${w} | ${off.toFixed(1)} | ${on.toFixed(1)} | ${pct(on, off)} | ${noff.toFixed(1)} | ${non.toFixed(1)} | ${pct(non, noff)} | ${roff.toFixed(0)} | ${ron.toFixed(0)} |`)
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
