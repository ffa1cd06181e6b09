'use strict'
// This addon in handler mode: a plain node:http server whose every request goes to
// handler.handle(req, res) (createStreamableMcpHandler), the bench tool set and a JS callTool.
// Node parses HTTP here; the addon does the rest. Prints `UNAVAILABLE <reason>` and exits 0
// when this build has no handler mode, so the runner can skip its rows.
const http = require('node:http')
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
if (typeof addon.createStreamableMcpHandler !== 'function') {
  process.stdout.write('UNAVAILABLE createStreamableMcpHandler is not exported by this build yet\n')
  process.exit(0)
}

addon
  .createStreamableMcpHandler({
    endpoint: '/mcp',
    serverInfo: { name: 'addon-handler-bench', version: '1.0.0' },
    tools,
    callTool: async ({ name, arguments: args }) => callResult(name, args),
    enableJsonResponse: opts.json,
    ...(opts.eventStore ? {} : { eventStore: false }),
    maxConnections: 50_000,
  })
  .then((handler) => {
    const server = http.createServer((req, res) => {
      handler.handle(req, res)
    })
    server.keepAliveTimeout = 60_000
    server.listen(opts.port, opts.host, () => {
      process.stdout.write(`LISTENING http://127.0.0.1:${server.address().port}/mcp\n`)
    })
    shutdownOn(async () => {
      await handler.close()
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    })
  })
  .catch((e) => {
    process.stderr.write(`addon handler server failed to start: ${e && e.stack}\n`)
    process.exit(1)
  })
