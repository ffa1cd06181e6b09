'use strict'
// Shared by the Node benchmark servers: the tool set (tools.json, the same 10 tools every server
// serves), the echo tool, argument parsing and the LISTENING line the runner waits for.
const fs = require('node:fs')
const path = require('node:path')

const tools = JSON.parse(fs.readFileSync(path.join(__dirname, 'tools.json'), 'utf8'))

/** The tool result every server returns: echo answers its `text`, the others say what ran. */
function callResult(name, args) {
  if (name === 'echo') return { content: [{ type: 'text', text: String((args && args.text) ?? '') }] }
  return { content: [{ type: 'text', text: `called ${name}` }] }
}

/** --port N (default 0), --json (answer 2025 POSTs with application/json instead of SSE), --no-event-store. */
function parseArgs(argv = process.argv.slice(2)) {
  const opts = { port: 0, host: '127.0.0.1', json: false, eventStore: true, metrics: false }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--port') opts.port = Number(argv[++i])
    else if (a === '--json') opts.json = true
    else if (a === '--no-event-store') opts.eventStore = false
    else if (a === '--metrics') opts.metrics = true
    else throw new Error(`unknown argument ${a}`)
  }
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) throw new Error('bad --port')
  return opts
}

/** A zod object for one of our flat JSON Schemas (string / integer / enum properties). */
function zodShape(z, schema) {
  const shape = {}
  const required = new Set(schema.required || [])
  for (const [key, p] of Object.entries(schema.properties || {})) {
    let t = p.enum ? z.enum(p.enum) : p.type === 'integer' ? z.number().int() : p.type === 'number' ? z.number() : p.type === 'boolean' ? z.boolean() : z.string()
    if (p.description) t = t.describe(p.description)
    shape[key] = required.has(key) ? t : t.optional()
  }
  return shape
}

function listening(server) {
  const { port } = server.address()
  process.stdout.write(`LISTENING http://127.0.0.1:${port}/mcp\n`)
}

function shutdownOn(close) {
  const stop = () => {
    Promise.resolve()
      .then(close)
      .catch(() => {})
      .finally(() => process.exit(0))
    setTimeout(() => process.exit(0), 2000).unref()
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
}

module.exports = { tools, callResult, parseArgs, zodShape, listening, shutdownOn }
