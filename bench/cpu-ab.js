'use strict'
// Paired A/B of addon builds (or of one build with different options), by server CPU time per
// request as well as req/s: CPU per request moves far less with machine load than req/s does.
//   node bench/cpu-ab.js ROUNDS MODE TREE[@OPTIONS_JSON] TREE[@OPTIONS_JSON] ...
//   node bench/cpu-ab.js 6 tools-call /path/to/old/checkout .
//   node bench/cpu-ab.js 8 tools-call '.@{"validation":false}' .
// Each TREE is a checkout with a built addon; OPTIONS_JSON reaches bench/servers/addon.js as
// BENCH_EXTRA (extra server options). Rounds alternate the order; the server runs on CPU 1 and
// the load generator (cargo build --release -p mcp-loadgen) on CPU 0, for DUR seconds (3).
// Loopback only, bounded by DUR and the request cap. The shared steps are in bench/lib/ab.js.
const ab = require('./lib/ab')

const [rounds, mode, ...trees] = process.argv.slice(2)
const pin = ab.canPin()

async function run(spec) {
  const [treeArg, extra] = spec.split('@')
  const srv = await ab.startServer({
    tree: treeArg,
    args: process.env.SRVARGS ? process.env.SRVARGS.split(' ') : [],
    env: { UV_THREADPOOL_SIZE: '2', ...(extra ? { BENCH_EXTRA: extra } : {}) },
    pin,
  })
  const c0 = ab.cpuSeconds(srv.pid)
  const j = ab.runLoadgen(mode, srv.url, { connections: 64, requests: 3000000, seconds: process.env.DUR || '3', bearer: srv.bearer, pin })
  const c1 = ab.cpuSeconds(srv.pid)
  await ab.stopServer(srv.child)
  const total = j.ok + j.errors
  return { rps: Math.round(j.rps), p99: j.p99_us, errors: j.errors, cpuUsPerReq: +(((c1 - c0) * 1e6) / total).toFixed(2) }
}

;(async () => {
  ab.requireLoadgen()
  const res = {}
  for (let r = 0; r < +rounds; r++) {
    const order = r % 2 ? [...trees].reverse() : trees
    for (const t of order) {
      const x = await run(t)
      ;(res[t] ??= []).push(x)
      console.log(mode, r, t, JSON.stringify(x))
    }
  }
  for (const t of trees) console.log('SUMMARY', mode, t, 'rps', ab.median(res[t].map((x) => x.rps)), 'cpu_us_per_req', ab.median(res[t].map((x) => x.cpuUsPerReq)))
})().catch((e) => {
  console.error(e)
  process.exit(1)
})
