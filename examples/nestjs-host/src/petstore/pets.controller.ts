import {
  BadRequestException, Body, Controller, Delete, Get, Headers, HttpCode, Logger, NotFoundException, Param, Post, Query,
} from '@nestjs/common'
import { PetsService, type Pet } from './pets.service'
import { PETSTORE_OPENAPI } from './petstore.openapi'

function parseId(raw: string): number {
  if (!/^\d+$/.test(raw)) throw new BadRequestException(`petId must be an integer, got "${raw}"`)
  return Number(raw)
}

/** The pet store REST API (/api/pets) described by PETSTORE_OPENAPI, and the document itself. */
@Controller()
export class PetsController {
  private readonly logger = new Logger(PetsController.name)

  constructor(private readonly pets: PetsService) {}

  @Get('openapi.json')
  openapi() {
    return PETSTORE_OPENAPI
  }

  @Get('pets')
  list(@Query('limit') limit?: string, @Query('tag') tag?: string): Pet[] {
    let n: number | undefined
    if (limit !== undefined) {
      n = Number(limit)
      if (!Number.isInteger(n) || n < 1 || n > 100) throw new BadRequestException('limit must be an integer in 1..100')
    }
    return this.pets.list({ limit: n, tag })
  }

  @Post('pets')
  @HttpCode(201)
  create(@Body() body: unknown): Pet {
    const b = body as { name?: unknown; tag?: unknown } | undefined
    if (!b || typeof b.name !== 'string' || b.name.length === 0) throw new BadRequestException('name is required')
    if (b.tag !== undefined && typeof b.tag !== 'string') throw new BadRequestException('tag must be a string')
    return this.pets.create({ name: b.name, tag: b.tag as string | undefined })
  }

  @Get('pets/:petId')
  get(@Param('petId') petId: string): Pet {
    const pet = this.pets.get(parseId(petId))
    if (!pet) throw new NotFoundException(`Pet ${petId} not found`)
    return pet
  }

  @Delete('pets/:petId')
  @HttpCode(204)
  remove(@Param('petId') petId: string, @Headers('x-request-reason') reason?: string): void {
    if (!this.pets.delete(parseId(petId))) throw new NotFoundException(`Pet ${petId} not found`)
    if (reason) this.logger.log(`pet ${petId} deleted: ${reason}`)
  }
}
