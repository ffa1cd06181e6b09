'use strict'
// Paired A/B of addon builds (or of one build with different options), by server CPU time per
// request as well as req/s: CPU per request moves far less with machine load than req/s does.
//   node bench/cpu-ab.js ROUNDS MODE TREE[@OPTIONS_JSON] TREE[@OPTIONS_JSON] ...
//   node bench/cpu-ab.js 6 tools-call /path/to/old/checkout .
//   node bench/cpu-ab.js 8 tools-call '.@{"validation":false}' .
// Each TREE is a checkout with a built addon; OPTIONS_JSON reaches bench/servers/addon.js as
// BENCH_EXTRA (extra server options). Rounds alternate the order; the server runs on CPU 1 and
// the load generator (cargo build --release -p mcp-loadgen) on CPU 0, for DUR seconds (3).
// Loopback only, bounded by DUR and the request cap.
const path = require('node:path')
const { spawn, execFileSync } = require('child_process')
const fs = require('fs')
const [rounds, mode, ...trees] = process.argv.slice(2)
const LOADGEN = process.env.LOADGEN || path.join(__dirname, '..', 'target', 'release', 'mcp-loadgen')
const TCK = 100
function cpu(pid) { const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' '); return (Number(f[11]) + Number(f[12])) / TCK }
async function run(spec) {
  const [treeArg, extra] = spec.split('@')
  const tree = path.resolve(treeArg)
  const srv = spawn('taskset', ['-c', '1', 'node', `${tree}/bench/servers/addon.js`, '--port', '0', ...(process.env.SRVARGS ? process.env.SRVARGS.split(' ') : [])], { env: { ...process.env, UV_THREADPOOL_SIZE: '2', ...(extra ? { BENCH_EXTRA: extra } : {}) } })
  let out = ''
  const url = await new Promise((res) => srv.stdout.on('data', (d) => { out += d; const m = /LISTENING (\S+)/.exec(out); if (m) res(m[1]) }))
  const bm = /BEARER (\S+)/.exec(out)
  // taskset execs node, so srv.pid is the server process
  const args = [mode, '--url', url, '--connections', '64', '--expect-tools', '10', '--requests', '3000000', '--duration', process.env.DUR || '3', '--warmup', '0', ...(bm ? ['--bearer', bm[1]] : [])]
  const c0 = cpu(srv.pid)
  const r = execFileSync('taskset', ['-c', '0', LOADGEN, ...args]).toString().trim().split('\n').pop()
  const c1 = cpu(srv.pid)
  srv.kill(); await new Promise((r) => srv.on('exit', r))
  const j = JSON.parse(r)
  const total = j.ok + j.errors
  return { rps: Math.round(j.rps), p99: j.p99_us, errors: j.errors, cpuUsPerReq: +((c1 - c0) * 1e6 / (total)).toFixed(2) }
}
;(async () => {
  const res = {}
  for (let r = 0; r < +rounds; r++) {
    const order = r % 2 ? [...trees].reverse() : trees
    for (const t of order) { const x = await run(t); (res[t] ??= []).push(x); console.log(mode, r, t, JSON.stringify(x)) }
  }
  const med = (a) => { const s = [...a].sort((x, y) => x - y); return s[Math.floor(s.length / 2)] }
  for (const t of trees) console.log('SUMMARY', mode, t, 'rps', med(res[t].map((x) => x.rps)), 'cpu_us_per_req', med(res[t].map((x) => x.cpuUsPerReq)))
})()
