/**
 * Documents as users have them, read through @apidevtools/swagger-parser: Swagger 2.0, a YAML
 * document split over files (external $refs), a $ref to a schema served over HTTP (remote), and
 * the security schemes carried to the REST call, checked on a real loopback HTTP server.
 */
import * as fs from 'fs'
import * as http from 'http'
import * as path from 'path'
import type { AddressInfo } from 'net'
import { executeOperation, loadOpenApi, OpenApiConversionError, openApiSourceToTools } from '../../src/openapi/openapi-to-tools'

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'openapi')

interface Seen {
  method?: string
  url?: string
  body: string
  headers: http.IncomingHttpHeaders
}

describe('OpenAPI sources through swagger-parser', () => {
  let server: http.Server
  let base: string
  const seen: Seen[] = []

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      let body = ''
      req.on('data', (c) => (body += c))
      req.on('end', () => {
        // the split document of fixtures/openapi/split, served over HTTP
        if (req.url === '/split/openapi.yaml' || req.url === '/split/schemas.json') {
          res.writeHead(200).end(fs.readFileSync(path.join(FIXTURES, req.url)))
          return
        }
        if (req.url === '/remote/schemas.json') {
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ Color: { type: 'string', enum: ['red', 'green'] } }))
          return
        }
        seen.push({ method: req.method, url: req.url, body, headers: req.headers })
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}')
      })
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })

  afterAll(async () => {
    await new Promise((r) => server.close(r))
  })

  describe('Swagger 2.0', () => {
    const load = () => openApiSourceToTools(path.join(FIXTURES, 'swagger2-store.json'))

    it('makes tools from inline parameter schemas, a body parameter and formData', async () => {
      const { tools } = await load()
      expect(tools.map((t) => t.name)).toEqual(['listOrders', 'placeOrder', 'addNote'])
      const byName = Object.fromEntries(tools.map((t) => [t.name, t]))
      // draft-4 boolean exclusiveMinimum becomes 2020-12's number; collectionFormat is dropped
      expect(byName.listOrders.inputSchema).toEqual({
        type: 'object',
        properties: {
          limit: { type: 'integer', exclusiveMinimum: 0, maximum: 50 },
          status: { type: 'array', items: { type: 'string', enum: ['placed', 'delivered'] } },
        },
      })
      expect(byName.placeOrder.inputSchema).toEqual({
        type: 'object',
        properties: {
          body: {
            type: 'object',
            description: 'The order',
            required: ['petId', 'quantity'],
            properties: { petId: { type: 'integer' }, quantity: { type: 'integer', minimum: 1 }, note: { type: ['string', 'null'] } },
          },
        },
        required: ['body'],
      })
      expect(byName.addNote.inputSchema).toEqual({
        type: 'object',
        properties: { orderId: { type: 'integer' }, text: { type: 'string' }, author: { type: 'string' } },
        required: ['orderId', 'text'],
      })
    })

    it('calls basePath operations with the API key of the global security requirement', async () => {
      const { operations } = await load()
      const r = await executeOperation(operations.listOrders, { limit: 3, status: ['placed', 'delivered'] }, base, { credentials: { api_key: 'k-123' } })
      expect(r.isError).toBeUndefined()
      expect(seen.at(-1)).toMatchObject({ method: 'GET', url: '/v2/orders?limit=3&status=placed&status=delivered' })
      expect(seen.at(-1)!.headers['x-api-key']).toBe('k-123')

      await executeOperation(operations.placeOrder, { body: { petId: 1, quantity: 2 } }, base, { credentials: { api_key: 'k-123' } })
      expect(seen.at(-1)).toMatchObject({ method: 'POST', url: '/v2/orders', body: '{"petId":1,"quantity":2}' })
      expect(seen.at(-1)!.headers['content-type']).toBe('application/json')
    })

    it('sends formData urlencoded, with basic auth where the operation asks for it', async () => {
      const { operations } = await load()
      await executeOperation(operations.addNote, { orderId: 7, text: 'a&b', author: 'Ann' }, base, {
        credentials: { api_key: 'k-123', basicAuth: { username: 'ann', password: 's3cret' } },
      })
      const last = seen.at(-1)!
      expect(last).toMatchObject({ method: 'POST', url: '/v2/orders/7/note', body: 'text=a%26b&author=Ann' })
      expect(last.headers['content-type']).toBe('application/x-www-form-urlencoded')
      expect(last.headers.authorization).toBe(`Basic ${Buffer.from('ann:s3cret').toString('base64')}`)
      // the operation's own requirement replaces the global one: no API key here
      expect(last.headers['x-api-key']).toBeUndefined()
    })

    it('calls without credentials when none are configured (the API decides)', async () => {
      const { operations } = await load()
      await executeOperation(operations.listOrders, {}, base)
      expect(seen.at(-1)!.headers['x-api-key']).toBeUndefined()
    })
  })

  describe('external and remote $refs', () => {
    it('bundles a YAML document split over files (external $refs to a JSON file)', async () => {
      const { tools, operations } = await openApiSourceToTools(path.join(FIXTURES, 'split', 'openapi.yaml'))
      const byName = Object.fromEntries(tools.map((t) => [t.name, t]))
      expect(byName.createPet.inputSchema).toEqual({
        type: 'object',
        properties: {
          body: {
            type: 'object',
            required: ['name'],
            properties: { name: { type: 'string', minLength: 1 }, tag: { type: ['string', 'null'], description: 'A free-form tag' } },
          },
        },
        required: ['body'],
      })
      expect(byName.getPetById.inputSchema).toEqual({
        type: 'object',
        properties: { petId: { type: 'integer', description: 'The id of the pet' } },
        required: ['petId'],
      })
      // http bearer from the document's security, with the host's token
      await executeOperation(operations.getPetById, { petId: 4 }, base, { credentials: { bearer: 'tok' } })
      expect(seen.at(-1)).toMatchObject({ method: 'GET', url: '/api/pets/4' })
      expect(seen.at(-1)!.headers.authorization).toBe('Bearer tok')
    })

    it('fetches a remote $ref over HTTP (private addresses only when allowed), for a document given as an object', async () => {
      const doc = {
        openapi: '3.1.0',
        info: { title: 'remote', version: '1' },
        paths: {
          '/paint': {
            get: { operationId: 'paint', parameters: [{ name: 'color', in: 'query', required: true, schema: { $ref: `${base}/remote/schemas.json#/Color` } }], responses: {} },
          },
        },
      }
      // loopback is a private address: refused unless allowed
      await expect(loadOpenApi(doc)).rejects.toThrow(/Unable to resolve \$ref pointer/)
      const { tools } = await openApiSourceToTools(doc, { allowPrivateUrls: true })
      expect(tools[0].inputSchema).toEqual({ type: 'object', properties: { color: { type: 'string', enum: ['red', 'green'] } }, required: ['color'] })
      // the caller's object is left as it was
      expect(doc.paths['/paint'].get.parameters[0].schema).toEqual({ $ref: `${base}/remote/schemas.json#/Color` })
    })

    it('reads a document and its relative $refs from a URL; its relative server URL keeps the port', async () => {
      const { operations } = await openApiSourceToTools(`${base}/split/openapi.yaml`, { allowPrivateUrls: true })
      expect(operations.getPetById.serverUrl).toBe(`${base}/api`)
      await executeOperation(operations.getPetById, { petId: 9 }, 'http://127.0.0.1:1')
      expect(seen.at(-1)).toMatchObject({ method: 'GET', url: '/api/pets/9' })
    })

    it('reports a $ref it cannot resolve', async () => {
      const doc = { openapi: '3.0.3', info: { title: 'x', version: '1' }, paths: { '/a': { get: { parameters: [{ $ref: './nope.json#/P' }], responses: {} } } } }
      await expect(loadOpenApi(doc, { baseUrl: `${FIXTURES}/` })).rejects.toThrow(OpenApiConversionError)
    })
  })
})
