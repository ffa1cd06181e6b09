'use strict'
// Real OAuth clients against the server with `auth` on (issue 14): @modelcontextprotocol/client
// 2.x with its OAuth provider discovers the protected resource metadata from the 401, registers
// dynamically at the local authorization server (fixtures/oauth-server.js), runs the PKCE
// authorization code flow (automatic consent), gets an RS256 token for this resource and calls
// a tool, in both eras; @modelcontextprotocol/sdk 1.x calls a tool with a bearer token.
const v2 = require('@modelcontextprotocol/client')
const { Client: LegacyClient } = require('@modelcontextprotocol/sdk/client/index.js')
const { StreamableHTTPClientTransport: LegacyTransport } = require('@modelcontextprotocol/sdk/client/streamableHttp.js')
const { startOAuthServer } = require('./fixtures/oauth-server.js')
const { startServer } = require('./helpers/eras')

const OBJ = { type: 'object', properties: {} }

// An in-memory OAuthClientProvider: a test "browser" follows the authorization URL instead of
// a user.
class MemoryProvider {
  constructor() {
    this.redirected = []
  }
  get redirectUrl() {
    return 'http://127.0.0.1:9/callback'
  }
  get clientMetadata() {
    return { client_name: 'auth-clients test', redirect_uris: [this.redirectUrl], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'none' }
  }
  clientInformation() {
    return this.client
  }
  saveClientInformation(c) {
    this.client = c
  }
  tokens() {
    return this.savedTokens
  }
  saveTokens(t) {
    this.savedTokens = t
  }
  redirectToAuthorization(url) {
    this.redirected.push(new URL(url))
  }
  saveCodeVerifier(v) {
    this.verifier = v
  }
  codeVerifier() {
    return this.verifier
  }
  saveDiscoveryState(s) {
    this.discovery = s
  }
  discoveryState() {
    return this.discovery
  }
}

// Follows the authorization URL like a browser with automatic consent; returns the callback's
// query parameters.
async function consent(url) {
  const res = await fetch(url, { redirect: 'manual' })
  expect(res.status).toBe(302)
  return new URL(res.headers.get('location')).searchParams
}

describe('real OAuth clients', () => {
  let as, server, calls

  beforeAll(async () => {
    as = await startOAuthServer({ subject: 'oauth-user', scopes: ['mcp:read'] })
    calls = []
    server = await startServer({
      tools: [{ name: 'whoami', inputSchema: OBJ }],
      callTool: async (_call, ctx) => {
        calls.push({ era: ctx.era, auth: ctx.auth })
        return { content: [{ type: 'text', text: `${ctx.era}:${ctx.auth.subject}` }] }
      },
      auth: { authorizationServers: [as.issuer], scopesSupported: ['mcp:read'], requiredScopes: ['mcp:read'], jwt: { issuer: as.issuer, jwksUri: as.jwksUri } },
    })
  })

  afterAll(async () => {
    await server.close()
    await as.close()
  })

  test.each([
    ['2025 (initialize, session)', undefined, 'legacy'],
    ['2026-07-28 (stateless)', { mode: 'auto' }, 'modern'],
  ])('client 2.x: 401 → metadata discovery → registration → PKCE → token → tool call, %s', async (_name, versionNegotiation, era) => {
    const provider = new MemoryProvider()
    const opts = versionNegotiation ? { versionNegotiation } : {}
    const first = new v2.Client({ name: 'oauth-client', version: '2.0.0' }, opts)
    const t1 = new v2.StreamableHTTPClientTransport(new URL(server.url), { authProvider: provider })
    await expect(first.connect(t1)).rejects.toThrow()
    expect(provider.redirected).toHaveLength(1)
    const authUrl = provider.redirected[0]
    expect(authUrl.origin).toBe(as.issuer)
    expect(authUrl.searchParams.get('resource')).toBe(server.url)
    expect(authUrl.searchParams.get('code_challenge_method')).toBe('S256')
    expect(authUrl.searchParams.get('scope')).toBe('mcp:read')
    await t1.finishAuth(await consent(authUrl))
    expect(provider.savedTokens.access_token).toBeTruthy()
    await first.close().catch(() => {})

    const client = new v2.Client({ name: 'oauth-client', version: '2.0.0' }, opts)
    await client.connect(new v2.StreamableHTTPClientTransport(new URL(server.url), { authProvider: provider }))
    const r = await client.callTool({ name: 'whoami', arguments: {} })
    expect(r.content[0].text).toBe(`${era}:oauth-user`)
    expect(calls.at(-1).auth).toMatchObject({ subject: 'oauth-user', clientId: provider.client.client_id, scopes: ['mcp:read'] })
    await client.close()
  })

  test('sdk 1.x with a bearer token', async () => {
    const token = as.mint({ sub: 'sdk-user', aud: server.url, scope: 'mcp:read' })
    const client = new LegacyClient({ name: 'bearer-client', version: '1.0.0' })
    await client.connect(new LegacyTransport(new URL(server.url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }))
    const r = await client.callTool({ name: 'whoami', arguments: {} })
    expect(r.content[0].text).toBe('legacy:sdk-user')
    await client.close()
    // Without the token the same client is refused before any session exists.
    const bare = new LegacyClient({ name: 'bearer-client', version: '1.0.0' })
    await expect(bare.connect(new LegacyTransport(new URL(server.url)))).rejects.toThrow(/401|Unauthorized/i)
  })
})
