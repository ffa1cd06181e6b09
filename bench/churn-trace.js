'use strict'
// 10,000 sessions opened and closed against a server in its own process: every callback fires
// once, nothing stays active, and the server's RSS comes back to where it was.
//   node bench/churn-trace.js
// Loopback only; 32 concurrent keep-alive connections; bounded by the session count.
const { spawn } = require('child_process')
const http = require('http')
if (process.argv[2] === 'server') {
  let est = 0, closed = 0
  require('..').startStreamableMcpServer({ port: 0, maxConnections: 100000 }, { onConnectionEstablished: () => est++, onConnectionClosed: () => closed++ }).then((s) => {
    console.log('URL ' + s.url)
    process.on('message', async (m) => {
      if (m === 'counts') { global.gc && global.gc(); process.send({ est, closed, active: s.getActiveConnections(), total: s.getConnectionStats().totalConnections }) }
      if (m === 'close') { await s.close(); process.exit(0) }
    })
  })
} else {
  const child = spawn(process.execPath, ['--expose-gc', __filename, 'server'], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] })
  const rss = () => Number(require('fs').readFileSync(`/proc/${child.pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/)[1])
  const ask = () => new Promise((r) => { child.once('message', r); child.send('counts') })
  child.stdout.once('data', async (d) => {
    const url = new URL(String(d).trim().split(' ')[1])
    const agent = new http.Agent({ keepAlive: true, maxSockets: 32 })
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'churn', version: '1.0.0' } } })
    const req = (method, headers, b) => new Promise((res, rej) => {
      const r = http.request(url, { method, agent, headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers } }, (resp) => { resp.resume(); resp.on('end', () => res(resp)) })
      r.on('error', rej); r.end(b)
    })
    const churn = async (n) => { let i = 0; await Promise.all(Array.from({ length: 32 }, async () => { while (i < n) { i++; const r = await req('POST', {}, body); await req('DELETE', { 'mcp-session-id': r.headers['mcp-session-id'] }) } })) }
    await churn(2000); await ask(); await new Promise((r) => setTimeout(r, 500))
    const before = rss()
    const t0 = Date.now()
    await churn(10000)
    const secs = (Date.now() - t0) / 1000
    await new Promise((r) => setTimeout(r, 1000))
    const c = await ask()
    const after = rss()
    console.log(`10,000 sessions opened+closed in ${secs}s; callbacks established ${c.est - 2000} closed ${c.closed - 2000}; active ${c.active}, total ${c.total}; server RSS ${before} KiB -> ${after} KiB (${after - before >= 0 ? '+' : ''}${after - before} KiB)`)
    child.send('close'); agent.destroy()
  })
}
