'use strict'
// Two bench addon servers (bench/servers/addon.js) sharing one Redis (`BENCH_SHARED_REDIS`,
// docs/deployment.md) behind the round-robin proxy of scripts/rr-proxy.js, for the cluster rows
// of bench/run.js. Prints the proxy's `LISTENING <url>`; SIGTERM stops all three. The proxy is a
// Node process: the row measures it as well as the shared store.
const { spawn } = require('node:child_process')
const path = require('node:path')

const ROOT = path.join(__dirname, '..', '..')
const children = []

function start(script, args) {
  const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'inherit'], env: process.env })
  children.push(child)
  return new Promise((resolve, reject) => {
    let out = ''
    child.stdout.on('data', (d) => {
      out += d
      const m = /LISTENING (\S+)/.exec(out)
      if (m) {
        child.stdout.removeAllListeners('data')
        child.stdout.resume()
        resolve(m[1])
      }
    })
    child.once('exit', (code) => reject(new Error(`${path.basename(script)} exited (${code}) before listening`)))
  })
}

function stop() {
  for (const c of children) c.kill('SIGTERM')
  process.exit(0)
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)

async function main() {
  if (!process.env.BENCH_SHARED_REDIS) {
    process.stdout.write('UNAVAILABLE BENCH_SHARED_REDIS is not set\n')
    return
  }
  const addon = path.join(ROOT, 'bench', 'servers', 'addon.js')
  const args = process.argv.slice(2)
  const [a, b] = await Promise.all([start(addon, args), start(addon, args)])
  const proxy = await start(path.join(ROOT, 'scripts', 'rr-proxy.js'), [a, b])
  process.stdout.write(`LISTENING ${proxy}\n`)
}

main().catch((e) => {
  process.stderr.write(`${e.stack || e}\n`)
  for (const c of children) c.kill('SIGKILL')
  process.exit(1)
})
