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
// difference; exits non-zero if a run counted errors. The shared steps are in bench/lib/ab.js.
const ab = require('./lib/ab')

const rounds = Number(process.argv[2] || 5)
const seconds = Number(process.argv[3] || 2)
const WORKLOADS = (process.env.METRICS_COST_WORKLOADS || 'tools-list,tools-call').split(',')
// With METRICS_COST_PIN=1 the server and the load generator run on one CPU each (taskset).
const PIN = process.env.METRICS_COST_PIN === '1'

const startServer = (metrics) => ab.startServer({ args: metrics ? ['--metrics'] : [], pin: PIN })
const loadgen = (w, url, secs) => ab.runLoadgen(w, url, { connections: 16, seconds: secs, pin: PIN })

async function main() {
  ab.requireLoadgen()
  const us = { off: {}, on: {} }
  const native = { off: {}, on: {} }
  const rps = { off: {}, on: {} }
  let failed = false
  for (let round = 0; round < rounds; round++) {
    for (const w of WORKLOADS) {
      for (const variant of round % 2 ? ['on', 'off'] : ['off', 'on']) {
        const srv = await startServer(variant === 'on')
        // Warm-up run (JIT, allocator, connections), then the measured one.
        loadgen(w, srv.url, 0.5)
        const before = ab.cpuNs(srv.pid)
        const beforeNative = ab.cpuNs(srv.pid, true)
        const out = loadgen(w, srv.url, seconds)
        const spent = ab.cpuNs(srv.pid) - before
        const spentNative = ab.cpuNs(srv.pid, true) - beforeNative
        await ab.stopServer(srv.child)
        if (ab.failedRun(out)) failed = true
        const perReq = spent / 1000 / out.ok
        const nativePerReq = spentNative / 1000 / out.ok
        ;(us[variant][w] = us[variant][w] || []).push(perReq)
        ;(native[variant][w] = native[variant][w] || []).push(nativePerReq)
        ;(rps[variant][w] = rps[variant][w] || []).push(out.ok / seconds)
        process.stderr.write(`${w} metrics ${variant} round ${round + 1}: ${out.ok} requests, ${perReq.toFixed(1)} µs CPU each (${nativePerReq.toFixed(1)} on the addon's threads)\n`)
      }
    }
  }
  console.log(`load average: ${ab.loadAverage()}${PIN ? ' (pinned: server CPU 1, load generator CPU 0)' : ''}`)
  console.log('| workload | CPU µs/request, metrics off | metrics on | cost | addon threads off | on | cost | req/s off | on |')
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
  const pct = (on, off) => `${(((on - off) / off) * 100).toFixed(1)}%`
  for (const w of WORKLOADS) {
    const [off, on] = [ab.median(us.off[w]), ab.median(us.on[w])]
    const [noff, non] = [ab.median(native.off[w]), ab.median(native.on[w])]
    const [roff, ron] = [ab.median(rps.off[w]), ab.median(rps.on[w])]
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
