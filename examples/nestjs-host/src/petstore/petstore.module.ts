import { Module } from '@nestjs/common'
import { PetTools } from './pet-tools'
import { PetsController } from './pets.controller'
import { PetsService } from './pets.service'

@Module({ controllers: [PetsController], providers: [PetsService, PetTools], exports: [PetsService] })
export class PetstoreModule {}
