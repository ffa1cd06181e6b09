import type { AuthOptions } from 'mcp-swagger-native'
import { HostConfig } from '../host-config'

/**
 * Authorization for the in-process MCP server (McpNativeModule's `oauth` option, mounted on the
 * app at /api/mcp), from the environment: the server becomes an OAuth
 * 2.1 resource server whose bearer tokens are JWTs signed by your identity provider and verified
 * in Rust (`jwt` mode), no JS per request. Off unless `MCP_AUTH_ISSUER` is set.
 *
 * - `MCP_AUTH_ISSUER`: the `iss` of the tokens, published as the authorization server.
 * - `MCP_AUTH_JWKS_URI`: where the issuer's signing keys are (fetched, cached, refreshed on an
 *   unknown `kid`). Required with an issuer.
 * - `MCP_AUTH_RESOURCE`: the public URL of the MCP endpoint, e.g. `https://api.example.com/api/mcp`;
 *   tokens must be issued for it (`aud`, RFC 8707). Default: `http://127.0.0.1:$PORT/api/mcp`
 *   (`PORT` as `npm start` uses it, default 3000): behind a proxy or on another host, set it.
 * - `MCP_AUTH_AUDIENCE`: the `aud` the tokens carry, when your provider cannot put the resource
 *   URL there (an API identifier, a client id). Comma-separated for several.
 * - `MCP_AUTH_SCOPES`: scopes every request needs, space-separated (default: none).
 * - `MCP_AUTH_ALGORITHMS`: accepted `alg` values, comma-separated (default: the addon's RS/PS/ES/EdDSA set).
 *
 * See README.md › Authorization for Keycloak, Auth0 and Microsoft Entra ID.
 */
export function mcpAuthFromEnv(env: NodeJS.ProcessEnv = process.env): AuthOptions | undefined {
  const issuer = env.MCP_AUTH_ISSUER?.trim()
  if (!issuer) return undefined
  const jwksUri = env.MCP_AUTH_JWKS_URI?.trim()
  if (!jwksUri) throw new Error('MCP_AUTH_ISSUER is set but MCP_AUTH_JWKS_URI is not: the server needs the issuer\'s signing keys')
  const list = (v: string | undefined, sep: RegExp) => (v ?? '').split(sep).map((s) => s.trim()).filter(Boolean)
  const scopes = list(env.MCP_AUTH_SCOPES, /\s+/)
  const audience = list(env.MCP_AUTH_AUDIENCE, /,/)
  const algorithms = list(env.MCP_AUTH_ALGORITHMS, /,/)
  // Mounted on the app there is no listener to derive the resource from: it is always given.
  const resource = env.MCP_AUTH_RESOURCE?.trim() || `http://127.0.0.1:${env.PORT?.trim() || 3000}/${HostConfig.prefix}/${HostConfig.mcpPath}`
  return {
    authorizationServers: [issuer],
    resource,
    ...(scopes.length ? { requiredScopes: scopes, scopesSupported: scopes } : {}),
    resourceName: 'mcp-swagger-nestjs-host pet store tools',
    jwt: {
      issuer,
      jwksUri,
      ...(audience.length ? { audience: audience.length === 1 ? audience[0] : audience } : {}),
      ...(algorithms.length ? { algorithms } : {}),
      clockToleranceSeconds: 30,
    },
  }
}

/** `{ oauth }` to spread into McpNativeModule's options, or nothing when authorization is off. */
export function mcpAuthOption(env: NodeJS.ProcessEnv = process.env): { oauth?: AuthOptions } {
  const oauth = mcpAuthFromEnv(env)
  return oauth ? { oauth } : {}
}
