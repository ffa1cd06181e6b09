'use strict'
// McpNativeModule with mount 'app' on Nest's Fastify adapter (@nestjs/platform-fastify): the
// endpoint is a route of the Fastify app, answered by handle() on the raw Node request and
// response; with `oauth`, the RFC 9728 metadata routes are Fastify routes too. A real SDK 1.x
// client over loopback; app.close() lets a process exit on its own.
const { spawn } = require('node:child_process')
const path = require('node:path')
const { McpNativeService } = require('mcp-swagger-native/nestjs')
const { PetsRepository } = require('../dist/pets.repository')
const { startFastifyApp } = require('./fixtures/fastify-app')
const { ISSUER, createIssuer, freePort, listAndCall } = require('./helpers')

const { jwks: JWKS, mint } = createIssuer('fastify-test')

describe("mount: 'app' on the Fastify adapter", () => {
  test('without oauth: SDK 1.x initialize, tools/list, tools/call through the Fastify route; no metadata routes', async () => {
    const { app, base, url } = await startFastifyApp()
    const mcp = app.get(McpNativeService)
    const repo = app.get(PetsRepository)
    try {
      const before = repo.lookups.length
      const sessionId = await listAndCall(url, {
        name: 'sdk1-fastify',
        id: 1,
        pet: { id: 1, name: 'Rex', tag: 'dog' },
        // A call that fails validation never reaches the repository.
        inSession: async (_sid, client) => expect((await client.callTool({ name: 'get_pet', arguments: { id: 'one' } })).isError).toBe(true),
      })
      expect(sessionId).toMatch(/\S/)
      // The valid call reached the injected repository; the invalid one never did.
      expect(repo.lookups.slice(before)).toEqual([1])
      // Not under the prefix, and no well-known route without oauth.
      expect((await fetch(`${base}/mcp`, { method: 'POST' })).status).toBe(404)
      expect((await fetch(`${base}/.well-known/oauth-protected-resource`)).status).toBe(404)
    } finally {
      await app.close()
    }
    expect(mcp.state).toBe('closed')
  })

  test('with oauth: metadata at both well-known paths (outside the prefix), 401 without a token, a token-holding SDK 1.x client recorded under its subject', async () => {
    const port = await freePort()
    const base = `http://127.0.0.1:${port}`
    const url = `${base}/api/mcp`
    const oauth = { authorizationServers: [ISSUER], resource: url, requiredScopes: ['pets:read'], scopesSupported: ['pets:read'], jwt: { issuer: ISSUER, jwks: JWKS } }
    const { app } = await startFastifyApp({ oauth, port })
    const mcp = app.get(McpNativeService)
    try {
      for (const p of ['/.well-known/oauth-protected-resource/api/mcp', '/.well-known/oauth-protected-resource']) {
        const res = await fetch(`${base}${p}`)
        expect(res.status).toBe(200)
        expect(res.headers.get('content-type')).toMatch(/^application\/json/)
        expect(await res.json()).toEqual({ resource: url, authorization_servers: [ISSUER], scopes_supported: ['pets:read'], bearer_methods_supported: ['header'] })
      }
      expect((await fetch(`${base}/api/.well-known/oauth-protected-resource/api/mcp`)).status).toBe(404)

      const init = JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } })
      const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }
      const none = await fetch(url, { method: 'POST', headers, body: init })
      expect(none.status).toBe(401)
      expect(none.headers.get('www-authenticate')).toBe(`Bearer scope="pets:read", resource_metadata="${base}/.well-known/oauth-protected-resource/api/mcp"`)
      const wrongScope = await fetch(url, { method: 'POST', headers: { ...headers, authorization: `Bearer ${mint({ sub: 'm', aud: url, scope: 'pets:write' })}` }, body: init })
      expect(wrongScope.status).toBe(403)
      expect(mcp.getConnectionStats().totalConnections).toBe(0)

      const token = mint({ sub: 'alice', aud: url, scope: 'pets:read' })
      await listAndCall(url, {
        name: 'sdk1-fastify',
        headers: { authorization: `Bearer ${token}` },
        id: 2,
        pet: { id: 2, name: 'Tom', tag: 'cat' },
        inSession: (sid) => expect(mcp.getConnectionInfo(sid).auth).toEqual({ subject: 'alice', clientId: 'fastify-test', scopes: ['pets:read'] }),
      })
    } finally {
      await app.close()
    }
    expect(mcp.state).toBe('closed')
  })

  test('app.close() lets the process exit on its own', async () => {
    const child = spawn(process.execPath, [path.join(__dirname, 'fixtures', 'fastify-app.js')], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (err += d))
    const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000)
    const { code, signal } = await exited
    clearTimeout(timer)
    expect({ code, signal, err }).toEqual({ code: 0, signal: null, err: '' })
    expect(out).toBe('STATUS 200 session\nCLOSED\n')
  })
})
