'use strict'
// `npm start`: a demo MCP server on http://127.0.0.1:3322/mcp with a few sample tools, printing
// each client that connects or leaves. Try it with any MCP client, e.g.
//   npx @modelcontextprotocol/inspector   (Streamable HTTP, URL above)
const { startStreamableMcpServer } = require('..')

const tools = [
  {
    name: 'echo',
    description: 'Echoes the text back',
    inputSchema: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] },
  },
  {
    name: 'add',
    description: 'Adds two numbers',
    inputSchema: { type: 'object', properties: { a: { type: 'number' }, b: { type: 'number' } }, required: ['a', 'b'] },
  },
  {
    name: 'countdown',
    description: 'Counts down from n with progress notifications',
    inputSchema: { type: 'object', properties: { n: { type: 'integer', minimum: 1, maximum: 20 } } },
  },
  {
    name: 'whoami',
    description: 'Shows what the server knows about this connection',
    inputSchema: { type: 'object', properties: {} },
  },
]

const sleep = (ms, signal) =>
  new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms)
    signal.addEventListener('abort', () => {
      clearTimeout(t)
      reject(new Error('cancelled'))
    })
  })

async function callTool({ name, arguments: args }, ctx) {
  switch (name) {
    case 'echo':
      return { content: [{ type: 'text', text: String(args.text) }] }
    case 'add':
      return { content: [{ type: 'text', text: String(Number(args.a) + Number(args.b)) }], structuredContent: { sum: Number(args.a) + Number(args.b) } }
    case 'countdown': {
      const n = Math.min(Math.max(Number(args.n) || 3, 1), 20)
      for (let i = n; i > 0; i--) {
        ctx.sendProgress(n - i + 1, n, `${i}…`)
        await sleep(200, ctx.signal)
      }
      return { content: [{ type: 'text', text: 'liftoff' }] }
    }
    case 'whoami':
      return { content: [{ type: 'text', text: JSON.stringify({ session: ctx.sessionId, era: ctx.era, protocolVersion: ctx.protocolVersion, client: ctx.clientInfo }) }] }
    default:
      throw new Error(`unknown tool ${name}`)
  }
}

async function main() {
  const port = process.env.PORT === undefined ? 3322 : Number(process.env.PORT)
  const server = await startStreamableMcpServer(
    { port, serverInfo: { name: 'mcp-swagger-native-demo', version: '0.1.0' }, tools, callTool },
    {
      onConnectionEstablished: (c) => console.log(`+ ${c.era} client ${c.clientName || '?'} ${c.clientVersion || ''} from ${c.clientIP} (${c.sessionId})`),
      onConnectionClosed: (id, ms) => console.log(`- ${id} after ${ms} ms`),
      onConnectionRejected: (r) => console.log(`! rejected ${r.clientIP}: ${r.reason}`),
    },
  )
  console.log(`MCP server listening on ${server.url}`)
  const stop = async () => {
    console.log('closing…')
    await server.close()
    const s = server.getConnectionStats()
    console.log(`closed: ${s.totalConnections} connections served`)
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
