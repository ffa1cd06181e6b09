'use strict'
// CORS in a real browser (issue 14): headless Chromium (Debian's, driven by playwright-core)
// loads a page from one loopback origin whose script calls the MCP endpoint on another port with
// an Authorization header and the Mcp-* headers, so the browser sends a preflight first. With
// `cors` naming the page's origin both eras work, the page can read Mcp-Session-Id and, on a
// 401, WWW-Authenticate; with `cors` naming another origin, or without `cors`, the browser
// refuses. scripts/test.sh installs Chromium (apt-get) on a fresh machine.
const fs = require('node:fs')
const http = require('node:http')
const os = require('node:os')
const path = require('node:path')
const { MODERN, meta, startServer } = require('./helpers/eras')

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium'
const haveChromium = fs.existsSync(CHROMIUM)
if (!haveChromium) {
  console.warn(`SKIPPING the CORS browser test: ${CHROMIUM} is missing (scripts/test.sh installs Debian's chromium with apt-get as root)`)
}

const OBJ = { type: 'object', properties: {} }
const TOOLS = [{ name: 'whoami', inputSchema: OBJ }]

jest.setTimeout(60_000)

;(haveChromium ? describe : describe.skip)('CORS from a page in headless chromium', () => {
  let pageServer, pageOrigin, allowed, otherOrigin, noCors, browser, page, userDataDir

  const verify = (s) => async (token) => (token === 'browser-token' ? { subject: 'browser-user', scopes: ['mcp:read'], audience: s().url, expiresAt: Math.floor(Date.now() / 1000) + 600 } : null)
  const mcpOptions = (s, cors) => ({
    tools: TOOLS,
    callTool: async (_args, ctx) => ({ content: [{ type: 'text', text: `hello ${ctx.auth && ctx.auth.subject}` }] }),
    auth: { authorizationServers: ['http://127.0.0.1:9'], requiredScopes: ['mcp:read'], verify: verify(s) },
    ...(cors ? { cors } : {}),
  })

  beforeAll(async () => {
    // The page's origin: a plain node:http server with one HTML page.
    pageServer = http.createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
      res.end('<!doctype html><title>cors test</title><p>cors test page</p>')
    })
    await new Promise((r) => pageServer.listen(0, '127.0.0.1', r))
    pageOrigin = `http://127.0.0.1:${pageServer.address().port}`
    allowed = await startServer(mcpOptions(() => allowed, { origins: [pageOrigin], maxAgeSeconds: 0 }))
    otherOrigin = await startServer(mcpOptions(() => otherOrigin, { origins: ['http://127.0.0.1:1'] }))
    noCors = await startServer(mcpOptions(() => noCors))

    const { chromium } = require('playwright-core')
    userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-cors-chromium-'))
    browser = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      timeout: 30_000,
    })
    page = browser.pages()[0] || (await browser.newPage())
    await page.goto(pageOrigin + '/')
  })

  afterAll(async () => {
    if (browser) await browser.close()
    if (userDataDir) fs.rmSync(userDataDir, { recursive: true, force: true })
    for (const s of [allowed, otherOrigin, noCors]) if (s) await s.close()
    if (pageServer) await new Promise((r) => pageServer.close(r))
  })

  // Runs in the page: the 2026 era (one POST), then the 2025 era (initialize, then a call in the
  // session), then a request without a token. Each step reports what the page's script could
  // see, or the browser's refusal.
  function inPage({ url, token, modernMeta, modern }) {
    return page.evaluate(
      async ({ url, token, modernMeta, modern }) => {
        const out = {}
        const post = (headers, body) =>
          fetch(url, {
            method: 'POST',
            headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', ...headers },
            body: JSON.stringify(body),
          })
        // A callback running past 100 ms (a busy machine) is answered as SSE rather than JSON; the
        // response is the event holding a result or an error (a 2025 stream may start with an
        // empty priming event).
        const parse = (text) => {
          if (text.startsWith('{')) return JSON.parse(text)
          const events = [...text.matchAll(/^data:(.*)$/gm)].map((m) => m[1].trim()).filter(Boolean).map((d) => JSON.parse(d))
          return events.find((e) => e && (e.result || e.error))
        }
        const step = async (name, fn) => {
          try {
            out[name] = await fn()
          } catch (e) {
            out[name] = { refused: String(e && e.message) }
          }
        }
        await step('modern', async () => {
          const r = await post(
            { Authorization: `Bearer ${token}`, 'MCP-Protocol-Version': modern, 'Mcp-Method': 'tools/call', 'Mcp-Name': 'whoami' },
            { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'whoami', arguments: {}, _meta: modernMeta } },
          )
          return { status: r.status, body: parse(await r.text()) }
        })
        await step('legacy', async () => {
          const init = await post(
            { Authorization: `Bearer ${token}` },
            { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'browser', version: '1' } } },
          )
          await init.text()
          const session = init.headers.get('Mcp-Session-Id')
          const call = await post(
            { Authorization: `Bearer ${token}`, 'Mcp-Session-Id': session, 'MCP-Protocol-Version': '2025-11-25' },
            { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'whoami', arguments: {} } },
          )
          return { initStatus: init.status, session, status: call.status, body: parse(await call.text()) }
        })
        await step('noToken', async () => {
          const r = await post({ 'MCP-Protocol-Version': modern, 'Mcp-Method': 'tools/list' }, { jsonrpc: '2.0', id: 2, method: 'tools/list', params: { _meta: modernMeta } })
          return { status: r.status, challenge: r.headers.get('WWW-Authenticate') }
        })
        return out
      },
      { url, token, modernMeta, modern },
    )
  }

  const args = (url) => ({ url, token: 'browser-token', modernMeta: meta(), modern: MODERN })

  test('with cors naming the page: both eras work, Mcp-Session-Id and WWW-Authenticate are readable', async () => {
    const r = await inPage(args(allowed.url))
    expect(r.modern).toEqual({ status: 200, body: expect.objectContaining({ result: expect.objectContaining({ content: [{ type: 'text', text: 'hello browser-user' }] }) }) })
    expect(r.legacy.initStatus).toBe(200)
    expect(r.legacy.session).toMatch(/^[0-9a-f-]{16,}$/i)
    expect(r.legacy.body.result.content[0].text).toBe('hello browser-user')
    expect(r.noToken.status).toBe(401)
    expect(r.noToken.challenge).toMatch(/^Bearer .*resource_metadata="http:\/\/127\.0\.0\.1:\d+\/\.well-known\/oauth-protected-resource\/mcp"/)
  })

  test.each([
    ['cors naming another origin', () => otherOrigin],
    ['no cors option', () => noCors],
  ])('%s: the browser refuses every call', async (_row, server) => {
    const r = await inPage(args(server().url))
    for (const step of ['modern', 'legacy', 'noToken']) {
      expect(r[step]).toEqual({ refused: expect.stringMatching(/Failed to fetch/) })
    }
  })
})
