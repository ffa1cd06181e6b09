'use strict'
// A/B of two server variants by CPU time per request, both measured AT THE SAME TIME: the two
// servers share CPU 1 and their two load generators CPU 0, so whatever else the machine runs
// (other builds, steal time) disturbs both alike, and the per-round ratio cancels it. On the
// shared 2-core machine, sequential rounds (cpu-ab.js) varied by ±20% round to round; a ratio
// taken this way moves far less. Each round starts fresh server processes and swaps which
// variant starts first.
//
//   node bench/cpu-ab-together.js ROUNDS MODE SPEC_A SPEC_B
//   node bench/cpu-ab-together.js 10 tools-call . '.@{"metrics":true}'
//   node bench/cpu-ab-together.js 10 tools-call . '.#BENCH_AUTH=jwt'
//   node bench/cpu-ab-together.js 6 tools-call '.#BENCH_SCRIPT=node-http.js' '.#BENCH_SCRIPT=addon-handler.js'
//
// SPEC is TREE[@OPTIONS_JSON][#ENV=VALUE,...]: a checkout with a built addon, extra server
// options (BENCH_EXTRA of bench/servers/addon.js) and environment (e.g. BENCH_AUTH=js|jwt, whose
// token is then sent). DUR (seconds per round, default 3) and CONNECTIONS (per server, 16).
// Prints each round's CPU µs per request and the median of the per-round ratios B/A. Loopback
// only, bounded by DUR. The shared steps are in bench/lib/ab.js.
const ab = require('./lib/ab')

const DUR = Number(process.env.DUR || 3)
const CONNECTIONS = Number(process.env.CONNECTIONS || 16)

function parseSpec(spec) {
  const [left, envList] = spec.split('#')
  const at = left.indexOf('@')
  const tree = at < 0 ? left : left.slice(0, at)
  const extra = at < 0 ? undefined : left.slice(at + 1)
  const env = { UV_THREADPOOL_SIZE: '2', BENCH_AUTH: undefined }
  if (extra) env.BENCH_EXTRA = extra
  for (const kv of (envList || '').split(',').filter(Boolean)) {
    const i = kv.indexOf('=')
    env[kv.slice(0, i)] = kv.slice(i + 1)
  }
  return { tree, env }
}

async function round(mode, specs) {
  const pin = ab.canPin()
  const servers = []
  try {
    for (const s of specs) servers.push(await ab.startServer({ tree: s.tree, env: s.env, pin }))
    // Warm-up, one after the other (JIT, allocator, the token's first verification).
    for (const srv of servers) ab.runLoadgen(mode, srv.url, { connections: CONNECTIONS, seconds: 0.5, bearer: srv.bearer, pin })
    const before = servers.map((srv) => ab.cpuNs(srv.pid))
    const outs = await Promise.all(servers.map((srv) => ab.runLoadgenAsync(mode, srv.url, { connections: CONNECTIONS, seconds: DUR, requests: 5_000_000, bearer: srv.bearer, pin })))
    const spent = servers.map((srv, i) => ab.cpuNs(srv.pid) - before[i])
    for (const o of outs) if (ab.failedRun(o)) throw new Error(`a run counted errors: ${JSON.stringify(o.error_kinds || o.fatal)}`)
    return outs.map((o, i) => ({ cpuUsPerReq: spent[i] / 1000 / o.ok, rps: o.rps }))
  } finally {
    for (const srv of servers) await ab.stopServer(srv.child)
  }
}

/**
 * Runs `rounds` paired rounds of MODE against two specs, both servers measured at once; gives
 * the per-round ratios B/A (CPU µs per request, req/s) and their medians. `log` gets one line per
 * round. Used by this script's command line and by bench/run.js (the cost rows of a full run).
 */
async function compare({ rounds, mode, specA, specB, log = () => {} }) {
  ab.requireLoadgen()
  const a = parseSpec(specA)
  const b = parseSpec(specB)
  const ratios = []
  const rpsRatios = []
  for (let r = 0; r < Number(rounds); r++) {
    // Swap which variant starts (and warms up) first.
    const [x, y] = r % 2 ? await round(mode, [b, a]).then((o) => [o[1], o[0]]) : await round(mode, [a, b])
    ratios.push(y.cpuUsPerReq / x.cpuUsPerReq)
    rpsRatios.push(y.rps / x.rps)
    log(`${mode} round ${r + 1}: A ${x.cpuUsPerReq.toFixed(2)} µs/req (${Math.round(x.rps)} req/s), B ${y.cpuUsPerReq.toFixed(2)} µs/req (${Math.round(y.rps)} req/s), B/A ${((y.cpuUsPerReq / x.cpuUsPerReq - 1) * 100).toFixed(1)}%`)
  }
  return { ratios, rpsRatios, cpu: ab.median(ratios, { mean: true }), rps: ab.median(rpsRatios, { mean: true }) }
}

const pct = (x) => `${x >= 1 ? '+' : '−'}${Math.abs((x - 1) * 100).toFixed(1)}%`

module.exports = { compare, pct, DUR, CONNECTIONS }

if (require.main === module) {
  const [rounds, mode, specA, specB] = process.argv.slice(2)
  compare({ rounds, mode, specA, specB, log: (l) => console.log(l) })
    .then((r) => {
      console.log(`SUMMARY ${mode} A=${specA} B=${specB}: median CPU per request B/A ${pct(r.cpu)}, req/s B/A ${pct(r.rps)} (${rounds} rounds, ${DUR} s each, load average ${ab.loadAverage()})`)
    })
    .catch((e) => {
      console.error(e)
      process.exit(1)
    })
}
