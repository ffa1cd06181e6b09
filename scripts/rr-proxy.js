'use strict'
// A round-robin HTTP proxy on 127.0.0.1 (a load balancer without sticky routing; it passes the
// client's Host on, as load balancers do, so DNS-rebinding checks still see it), for
// scripts/cluster-conformance.sh, the cluster bench rows and the cluster tests
// (__test__/helpers/cluster.js, which steers and taps it through `pick` and `tap`).
//
//   node scripts/rr-proxy.js <upstream url>...     prints "LISTENING <url>" (the first upstream's path)
const http = require('node:http')

/**
 * The proxy's server (not yet listening). `upstreams`: `[{ id, url }]`, taken in turn unless
 * `proxy.pick(req, n)` names one by id; `proxy.tap(req, res, upRes, entry)` may take over a
 * response (return true). Every response is logged in `proxy.log` as
 * `[method, upstream id, status, Last-Event-ID or null]`.
 */
function createProxy(upstreams, { agent } = {}) {
  let n = 0
  const proxy = { log: [], pick: null, tap: null }
  proxy.server = http.createServer((req, res) => {
    const chosen = (proxy.pick && proxy.pick(req, n)) || upstreams[n % upstreams.length].id
    n++
    const target = new URL(upstreams.find((u) => u.id === chosen).url)
    const out = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers, agent }, (upRes) => {
      const entry = [req.method, chosen, upRes.statusCode, req.headers['last-event-id'] || null]
      proxy.log.push(entry)
      res.writeHead(upRes.statusCode, upRes.headers)
      if (proxy.tap && proxy.tap(req, res, upRes, entry)) return
      upRes.pipe(res)
      res.on('close', () => upRes.destroy())
    })
    out.on('error', () => {
      if (!res.headersSent) res.writeHead(502)
      res.end()
    })
    req.pipe(out)
  })
  return proxy
}

module.exports = { createProxy }

if (require.main === module) {
  const urls = process.argv.slice(2)
  if (urls.length === 0) {
    process.stderr.write('usage: rr-proxy.js <upstream url>...\n')
    process.exit(2)
  }
  const { server } = createProxy(
    urls.map((url, id) => ({ id, url })),
    { agent: new http.Agent({ keepAlive: true, maxSockets: 256 }) },
  )
  server.keepAliveTimeout = 60_000
  server.listen(Number(process.env.PROXY_PORT || 0), '127.0.0.1', () => {
    process.stdout.write(`LISTENING http://127.0.0.1:${server.address().port}${new URL(urls[0]).pathname}\n`)
  })
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => server.close(() => process.exit(0)))
}
