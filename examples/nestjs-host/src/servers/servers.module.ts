import { Module } from '@nestjs/common'
import { ProcessManagerService } from './process-manager.service'
import { ServersController } from './servers.controller'

@Module({ controllers: [ServersController], providers: [ProcessManagerService], exports: [ProcessManagerService] })
export class ServersModule {}
