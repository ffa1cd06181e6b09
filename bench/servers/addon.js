'use strict'
// This addon: startStreamableMcpServer with the bench tool set and a JS callTool (the echo tool is
// a JS round trip). Prints `UNAVAILABLE <reason>` and exits 0 when the addon or its
// startStreamableMcpServer is not there yet, so the runner can skip the addon rows.
const path = require('node:path')
const { tools, callResult, parseArgs, shutdownOn } = require('./common.js')

const opts = parseArgs()
let addon
try {
  addon = require(path.join(__dirname, '..', '..'))
} catch (e) {
  process.stdout.write(`UNAVAILABLE the addon does not load (${String(e.message).split('\n')[0]}); run \`npm run build\`\n`)
  process.exit(0)
}
if (typeof addon.startStreamableMcpServer !== 'function') {
  process.stdout.write('UNAVAILABLE startStreamableMcpServer is not exported by this build yet\n')
  process.exit(0)
}

addon
  .startStreamableMcpServer({
    port: opts.port,
    host: opts.host,
    endpoint: '/mcp',
    serverInfo: { name: 'addon-bench', version: '1.0.0' },
    tools,
    callTool: async ({ name, arguments: args }) => callResult(name, args),
    enableJsonResponse: opts.json,
    ...(opts.eventStore ? {} : { eventStore: false }),
    maxConnections: 50_000, // the memory workloads hold 10,000 sessions
    // BENCH_SHARED_REDIS=redis://…: the same server joined to a cluster (docs/deployment.md), to
    // measure what the shared store costs one instance.
    ...(process.env.BENCH_SHARED_REDIS ? { shared: { redisUrl: process.env.BENCH_SHARED_REDIS, prefix: 'bench' } } : {}),
  })
  .then((server) => {
    process.stdout.write(`LISTENING http://127.0.0.1:${server.port}/mcp\n`)
    shutdownOn(() => server.close())
  })
  .catch((e) => {
    process.stderr.write(`addon server failed to start: ${e && e.stack}\n`)
    process.exit(1)
  })
