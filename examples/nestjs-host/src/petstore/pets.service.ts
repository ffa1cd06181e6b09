import { Injectable } from '@nestjs/common'

export interface Pet {
  id: number
  name: string
  tag?: string
}

/** In-memory pet store: the real REST API behind the MCP tools. */
@Injectable()
export class PetsService {
  private readonly pets = new Map<number, Pet>()
  private nextId = 1

  constructor() {
    this.reset()
  }

  /** Back to the three seed pets (tests call this to start from a known state). */
  reset(): void {
    this.pets.clear()
    this.nextId = 1
    for (const p of [
      { name: 'Rex', tag: 'dog' },
      { name: 'Tom', tag: 'cat' },
      { name: 'Nemo', tag: 'fish' },
    ]) {
      this.create(p)
    }
  }

  list(opts: { limit?: number; tag?: string } = {}): Pet[] {
    let all = [...this.pets.values()]
    if (opts.tag !== undefined) all = all.filter((p) => p.tag === opts.tag)
    if (opts.limit !== undefined) all = all.slice(0, opts.limit)
    return all
  }

  get(id: number): Pet | undefined {
    return this.pets.get(id)
  }

  create(input: { name: string; tag?: string }): Pet {
    const pet: Pet = { id: this.nextId++, name: input.name }
    if (input.tag !== undefined) pet.tag = input.tag
    this.pets.set(pet.id, pet)
    return pet
  }

  delete(id: number): boolean {
    return this.pets.delete(id)
  }
}
