'use strict'
// The module's `oauth` option with mount 'app': bearer tokens (JWTs signed by a key made here,
// verified in Rust against its JWK Set) checked by handle(), and the protected-resource metadata
// (RFC 9728) served at the well-known paths the module routes on the HTTP adapter, outside the
// global prefix. A real SDK 1.x client over loopback.
require('reflect-metadata')
const { createServer } = require('node:http')
const { generateKeyPairSync, randomUUID, sign } = require('node:crypto')
const { NestFactory } = require('@nestjs/core')
const { Client } = require('@modelcontextprotocol/sdk/client/index.js')
const { StreamableHTTPClientTransport } = require('@modelcontextprotocol/sdk/client/streamableHttp.js')
const { McpNativeService } = require('mcp-swagger-native/nestjs')
const { AppModule } = require('../dist/app.module')

const ISSUER = 'https://idp.example.test/realms/mcp'
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
const KID = `k-${randomUUID().slice(0, 8)}`
const JWKS = { keys: [{ ...publicKey.export({ format: 'jwk' }), kid: KID, alg: 'RS256', use: 'sig' }] }

function mint({ sub, aud, scope = '', iss = ISSUER }) {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url')
  const now = Math.floor(Date.now() / 1000)
  const input = `${b64({ alg: 'RS256', typ: 'at+jwt', kid: KID })}.${b64({ iss, sub, aud, scope, client_id: 'module-test', iat: now, exp: now + 600 })}`
  return `${input}.${sign('sha256', Buffer.from(input), privateKey).toString('base64url')}`
}

// The resource URL (the tokens' audience) is fixed before the app listens: a port free right now.
async function freePort() {
  const s = createServer()
  await new Promise((r) => s.listen(0, '127.0.0.1', r))
  const { port } = s.address()
  await new Promise((r) => s.close(r))
  return port
}

const oauthFor = (resource) => ({
  authorizationServers: [ISSUER],
  resource,
  requiredScopes: ['pets:read'],
  scopesSupported: ['pets:read'],
  jwt: { issuer: ISSUER, jwks: JWKS },
})

const INIT = JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } })
const HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }

describe("mount: 'app' with oauth", () => {
  test('oauth.resource is required: no listener to derive it from', async () => {
    const { resource, ...noResource } = oauthFor('unused')
    const app = await NestFactory.create(AppModule.register('app', { oauth: noResource }), { logger: false })
    try {
      await expect(app.init()).rejects.toThrow(/oauth\.resource.*required with mount 'app'/)
    } finally {
      await app.close().catch(() => undefined)
    }
  })

  test('metadata at the well-known paths (no global prefix), 401/403 from handle(), a token-holding SDK client recorded under its subject', async () => {
    const port = await freePort()
    const base = `http://127.0.0.1:${port}`
    const url = `${base}/api/mcp`
    const app = await NestFactory.create(AppModule.register('app', { oauth: oauthFor(url) }), { logger: false })
    app.setGlobalPrefix('api')
    await app.listen(port, '127.0.0.1')
    const mcp = app.get(McpNativeService)
    try {
      for (const path of ['/.well-known/oauth-protected-resource/api/mcp', '/.well-known/oauth-protected-resource']) {
        const res = await fetch(`${base}${path}`)
        expect(res.status).toBe(200)
        expect(await res.json()).toEqual({ resource: url, authorization_servers: [ISSUER], scopes_supported: ['pets:read'], bearer_methods_supported: ['header'] })
      }
      // The prefix does not apply to them; other well-known paths are not the module's.
      expect((await fetch(`${base}/api/.well-known/oauth-protected-resource/api/mcp`)).status).toBe(404)
      expect((await fetch(`${base}/.well-known/oauth-protected-resource/other`)).status).toBe(404)

      const post = (token) => fetch(url, { method: 'POST', headers: token ? { ...HEADERS, authorization: `Bearer ${token}` } : HEADERS, body: INIT })
      const none = await post()
      expect(none.status).toBe(401)
      expect(none.headers.get('www-authenticate')).toBe(`Bearer scope="pets:read", resource_metadata="${base}/.well-known/oauth-protected-resource/api/mcp"`)
      const refusals = [
        [mint({ sub: 'm', aud: 'http://127.0.0.1:1/api/mcp', scope: 'pets:read' }), 401, 'invalid_token'],
        [mint({ sub: 'm', aud: url, scope: 'pets:read', iss: 'https://other.example.test' }), 401, 'invalid_token'],
        [mint({ sub: 'm', aud: url, scope: 'pets:write' }), 403, 'insufficient_scope'],
      ]
      for (const [token, status, error] of refusals) {
        const res = await post(token)
        expect(res.status).toBe(status)
        expect(res.headers.get('www-authenticate')).toContain(`error="${error}"`)
      }
      expect(mcp.getConnectionStats().totalConnections).toBe(0)

      const token = mint({ sub: 'alice', aud: url, scope: 'pets:read' })
      const client = new Client({ name: 'sdk1', version: '1.0.0' })
      const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${token}` } } })
      await client.connect(transport)
      try {
        const { tools } = await client.listTools()
        expect(tools.map((t) => t.name).sort()).toEqual(['get_pet', 'list_pets'])
        const ok = await client.callTool({ name: 'get_pet', arguments: { id: 1 } })
        expect(ok.structuredContent).toEqual({ id: 1, name: 'Rex', tag: 'dog' })
        expect(mcp.getConnectionInfo(transport.sessionId).auth).toEqual({ subject: 'alice', clientId: 'module-test', scopes: ['pets:read'] })
      } finally {
        await transport.terminateSession()
        await client.close()
      }
    } finally {
      await app.close()
    }
    expect(mcp.state).toBe('closed')
  })
})
