import { DynamicModule, Module } from '@nestjs/common'
import { APP_GUARD } from '@nestjs/core'
import { EventEmitterModule } from '@nestjs/event-emitter'
import { TerminusModule } from '@nestjs/terminus'
import { McpNativeModule, type McpMount } from 'mcp-swagger-native/nestjs'
import { ApiKeyGuard } from './api-key.guard'
import { HealthController } from './health.controller'
import { PetsRepository } from './pets.repository'
import { PetsTools } from './pets.tools'
import { EventsRecorder } from './events.recorder'

@Module({ providers: [PetsRepository, PetsTools], exports: [PetsRepository] })
export class PetsModule {}

@Module({})
export class AppModule {
  /** `mount` as the test wants it; the guard only matters on the app's own server. */
  static register(mount: McpMount, { guard = false } = {}): DynamicModule {
    return {
      module: AppModule,
      imports: [
        EventEmitterModule.forRoot(),
        TerminusModule,
        PetsModule,
        McpNativeModule.forRoot({ serverInfo: { name: 'pets', version: '1.0.0' }, mount }),
      ],
      controllers: [HealthController],
      providers: [EventsRecorder, ...(guard ? [{ provide: APP_GUARD, useClass: ApiKeyGuard }] : [])],
    }
  }
}
