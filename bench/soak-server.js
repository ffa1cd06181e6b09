'use strict'
// The server of the hostile-client soak (bench/soak.js): one addon server on loopback with the
// tools the attackers and the well-behaved client use. Prints `READY <port>` when listening.
// Limits are the defaults except the idle timeouts, shortened so the soak can watch sessions
// come back within its bounded time.
const { startStreamableMcpServer } = require('..')

// A flat string from the start: `repeat` makes a rope that V8 flattens (an 8 MiB copy kept for
// good) on first use, which would count as memory the mix left behind.
const BIG = Buffer.alloc(8 * 1024 * 1024, 'x').toString('latin1')
const TOKEN = process.env.SOAK_TOKEN || 'soak-token'

async function main() {
  let pumping = null
  const server = await startStreamableMcpServer({
    port: 0,
    host: '127.0.0.1',
    serverInfo: { name: 'soak', version: '1' },
    sessionIdleTimeoutMs: Number(process.env.SOAK_IDLE_MS || 4000),
    clientIdleTimeoutMs: Number(process.env.SOAK_IDLE_MS || 4000),
    internalStats: { token: TOKEN },
    tools: [
      { name: 'echo', inputSchema: { type: 'object', properties: { v: { type: 'string' } } } },
      { name: 'big', inputSchema: { type: 'object', properties: {} } },
      { name: 'notify', inputSchema: { type: 'object', properties: { n: { type: 'number' } } } },
      { name: 'pump', inputSchema: { type: 'object', properties: { ms: { type: 'number' } } } },
    ],
    resources: [{ uri: 'mem://a', name: 'a' }],
    readResource: async (uri) => ({ contents: [{ uri, text: 'a' }] }),
    callTool: async (call, ctx) => {
      switch (call.name) {
        case 'echo':
          return { content: [{ type: 'text', text: String(call.arguments.v ?? '') }] }
        case 'big':
          return { content: [{ type: 'text', text: BIG }] }
        case 'notify': {
          // Progress notifications in batches, yielding so other callbacks keep running.
          const n = Number(call.arguments.n) || 0
          for (let i = 0; i < n && !ctx.signal.aborted; i++) {
            ctx.log('info', { i, pad: 'p'.repeat(200) })
            if (i % 200 === 199) await new Promise((r) => setTimeout(r, 1))
          }
          return { content: [{ type: 'text', text: 'sent' }] }
        }
        case 'pump': {
          // Server-initiated notifications to every GET stream (resource updates), for `ms`.
          const until = Date.now() + (Number(call.arguments.ms) || 0)
          if (!pumping) {
            pumping = setInterval(() => {
              if (Date.now() > until) {
                clearInterval(pumping)
                pumping = null
                return
              }
              for (let i = 0; i < 20; i++) server.notifyResourceUpdated('mem://a')
            }, 10)
          }
          return { content: [{ type: 'text', text: 'pumping' }] }
        }
        default:
          return { content: [], isError: true }
      }
    },
  })
  process.stdout.write(`READY ${server.port}\n`)
  // With --expose-gc (bench/soak.js passes it), a full GC every 2 s: RSS then shows what is
  // retained, not garbage V8 has not collected yet.
  if (process.env.SOAK_TRACE_MEM) {
    setInterval(() => {
      const m = process.memoryUsage()
      process.stderr.write(`mem rss ${m.rss >> 20} heapUsed ${m.heapUsed >> 20} heapTotal ${m.heapTotal >> 20} external ${m.external >> 20} ab ${m.arrayBuffers >> 20}\n`)
    }, 250).unref()
  }
  const gc = typeof global.gc === 'function' ? setInterval(() => global.gc(), 2000) : null
  const stop = async () => {
    if (gc) clearInterval(gc)
    const m = process.memoryUsage()
    process.stderr.write(`soak-server memory at exit: rss ${m.rss >> 20} MiB, heapUsed ${m.heapUsed >> 20} MiB, heapTotal ${m.heapTotal >> 20} MiB, external ${m.external >> 20} MiB\n`)
    if (pumping) clearInterval(pumping)
    await server.close()
    process.exit(0)
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
