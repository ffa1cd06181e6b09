/**
 * The dashboard in a real browser: headless Debian chromium (driven by playwright-core) opens
 * /dashboard; real MCP clients connect to the in-process server and to a child server, their rows
 * appear in the live tables, they leave, the rows go. A screenshot is saved to test-output/.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'fs'
import * as os from 'os'
import * as path from 'path'
import request from 'supertest'
import { chromium, type BrowserContext, type Page } from 'playwright-core'
import type { HostApp } from '../../src/bootstrap'
import { connectMcp, disconnectMcp, startHost, type McpConnection } from '../helpers'

const CHROMIUM = '/usr/bin/chromium'
const OUT_DIR = path.resolve(__dirname, '..', '..', 'test-output')
const haveChromium = existsSync(CHROMIUM)
if (!haveChromium) {
  console.warn(`SKIPPING the dashboard browser test: ${CHROMIUM} is missing (run-tests.sh installs Debian's chromium with apt-get; it could not here)`)
}

jest.setTimeout(60_000)

;(haveChromium ? describe : describe.skip)('dashboard in headless chromium', () => {
  let host: HostApp
  let context: BrowserContext
  let page: Page
  let userDataDir: string
  const open: McpConnection[] = []
  const pageErrors: string[] = []

  beforeAll(async () => {
    host = await startHost()
    await request(host.baseUrl).post('/api/servers').send({ id: 'pets-browser' }).expect(201)
    userDataDir = mkdtempSync(path.join(os.tmpdir(), 'nestjs-host-chromium-'))
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
      ],
      viewport: { width: 1200, height: 720 },
      timeout: 30_000,
    })
    page = context.pages()[0] ?? (await context.newPage())
    page.on('pageerror', (e) => pageErrors.push(e.message))
  })

  afterAll(async () => {
    for (const c of open.splice(0)) await disconnectMcp(c).catch(() => undefined)
    await context?.close()
    if (userDataDir) rmSync(userDataDir, { recursive: true, force: true })
    await host?.close()
  })

  const section = (serverId: string) => `section[data-server-id="${serverId}"]`
  const rowSel = (serverId: string, sessionId: string) => `${section(serverId)} tr.connection[data-session-id="${sessionId}"]`
  const text = async (sel: string) => (await page.textContent(sel))?.trim()

  it('shows connections per server, live, as clients come and go', async () => {
    await page.goto(`${host.baseUrl}/dashboard`)
    await page.waitForSelector('#status.live', { timeout: 10_000 })
    await page.waitForSelector(section('default'))
    await page.waitForSelector(section('pets-browser'))
    expect(await text('#active-connections')).toBe('0')
    expect(await text('#server-count')).toBe('2')
    expect(await page.locator(`${section('default')} tr.empty`).count()).toBe(1)

    // a client of the in-process server
    const a = await connectMcp(host.mcpUrl!, 'browser-test-inproc')
    open.push(a)
    await page.waitForSelector(rowSel('default', a.sessionId), { timeout: 5000 })
    expect(await text(`${rowSel('default', a.sessionId)} td:nth-child(3)`)).toMatch(/127\.0\.0\.1/)
    await page.waitForFunction(() => document.getElementById('active-connections')?.textContent === '1')

    // a client of the child-process server (via its stdout events)
    const childUrl = (await request(host.baseUrl).get('/api/servers/pets-browser').expect(200)).body.data.url
    const b = await connectMcp(childUrl, 'browser-test-child')
    open.push(b)
    await page.waitForSelector(rowSel('pets-browser', b.sessionId), { timeout: 5000 })
    await page.waitForFunction(() => document.getElementById('active-connections')?.textContent === '2')
    expect(await text(`${section('pets-browser')} .counts .active`)).toBe('1')
    // the in-process row did not land in the child's table, nor the other way round
    expect(await page.locator(rowSel('pets-browser', a.sessionId)).count()).toBe(0)
    expect(await page.locator(rowSel('default', b.sessionId)).count()).toBe(0)

    mkdirSync(OUT_DIR, { recursive: true })
    const shot = path.join(OUT_DIR, 'dashboard.png')
    await page.screenshot({ path: shot, fullPage: true })
    expect(statSync(shot).size).toBeGreaterThan(5000)

    // they leave: rows go, counts drop, totals stay
    open.splice(open.indexOf(a), 1)
    await disconnectMcp(a)
    await page.waitForSelector(rowSel('default', a.sessionId), { state: 'detached', timeout: 5000 })
    await page.waitForFunction(() => document.getElementById('active-connections')?.textContent === '1')

    open.splice(open.indexOf(b), 1)
    await disconnectMcp(b)
    await page.waitForSelector(rowSel('pets-browser', b.sessionId), { state: 'detached', timeout: 5000 })
    await page.waitForFunction(() => document.getElementById('active-connections')?.textContent === '0')
    expect(Number(await text('#total-connections'))).toBeGreaterThanOrEqual(2)
    await page.screenshot({ path: path.join(OUT_DIR, 'dashboard-after.png'), fullPage: true })

    // a child server stopped elsewhere disappears from the page
    await request(host.baseUrl).delete('/api/servers/pets-browser').expect(200)
    await page.waitForSelector(section('pets-browser'), { state: 'detached', timeout: 5000 })
    expect(pageErrors).toEqual([])
  })
})
