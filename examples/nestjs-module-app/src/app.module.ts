import { DynamicModule, Injectable, Module } from '@nestjs/common'
import { APP_GUARD } from '@nestjs/core'
import { EventEmitterModule } from '@nestjs/event-emitter'
import { TerminusModule } from '@nestjs/terminus'
import type { AuthOptions } from 'mcp-swagger-native'
import { McpNativeModule, type McpMount } from 'mcp-swagger-native/nestjs'
import { ApiKeyGuard } from './api-key.guard'
import { HealthController } from './health.controller'
import { PetsRepository } from './pets.repository'
import { PetsTools } from './pets.tools'
import { EventsRecorder } from './events.recorder'

@Module({ providers: [PetsRepository, PetsTools], exports: [PetsRepository] })
export class PetsModule {}

/** Settings a real app would read from its environment; injected into forRootAsync's factory. */
@Injectable()
export class McpSettings {
  readonly serverName = 'pets-async'
  readonly maxConnections = 100
}

@Module({ providers: [McpSettings], exports: [McpSettings] })
export class SettingsModule {}

@Module({})
export class AppModule {
  /**
   * `mount` as the test wants it; the guard only matters on the app's own server. `async`
   * configures the module through forRootAsync with an injected provider; `oauth` makes the
   * endpoint an OAuth 2.1 resource server.
   */
  static register(mount: McpMount, { guard = false, async = false, oauth }: { guard?: boolean; async?: boolean; oauth?: AuthOptions } = {}): DynamicModule {
    const mcp = async
      ? McpNativeModule.forRootAsync({
          imports: [SettingsModule],
          inject: [McpSettings],
          useFactory: (s: McpSettings) => ({ serverInfo: { name: s.serverName, version: '1.0.0' }, maxConnections: s.maxConnections }),
          mount,
        })
      : McpNativeModule.forRoot({ serverInfo: { name: 'pets', version: '1.0.0' }, mount, ...(oauth ? { oauth } : {}) })
    return {
      module: AppModule,
      imports: [EventEmitterModule.forRoot(), TerminusModule, PetsModule, mcp],
      controllers: [HealthController],
      providers: [EventsRecorder, ...(guard ? [{ provide: APP_GUARD, useClass: ApiKeyGuard }] : [])],
    }
  }
}
