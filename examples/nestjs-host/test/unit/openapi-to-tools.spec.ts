/** The OpenAPI → tool converter and the tool-call → HTTP request mapping (pure helpers, plus a real loopback HTTP server). */
import * as http from 'http'
import type { AddressInfo } from 'net'
import {
  buildHttpRequest, executeOperation, missingArguments, OpenApiConversionError, openApiToTools, resolveSchema, toToolName,
} from '../../src/openapi/openapi-to-tools'
import { PETSTORE_OPENAPI } from '../../src/petstore/petstore.openapi'

const doc = (paths: Record<string, any>, extra: Record<string, any> = {}) => ({ openapi: '3.0.3', info: { title: 't', version: '1' }, paths, ...extra })

describe('openApiToTools on the pet store document', () => {
  const { tools, operations } = openApiToTools(PETSTORE_OPENAPI as any)
  const tool = (name: string) => tools.find((t) => t.name === name)!

  it('makes one tool per operation, named by operationId', () => {
    expect(tools.map((t) => t.name)).toEqual(['listPets', 'createPet', 'getPetById', 'deletePet'])
    expect(Object.keys(operations)).toEqual(['listPets', 'createPet', 'getPetById', 'deletePet'])
  })

  it('maps query parameters to optional properties with their schema and description', () => {
    expect(tool('listPets').inputSchema).toEqual({
      type: 'object',
      properties: {
        limit: { type: 'integer', minimum: 1, maximum: 100, description: 'How many pets to return at most' },
        tag: { type: 'string', description: 'Only pets with this tag' },
      },
    })
    expect(tool('listPets').description).toBe('List pets\n\nLists the pets in the store, optionally filtered by tag.')
  })

  it('inlines $ref request bodies as a required `body` property', () => {
    expect(tool('createPet').inputSchema).toEqual({
      type: 'object',
      properties: {
        body: {
          type: 'object',
          required: ['name'],
          properties: { name: { type: 'string', minLength: 1, description: 'The pet name' }, tag: { type: 'string', description: 'A free-form tag, e.g. the species' } },
        },
      },
      required: ['body'],
    })
    expect(JSON.stringify(tools)).not.toContain('$ref')
    expect(operations.createPet.body).toEqual({ argName: 'body', required: true, contentType: 'application/json' })
  })

  it('merges path-level parameters (always required) with operation-level ones', () => {
    expect(tool('deletePet').inputSchema).toEqual({
      type: 'object',
      properties: {
        petId: { type: 'integer', description: 'The id of the pet' },
        'X-Request-Reason': { type: 'string', description: 'Why the pet is removed (logged)' },
      },
      required: ['petId'],
    })
    expect(operations.deletePet).toMatchObject({ method: 'DELETE', path: '/pets/{petId}', serverUrl: '/api' })
  })

  it('sets hints from the HTTP method', () => {
    expect(tool('listPets').annotations).toMatchObject({ readOnlyHint: true, destructiveHint: false, idempotentHint: true })
    expect(tool('createPet').annotations).toMatchObject({ readOnlyHint: false, destructiveHint: false, idempotentHint: false })
    expect(tool('deletePet').annotations).toMatchObject({ readOnlyHint: false, destructiveHint: true, idempotentHint: true })
  })
})

describe('openApiToTools edge cases', () => {
  it('names operations without operationId from method and path, sanitised and unique', () => {
    const { tools } = openApiToTools(doc({
      '/a/{id}/b c': { get: {}, post: { operationId: 'weird name!*' } },
      '/x': { get: { operationId: 'same' }, put: { operationId: 'same' } },
    }))
    expect(tools.map((t) => t.name)).toEqual(['get_a_id_b_c', 'weird_name', 'same', 'same_2'])
    for (const t of tools) expect(t.name).toMatch(/^[A-Za-z0-9_.-]{1,64}$/)
    expect(toToolName('x'.repeat(100))).toHaveLength(64)
    expect(toToolName('***')).toBe('operation')
  })

  it('keeps parameters of the same name in different places apart', () => {
    const { tools, operations } = openApiToTools(doc({
      '/items/{id}': { get: { operationId: 'g', parameters: [{ name: 'id', in: 'path', schema: { type: 'string' } }, { name: 'id', in: 'query', schema: { type: 'string' } }] } },
    }))
    expect(Object.keys((tools[0].inputSchema as any).properties)).toEqual(['id', 'query_id'])
    expect(operations.g.params.map((p) => [p.argName, p.in])).toEqual([['id', 'path'], ['query_id', 'query']])
  })

  it('maps nullable, drops OpenAPI-only keywords, and guards recursive refs', () => {
    const d = doc({}, { components: { schemas: { Node: { type: 'object', properties: { next: { $ref: '#/components/schemas/Node' } } } } } })
    expect(resolveSchema(d, { type: 'string', nullable: true, example: 'x' })).toEqual({ type: ['string', 'null'] })
    const node = resolveSchema(d, { $ref: '#/components/schemas/Node' })
    expect(node.properties.next).toEqual({ description: 'recursive reference to #/components/schemas/Node' })
  })

  it('rejects what it cannot convert', () => {
    expect(() => openApiToTools({ swagger: '1.2' } as any)).toThrow(OpenApiConversionError)
    expect(() => openApiToTools({ openapi: '2.5' } as any)).toThrow(OpenApiConversionError)
    expect(() => openApiToTools(doc({ '/x': { get: { parameters: [{ $ref: '#/components/parameters/Nope' }] } } }))).toThrow(/unresolved \$ref/)
    expect(() => resolveSchema(doc({}), { $ref: 'other.yaml#/X' })).toThrow(/only local/)
  })
})

describe('buildHttpRequest', () => {
  const { operations } = openApiToTools(PETSTORE_OPENAPI as any)

  it('substitutes and encodes path parameters under a relative server URL', () => {
    const r = buildHttpRequest(operations.getPetById, { petId: 'a b/c' }, 'http://127.0.0.1:1234')
    expect(r).toEqual({ method: 'GET', url: 'http://127.0.0.1:1234/api/pets/a%20b%2Fc', headers: { accept: 'application/json' } })
  })

  it('puts query parameters (arrays repeated) in the URL and skips absent ones', () => {
    const { operations: ops } = openApiToTools(doc({ '/s': { get: { operationId: 's', parameters: [{ name: 'q', in: 'query' }, { name: 'tags', in: 'query' }, { name: 'n', in: 'query' }] } } }, { servers: [{ url: 'http://api.example.test/v1/' }] }))
    const r = buildHttpRequest(ops.s, { q: 'a&b', tags: ['x', 'y'] }, 'http://127.0.0.1:9')
    expect(r.url).toBe('http://api.example.test/v1/s?q=a%26b&tags=x&tags=y')
  })

  it('sends the body as JSON and header/cookie parameters as such', () => {
    const r = buildHttpRequest(operations.createPet, { body: { name: 'Rex' } }, 'http://h:1/')
    expect(r).toEqual({ method: 'POST', url: 'http://h:1/api/pets', headers: { accept: 'application/json', 'content-type': 'application/json' }, body: '{"name":"Rex"}' })
    const d = buildHttpRequest(operations.deletePet, { petId: 3, 'X-Request-Reason': 'sold' }, 'http://h:1')
    expect(d.headers['x-request-reason']).toBe('sold')
    const { operations: ops } = openApiToTools(doc({ '/c': { get: { operationId: 'c', parameters: [{ name: 'sid', in: 'cookie' }] } } }))
    expect(buildHttpRequest(ops.c, { sid: 'a;b' }, 'http://h').headers.cookie).toBe('sid=a%3Bb')
  })

  it('refuses a call without its required arguments', () => {
    expect(missingArguments(operations.createPet, {})).toEqual(['body'])
    expect(missingArguments(operations.getPetById, { petId: null })).toEqual(['petId'])
    expect(() => buildHttpRequest(operations.getPetById, {}, 'http://h')).toThrow('missing required argument(s): petId')
  })
})

describe('executeOperation against a real HTTP server', () => {
  let server: http.Server
  let base: string
  const seen: { method?: string; url?: string; body: string; headers: http.IncomingHttpHeaders }[] = []

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      let body = ''
      req.on('data', (c) => (body += c))
      req.on('end', () => {
        seen.push({ method: req.method, url: req.url, body, headers: req.headers })
        if (req.url === '/api/pets' && req.method === 'POST') {
          res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ id: 7, ...JSON.parse(body) }))
        } else if (req.url?.startsWith('/api/pets/1') && req.method === 'DELETE') {
          res.writeHead(204).end()
        } else if (req.url === '/api/pets?limit=2') {
          res.writeHead(200, { 'content-type': 'text/plain' }).end('not json')
        } else {
          res.writeHead(404, { 'content-type': 'application/json' }).end('{"statusCode":404,"message":"nope"}')
        }
      })
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })

  afterAll(async () => {
    await new Promise((r) => server.close(r))
  })

  const { operations } = openApiToTools(PETSTORE_OPENAPI as any)

  it('returns a 2xx JSON body as pretty JSON text', async () => {
    const r = await executeOperation(operations.createPet, { body: { name: 'Max' } }, base)
    expect(r.isError).toBeUndefined()
    expect(JSON.parse((r.content[0] as any).text)).toEqual({ id: 7, name: 'Max' })
    expect(seen.at(-1)).toMatchObject({ method: 'POST', url: '/api/pets', body: '{"name":"Max"}' })
    expect(seen.at(-1)!.headers['content-type']).toBe('application/json')
  })

  it('returns a non-2xx status as isError with the status line and body', async () => {
    const r = await executeOperation(operations.getPetById, { petId: 5 }, base)
    expect(r.isError).toBe(true)
    expect((r.content[0] as any).text).toBe('HTTP 404 Not Found\n{\n  "statusCode": 404,\n  "message": "nope"\n}')
  })

  it('passes non-JSON text through and reports an empty 2xx by its status', async () => {
    expect((await executeOperation(operations.listPets, { limit: 2 }, base)).content).toEqual([{ type: 'text', text: 'not json' }])
    const del = await executeOperation(operations.deletePet, { petId: 1 }, base)
    expect(del).toEqual({ content: [{ type: 'text', text: 'HTTP 204 No Content' }] })
  })

  it('makes no request for a call with missing arguments', async () => {
    const before = seen.length
    const r = await executeOperation(operations.getPetById, {}, base)
    expect(r).toEqual({ isError: true, content: [{ type: 'text', text: 'missing required argument(s): petId' }] })
    expect(seen.length).toBe(before)
  })

  it('reports a refused connection and an abort as isError', async () => {
    const closed = http.createServer()
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r))
    const port = (closed.address() as AddressInfo).port
    await new Promise((r) => closed.close(r))
    const r = await executeOperation(operations.listPets, {}, `http://127.0.0.1:${port}`)
    expect(r.isError).toBe(true)
    expect((r.content[0] as any).text).toMatch(/^GET http:\/\/127\.0\.0\.1:\d+\/api\/pets failed: /)

    const ac = new AbortController()
    ac.abort()
    const aborted = await executeOperation(operations.listPets, {}, base, { signal: ac.signal })
    expect(aborted.isError).toBe(true)
  })
})
