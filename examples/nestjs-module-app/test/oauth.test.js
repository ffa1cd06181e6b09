'use strict'
// The module's `oauth` option with mount 'app': bearer tokens (JWTs signed by a key made here,
// verified in Rust against its JWK Set) checked by handle(), and the protected-resource metadata
// (RFC 9728) served at the well-known paths the module routes on the HTTP adapter, outside the
// global prefix. A real SDK 1.x client over loopback.
require('reflect-metadata')
const { NestFactory } = require('@nestjs/core')
const { McpNativeService } = require('mcp-swagger-native/nestjs')
const { AppModule } = require('../dist/app.module')
const { ISSUER, createIssuer, freePort, listAndCall } = require('./helpers')

const { jwks: JWKS, mint } = createIssuer('module-test')

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
      await listAndCall(url, {
        name: 'sdk1',
        headers: { authorization: `Bearer ${token}` },
        id: 1,
        pet: { id: 1, name: 'Rex', tag: 'dog' },
        inSession: (sid) => expect(mcp.getConnectionInfo(sid).auth).toEqual({ subject: 'alice', clientId: 'module-test', scopes: ['pets:read'] }),
      })
    } finally {
      await app.close()
    }
    expect(mcp.state).toBe('closed')
  })
})
