'use strict'
// The cost of authorization (`auth`, docs/authorization.md) as server CPU time per request and
// req/s: the bench addon server with authorization off, with a JS verifier (cached after the
// first request of the token) and in `jwt` mode, alternated round by round (A/B/C, the order
// rotating), each driven by mcp-loadgen for a fixed time with the token the server prints. CPU
// time, read from /proc/<pid>/task/*/schedstat before and after, is far less disturbed by a busy
// shared machine than req/s; both are reported. The shared steps are in bench/lib/ab.js.
//
//   node bench/auth-cost.js [rounds=3] [seconds=2]     (after bench/setup.sh has built mcp-loadgen)
//
// The server runs on CPU 1 and the load generator on CPU 0 (taskset) when there are two CPUs.
// Prints, per workload, the median CPU µs per request and req/s of each variant and the change
// against off; exits non-zero if a run counted errors.
const ab = require('./lib/ab')

const rounds = Number(process.argv[2] || 3)
const seconds = Number(process.argv[3] || 2)
const WORKLOADS = (process.env.AUTH_COST_ONLY || 'tools-list,tools-call,modern-tools-list,modern-tools-call').split(',')
const VARIANTS = ['off', 'js', 'jwt']
const pin = ab.canPin()

function startServer(variant) {
  return ab.startServer({ env: { UV_THREADPOOL_SIZE: '2', BENCH_AUTH: variant === 'off' ? undefined : variant }, pin })
}

const loadgen = (w, srv, secs) => ab.runLoadgen(w, srv.url, { connections: 16, seconds: secs, bearer: srv.bearer, pin })

async function main() {
  ab.requireLoadgen()
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
        const before = ab.cpuNs(srv.pid)
        const out = loadgen(w, srv, seconds)
        const spent = ab.cpuNs(srv.pid) - before
        await ab.stopServer(srv.child)
        if (ab.failedRun(out)) {
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
  const load = ab.loadAverage()
  console.log(`Median of ${rounds} interleaved rounds, ${seconds} s each, 16 connections${pin ? ', server on CPU 1, load generator on CPU 0' : ''}; load average at the end ${load}.`)
  console.log('')
  console.log('| workload | CPU µs/req off | JS verifier | cost | jwt | cost | req/s off | JS verifier | change | jwt | change |')
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
  const pct = (x, base) => `${x >= base ? '+' : '−'}${Math.abs(((x - base) / base) * 100).toFixed(1)}%`
  for (const w of WORKLOADS) {
    const m = (t, v) => (t[v][w] ? ab.median(t[v][w]) : NaN)
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
