import 'reflect-metadata'
import { NestFactory } from '@nestjs/core'
import { AppModule } from './app.module'

/** Run by hand: `node dist/main.js` (MCP on the app's own port under /api/mcp). */
async function main() {
  const app = await NestFactory.create(AppModule.register('app'), { rawBody: true })
  app.setGlobalPrefix('api')
  app.enableShutdownHooks()
  await app.listen(Number(process.env.PORT || 3000), '127.0.0.1')
  console.log(`MCP on ${await app.getUrl()}/api/mcp`)
}
void main()
