/**
 * The in-process MCP server (McpNativeModule mounted on the app at /api/mcp) with authorization
 * on: `MCP_AUTH_*` (src/mcp/mcp-auth.config.ts, the module's `oauth` option) point it at a local
 * stand-in identity provider (test/fixtures/local-issuer.ts); JWTs are
 * verified in Rust against the provider's JWKS. A real SDK client without a token is refused with
 * the 401 that starts OAuth discovery; with the provider's token it lists and calls the pet store
 * tools, and the monitor records who it is.
 */
import { createServer } from 'http'
import type { AddressInfo } from 'net'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import type { HostApp } from '../../src/bootstrap'
import { MCPService } from '../../src/mcp/mcp.service'
import { mcpAuthFromEnv } from '../../src/mcp/mcp-auth.config'
import { startLocalIssuer, type LocalIssuer } from '../fixtures/local-issuer'
import { startHost } from '../helpers'

const ENV_KEYS = ['MCP_AUTH_ISSUER', 'MCP_AUTH_JWKS_URI', 'MCP_AUTH_SCOPES', 'MCP_AUTH_RESOURCE', 'MCP_AUTH_AUDIENCE', 'MCP_AUTH_ALGORITHMS', 'PORT'] as const

/** A port free right now on 127.0.0.1: the resource URL (the tokens' audience) is fixed before the app listens. */
async function freePort(): Promise<number> {
  const s = createServer()
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  const { port } = s.address() as AddressInfo
  await new Promise<void>((r) => s.close(() => r()))
  return port
}

describe('in-process MCP server with authorization on (jwt mode, MCP_AUTH_*)', () => {
  let idp: LocalIssuer
  let host: HostApp
  let url: string
  const saved: Record<string, string | undefined> = {}

  beforeAll(async () => {
    for (const k of ENV_KEYS) saved[k] = process.env[k]
    idp = await startLocalIssuer()
    process.env.MCP_AUTH_ISSUER = idp.issuer
    process.env.MCP_AUTH_JWKS_URI = idp.jwksUri
    process.env.MCP_AUTH_SCOPES = 'pets:read'
    delete process.env.MCP_AUTH_RESOURCE
    // The default resource: http://127.0.0.1:$PORT/api/mcp, the URL the app then serves MCP at.
    const port = await freePort()
    process.env.PORT = String(port)
    host = await startHost({ port })
    url = host.mcpUrl!
    expect(url).toBe(`http://127.0.0.1:${port}/api/mcp`)
  })

  afterAll(async () => {
    await host?.close()
    await idp?.close()
    for (const k of ENV_KEYS) {
      if (saved[k] === undefined) delete process.env[k]
      else process.env[k] = saved[k]
    }
  })

  const connect = async (token?: string) => {
    const client = new Client({ name: 'nest-auth-test', version: '1.0.0' }, { capabilities: {} })
    const transport = new StreamableHTTPClientTransport(new URL(url), token ? { requestInit: { headers: { Authorization: `Bearer ${token}` } } } : undefined)
    await client.connect(transport)
    return { client, transport }
  }

  const initialize = (token?: string) =>
    fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '0' } } }),
    })

  it('publishes the protected resource metadata at the well-known URLs, outside the global prefix', async () => {
    for (const path of ['/.well-known/oauth-protected-resource/api/mcp', '/.well-known/oauth-protected-resource']) {
      const res = await fetch(new URL(path, url))
      expect(res.status).toBe(200)
      expect(res.headers.get('content-type')).toContain('application/json')
      expect(await res.json()).toMatchObject({ resource: url, authorization_servers: [idp.issuer], scopes_supported: ['pets:read'], bearer_methods_supported: ['header'] })
    }
    // the global prefix does not apply to them, and other well-known paths are not the module's
    expect((await fetch(new URL('/api/.well-known/oauth-protected-resource/api/mcp', url))).status).toBe(404)
    expect((await fetch(new URL('/.well-known/oauth-protected-resource/other', url))).status).toBe(404)
    // the REST monitoring routes next to the endpoint are the app's, not behind the token
    expect((await fetch(`${url}/status`)).status).toBe(200)
  })

  it('refuses a client without a token with the 401 that starts OAuth discovery', async () => {
    const res = await initialize()
    expect(res.status).toBe(401)
    expect(res.headers.get('www-authenticate')).toBe(`Bearer scope="pets:read", resource_metadata="${new URL(url).origin}/.well-known/oauth-protected-resource/api/mcp"`)
    await expect(connect()).rejects.toThrow(/401|Unauthorized/i)
  })

  it('a token for another resource, from another issuer or without the scope is refused', async () => {
    const cases: [string, number, string][] = [
      [idp.mint({ sub: 'mallory', aud: 'http://127.0.0.1:1/mcp', scope: 'pets:read' }), 401, 'invalid_token'],
      [idp.mint({ sub: 'mallory', aud: url, scope: 'pets:read', iss: 'http://127.0.0.1:1' }), 401, 'invalid_token'],
      [idp.mint({ sub: 'mallory', aud: url, scope: 'pets:write' }), 403, 'insufficient_scope'],
    ]
    for (const [token, status, error] of cases) {
      const res = await initialize(token)
      expect(res.status).toBe(status)
      expect(res.headers.get('www-authenticate')).toContain(`error="${error}"`)
      await expect(connect(token)).rejects.toThrow(new RegExp(error))
    }
  })

  it("with the provider's token a real SDK client lists and calls the tools, and is recorded as its subject", async () => {
    const { client, transport } = await connect(idp.mint({ sub: 'alice@example.com', aud: url, scope: 'pets:read' }))
    try {
      const tools = await client.listTools()
      expect(tools.tools.map((t) => t.name)).toContain('listPets')
      const r = await client.callTool({ name: 'listPets', arguments: {} })
      expect(r.isError).toBeFalsy()
      const mcp = host.app.get(MCPService)
      const info = mcp.getConnectionInfo(transport.sessionId!)
      expect(info?.auth).toEqual({ subject: 'alice@example.com', clientId: 'nest-test', scopes: ['pets:read'] })
      // the REST view of the record (not behind the token) shows the subject too
      const rest = await (await fetch(`${url}/connections/${transport.sessionId}`)).json()
      expect(rest.auth).toEqual({ subject: 'alice@example.com', clientId: 'nest-test', scopes: ['pets:read'] })
    } finally {
      await transport.terminateSession()
      await client.close()
    }
  })

  it('the configuration: off without an issuer, an error without keys, lists parsed', () => {
    expect(mcpAuthFromEnv({})).toBeUndefined()
    expect(() => mcpAuthFromEnv({ MCP_AUTH_ISSUER: 'https://idp.example.com' })).toThrow(/MCP_AUTH_JWKS_URI/)
    expect(mcpAuthFromEnv({ MCP_AUTH_ISSUER: 'https://idp.example.com', MCP_AUTH_JWKS_URI: 'https://idp.example.com/jwks', PORT: '4100' })?.resource).toBe('http://127.0.0.1:4100/api/mcp')
    expect(mcpAuthFromEnv({ MCP_AUTH_ISSUER: 'https://idp.example.com', MCP_AUTH_JWKS_URI: 'https://idp.example.com/jwks' })?.resource).toBe('http://127.0.0.1:3000/api/mcp')
    expect(
      mcpAuthFromEnv({
        MCP_AUTH_ISSUER: 'https://idp.example.com/realms/mcp',
        MCP_AUTH_JWKS_URI: 'https://idp.example.com/realms/mcp/protocol/openid-connect/certs',
        MCP_AUTH_RESOURCE: 'https://api.example.com/api/mcp',
        MCP_AUTH_AUDIENCE: 'mcp-api, https://api.example.com/api/mcp',
        MCP_AUTH_SCOPES: 'pets:read  pets:write',
        MCP_AUTH_ALGORITHMS: 'RS256',
      }),
    ).toEqual({
      authorizationServers: ['https://idp.example.com/realms/mcp'],
      resource: 'https://api.example.com/api/mcp',
      requiredScopes: ['pets:read', 'pets:write'],
      scopesSupported: ['pets:read', 'pets:write'],
      resourceName: 'mcp-swagger-nestjs-host pet store tools',
      jwt: {
        issuer: 'https://idp.example.com/realms/mcp',
        jwksUri: 'https://idp.example.com/realms/mcp/protocol/openid-connect/certs',
        audience: ['mcp-api', 'https://api.example.com/api/mcp'],
        algorithms: ['RS256'],
        clockToleranceSeconds: 30,
      },
    })
  })
})
