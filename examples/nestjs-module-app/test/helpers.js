'use strict'
// What the oauth and Fastify tests share: a local issuer's keys and tokens, a free loopback
// port, and the SDK 1.x round trip (initialize, tools/list, tools/call) they both assert.
const { createServer } = require('node:http')
const { generateKeyPairSync, randomUUID, sign } = require('node:crypto')
const { Client } = require('@modelcontextprotocol/sdk/client/index.js')
const { StreamableHTTPClientTransport } = require('@modelcontextprotocol/sdk/client/streamableHttp.js')

const ISSUER = 'https://idp.example.test/realms/mcp'

/** An RS256 key pair published as `jwks`; `mint` signs access tokens for `clientId`. */
function createIssuer(clientId) {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const kid = `k-${randomUUID().slice(0, 8)}`
  const jwks = { keys: [{ ...publicKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' }] }
  const mint = ({ sub, aud, scope = '', iss = ISSUER }) => {
    const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url')
    const now = Math.floor(Date.now() / 1000)
    const input = `${b64({ alg: 'RS256', typ: 'at+jwt', kid })}.${b64({ iss, sub, aud, scope, client_id: clientId, iat: now, exp: now + 600 })}`
    return `${input}.${sign('sha256', Buffer.from(input), privateKey).toString('base64url')}`
  }
  return { issuer: ISSUER, jwks, mint }
}

// The resource URL (the tokens' audience) is fixed before the app listens: a port free right now.
async function freePort() {
  const s = createServer()
  await new Promise((r) => s.listen(0, '127.0.0.1', r))
  const { port } = s.address()
  await new Promise((r) => s.close(r))
  return port
}

/**
 * An SDK 1.x client lists the pet tools and calls get_pet with `id`, expecting `pet`; `inSession`
 * runs with the session id before the session is ended. Returns that session id.
 */
async function listAndCall(url, { name, headers = {}, id, pet, inSession = () => {} }) {
  const client = new Client({ name, version: '1.0.0' })
  const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } })
  await client.connect(transport)
  try {
    const { tools } = await client.listTools()
    expect(tools.map((t) => t.name).sort()).toEqual(['get_pet', 'list_pets'])
    const ok = await client.callTool({ name: 'get_pet', arguments: { id } })
    expect(ok.structuredContent).toEqual(pet)
    await inSession(transport.sessionId, client)
    return transport.sessionId
  } finally {
    await transport.terminateSession()
    await client.close()
  }
}

module.exports = { ISSUER, createIssuer, freePort, listAndCall }
