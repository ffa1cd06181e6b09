/**
 * The OpenAPI 3 document of the pet store this app serves under /api/pets. The app serves it at
 * GET /api/openapi.json and turns each operation into an MCP tool (src/openapi/openapi-to-tools.ts).
 * `servers[0].url` is relative: the converter resolves it against the app's own base URL.
 */
export const PETSTORE_OPENAPI = {
  openapi: '3.0.3',
  info: { title: 'Pet Store', version: '1.0.0', description: 'A small pet store served by the NestJS host.' },
  servers: [{ url: '/api' }],
  paths: {
    '/pets': {
      get: {
        operationId: 'listPets',
        summary: 'List pets',
        description: 'Lists the pets in the store, optionally filtered by tag.',
        parameters: [
          { name: 'limit', in: 'query', required: false, description: 'How many pets to return at most', schema: { type: 'integer', minimum: 1, maximum: 100 } },
          { name: 'tag', in: 'query', required: false, description: 'Only pets with this tag', schema: { type: 'string' } },
        ],
        responses: {
          '200': { description: 'The pets', content: { 'application/json': { schema: { type: 'array', items: { $ref: '#/components/schemas/Pet' } } } } },
        },
      },
      post: {
        operationId: 'createPet',
        summary: 'Create a pet',
        requestBody: {
          required: true,
          content: { 'application/json': { schema: { $ref: '#/components/schemas/NewPet' } } },
        },
        responses: {
          '201': { description: 'The pet created', content: { 'application/json': { schema: { $ref: '#/components/schemas/Pet' } } } },
          '400': { description: 'Invalid pet', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
        },
      },
    },
    '/pets/{petId}': {
      parameters: [{ name: 'petId', in: 'path', required: true, description: 'The id of the pet', schema: { type: 'integer' } }],
      get: {
        operationId: 'getPetById',
        summary: 'Find a pet by id',
        responses: {
          '200': { description: 'The pet', content: { 'application/json': { schema: { $ref: '#/components/schemas/Pet' } } } },
          '404': { description: 'No such pet', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
        },
      },
      delete: {
        operationId: 'deletePet',
        summary: 'Delete a pet',
        parameters: [{ name: 'X-Request-Reason', in: 'header', required: false, description: 'Why the pet is removed (logged)', schema: { type: 'string' } }],
        responses: { '204': { description: 'Deleted' }, '404': { description: 'No such pet' } },
      },
    },
  },
  components: {
    schemas: {
      NewPet: {
        type: 'object',
        required: ['name'],
        properties: {
          name: { type: 'string', minLength: 1, description: 'The pet name' },
          tag: { type: 'string', description: 'A free-form tag, e.g. the species' },
        },
      },
      Pet: {
        allOf: [
          { $ref: '#/components/schemas/NewPet' },
          { type: 'object', required: ['id'], properties: { id: { type: 'integer' } } },
        ],
      },
      Error: {
        type: 'object',
        required: ['statusCode', 'message'],
        properties: { statusCode: { type: 'integer' }, message: { type: 'string' } },
      },
    },
  },
} as const

export type OpenApiDocument = Record<string, any>
