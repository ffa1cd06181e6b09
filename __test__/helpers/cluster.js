'use strict'
// Shared pieces of the cluster tests (docs/deployment.md): a real redis-server on a free loopback
// port, addon instances in child processes (fixtures/cluster-child.js), and a small round-robin
// HTTP proxy in front of them, as a load balancer without sticky routing would be.
const fs = require('node:fs')
const net = require('node:net')
const path = require('node:path')
const readline = require('node:readline')
const { spawn } = require('node:child_process')
const { sleep } = require('./mcp.js')
const { createProxy } = require('../../scripts/rr-proxy.js')

const REDIS = ['/usr/bin/redis-server', '/usr/local/bin/redis-server'].find((p) => fs.existsSync(p))
const CHILD = path.join(__dirname, '..', 'fixtures', 'cluster-child.js')

// Polls `pred` every 25 ms until it is truthy or `ms` passed (then throws, naming `what`).
async function waitFor(pred, what, ms = 5_000) {
  const deadline = Date.now() + ms
  for (let i = 0; i < 100_000; i++) {
    const v = await pred()
    if (v) return v
    if (Date.now() > deadline) break
    await sleep(25)
  }
  throw new Error(`timed out waiting for ${what}`)
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })
}

// PING over a raw socket: true once Redis answers +PONG.
function ping(port) {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1')
    const done = (v) => {
      sock.destroy()
      resolve(v)
    }
    sock.setTimeout(500, () => done(false))
    sock.once('error', () => done(false))
    sock.once('connect', () => sock.write('PING\r\n'))
    sock.once('data', (d) => done(d.toString().startsWith('+PONG')))
  })
}

// One inline command; resolves with Redis's first reply chunk as text.
function redisCmd(port, cmd) {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1', () => sock.write(cmd + '\r\n'))
    sock.once('error', () => resolve(''))
    sock.once('data', (d) => {
      sock.destroy()
      resolve(d.toString().trim())
    })
  })
}

async function startRedis(port) {
  const proc = spawn(REDIS, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
  await waitFor(() => ping(port), 'redis-server answering PING', 10_000)
  return proc
}

function stopProcess(proc, signal = 'SIGTERM') {
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    proc.once('exit', () => resolve())
    proc.kill(signal)
  })
}

// One instance in a child process; `cmd` sends a command and resolves with its reply.
async function startInstance(id, redisPort, { prefix, keys, heartbeatMs = 500 }) {
  const proc = spawn(process.execPath, [CHILD], {
    env: { ...process.env, REDIS_URL: `redis://127.0.0.1:${redisPort}`, PREFIX: prefix, INSTANCE_ID: id, KEYS: keys, HEARTBEAT_MS: String(heartbeatMs) },
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  const waiting = new Map()
  // The instance's monitor events, in order (EVENT lines).
  const events = []
  let next = 0
  let url
  const listening = new Promise((resolve, reject) => {
    readline.createInterface({ input: proc.stdout }).on('line', (line) => {
      if (line.startsWith('LISTENING ')) {
        url = line.slice(10)
        resolve()
      } else if (line.startsWith('START_FAILED')) reject(new Error(line))
      else if (line.startsWith('EVENT ')) events.push(JSON.parse(line.slice(6)))
      else if (line.startsWith('REPLY ')) {
        const r = JSON.parse(line.slice(6))
        const w = waiting.get(r.id)
        waiting.delete(r.id)
        if (w) w(r)
      }
    })
    proc.once('exit', (code, signal) => reject(new Error(`instance ${id} exited (${code ?? signal})`)))
  })
  await listening
  const cmd = (name, arg) =>
    new Promise((resolve) => {
      const i = ++next
      waiting.set(i, resolve)
      proc.stdin.write(`${JSON.stringify({ id: i, cmd: name, arg })}\n`)
    })
  const clusterStats = async () => {
    const r = await cmd('clusterStats')
    if (!r.ok) throw new Error(r.error)
    return r.value
  }
  return { id, proc, url, cmd, clusterStats, events }
}

// A round-robin HTTP proxy over `upstreams` ({id, url}): scripts/rr-proxy.js's. `pick(req, n)`
// may choose an upstream id instead (for a test that needs one hop to land on a given instance);
// `log` records [method, upstream id, status, Last-Event-ID] per request; `tap(req, res, upRes,
// entry)` may take over the response stream. `close()` also ends the connections it holds.
async function startProxy(upstreams) {
  const proxy = createProxy(upstreams)
  const { server } = proxy
  const sockets = new Set()
  server.on('connection', (s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  proxy.url = `http://127.0.0.1:${server.address().port}/mcp`
  proxy.close = () =>
    new Promise((resolve) => {
      for (const s of sockets) s.destroy()
      server.close(() => resolve())
    })
  return proxy
}

module.exports = { REDIS, waitFor, freePort, ping, redisCmd, startRedis, stopProcess, startInstance, startProxy }
