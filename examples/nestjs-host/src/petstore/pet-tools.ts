import { Injectable } from '@nestjs/common'
import { McpTool } from 'mcp-swagger-native/nestjs'
import { PetsService } from './pets.service'

/**
 * A hand-written tool beside the ones generated from the OpenAPI document: a method of a provider
 * that injects another provider, found by McpNativeModule when the app starts. Its arguments are
 * checked against `inputSchema` in the native core before the method runs.
 */
@Injectable()
export class PetTools {
  constructor(private readonly pets: PetsService) {}

  @McpTool({
    name: 'countPetsByTag',
    title: 'Count pets by tag',
    description: 'How many pets the store has per tag (pets without a tag under "untagged"), optionally for one tag only.',
    inputSchema: { type: 'object', properties: { tag: { type: 'string', minLength: 1 } }, additionalProperties: false },
    annotations: { readOnlyHint: true, openWorldHint: false },
  })
  countByTag(args: Record<string, unknown>) {
    const counts: Record<string, number> = {}
    for (const p of this.pets.list()) {
      const tag = p.tag ?? 'untagged'
      if (typeof args.tag === 'string' && tag !== args.tag) continue
      counts[tag] = (counts[tag] ?? 0) + 1
    }
    return { content: [{ type: 'text' as const, text: JSON.stringify(counts) }] }
  }
}
