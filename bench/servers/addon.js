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

// BENCH_AUTH=js|jwt turns authorization on (docs/authorization.md): a JS verifier (cached after
// the first request of a token) or JWTs verified in Rust against a static JWK Set. The token the
// load generator must send (`--bearer`) is printed as `BEARER <token>` before LISTENING.
function authOptions(mode) {
  const resource = 'http://bench.local/mcp'
  const base = { authorizationServers: ['http://127.0.0.1:9'], resource, requiredScopes: ['mcp:read'] }
  const exp = Math.floor(Date.now() / 1000) + 24 * 3600
  if (mode === 'js') {
    const token = 'bench-token-0123456789'
    process.stdout.write(`BEARER ${token}\n`)
    return { ...base, verify: async (t) => (t === token ? { subject: 'bench', scopes: ['mcp:read'], audience: resource, expiresAt: exp } : null) }
  }
  if (mode === 'jwt') {
    const crypto = require('node:crypto')
    const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 })
    const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'bench', alg: 'RS256', use: 'sig' }
    const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url')
    const input = `${b64({ alg: 'RS256', kid: 'bench', typ: 'JWT' })}.${b64({ iss: 'http://127.0.0.1:9', sub: 'bench', aud: resource, scope: 'mcp:read', exp })}`
    const token = `${input}.${crypto.sign('sha256', Buffer.from(input), privateKey).toString('base64url')}`
    process.stdout.write(`BEARER ${token}\n`)
    return { ...base, jwt: { issuer: 'http://127.0.0.1:9', jwks: { keys: [jwk] } } }
  }
  return undefined
}
const auth = authOptions(process.env.BENCH_AUTH)

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
    // BENCH_EXTRA='{"validation":false}' and the like: extra server options, for A/B runs of one build.
    ...(process.env.BENCH_EXTRA ? JSON.parse(process.env.BENCH_EXTRA) : {}),
    ...(auth ? { auth } : {}),
    ...(opts.metrics ? { metrics: true } : {}),
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
