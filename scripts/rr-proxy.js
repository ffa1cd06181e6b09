'use strict'
// A round-robin HTTP proxy on 127.0.0.1 (a load balancer without sticky routing; it passes the
// client's Host on, as load balancers do, so DNS-rebinding checks still see it), for
// scripts/cluster-conformance.sh and the cluster bench rows.
//
//   node scripts/rr-proxy.js <upstream url>...     prints "LISTENING <url>" (the first upstream's path)
const http = require('node:http')

const ups = process.argv.slice(2).map((u) => new URL(u))
if (ups.length === 0) {
  process.stderr.write('usage: rr-proxy.js <upstream url>...\n')
  process.exit(2)
}
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 })
let n = 0
const server = http.createServer((req, res) => {
  const up = ups[n++ % ups.length]
  const out = http.request({ host: up.hostname, port: up.port, method: req.method, path: req.url, headers: req.headers, agent }, (upRes) => {
    res.writeHead(upRes.statusCode, upRes.headers)
    upRes.pipe(res)
    res.on('close', () => upRes.destroy())
  })
  out.on('error', () => {
    if (!res.headersSent) res.writeHead(502)
    res.end()
  })
  req.pipe(out)
})
server.keepAliveTimeout = 60_000
server.listen(Number(process.env.PROXY_PORT || 0), '127.0.0.1', () => {
  process.stdout.write(`LISTENING http://127.0.0.1:${server.address().port}${ups[0].pathname}\n`)
})
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => server.close(() => process.exit(0)))
