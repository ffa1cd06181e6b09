import { Injectable } from '@nestjs/common'
import { McpPrompt, McpResource, McpTool, type McpContext } from 'mcp-swagger-native/nestjs'
import { z } from 'zod'
import { PetsRepository } from './pets.repository'

@Injectable()
export class PetsTools {
  constructor(private readonly repo: PetsRepository) {}

  @McpTool({
    name: 'get_pet',
    description: 'Look a pet up by id',
    inputSchema: z.object({ id: z.number().int().min(1) }),
    outputSchema: z.object({ id: z.number(), name: z.string(), tag: z.string() }),
    annotations: { readOnlyHint: true },
  })
  getPet(args: { id: number }, ctx: McpContext) {
    const pet = this.repo.find(args.id)
    if (!pet) return { content: [{ type: 'text' as const, text: `no pet ${args.id} (${ctx.era})` }], isError: true }
    return { ...pet }
  }

  @McpTool({
    description: 'Pets with a tag',
    inputSchema: { type: 'object', properties: { tag: { type: 'string', enum: ['dog', 'cat'] } }, additionalProperties: false },
  })
  list_pets(args: Record<string, unknown>) {
    return JSON.stringify(this.repo.list(args.tag as string | undefined))
  }

  @McpResource({ uriTemplate: 'pets://{id}', name: 'pet', mimeType: 'application/json' })
  petResource({ params }: { uri: string; params: Record<string, string> }) {
    return this.repo.find(Number(params.id)) ?? {}
  }

  @McpPrompt({ name: 'describe_pet', description: 'Ask for a description', arguments: z.object({ name: z.string().describe('the pet') }) })
  describe(args: { name: string }) {
    return `Describe ${args.name} in one sentence.`
  }
}
