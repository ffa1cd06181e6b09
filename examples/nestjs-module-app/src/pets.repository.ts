import { Injectable } from '@nestjs/common'

export interface Pet {
  id: number
  name: string
  tag: string
}

/** A plain provider the tool provider injects: the tool reaches it through Nest's DI. */
@Injectable()
export class PetsRepository {
  private readonly pets = new Map<number, Pet>([
    [1, { id: 1, name: 'Rex', tag: 'dog' }],
    [2, { id: 2, name: 'Tom', tag: 'cat' }],
  ])
  /** Every call that reached the repository: the tests prove invalid calls never do. */
  readonly lookups: unknown[] = []

  find(id: number): Pet | undefined {
    this.lookups.push(id)
    return this.pets.get(id)
  }

  list(tag?: string): Pet[] {
    return [...this.pets.values()].filter((p) => !tag || p.tag === tag)
  }
}
