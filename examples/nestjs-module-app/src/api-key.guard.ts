import { CanActivate, ExecutionContext, ForbiddenException, Injectable } from '@nestjs/common'

/** A global guard: every route of the app, /mcp included, needs the x-api-key header. */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest()
    if (req.headers['x-api-key'] !== 'secret') throw new ForbiddenException('x-api-key required')
    req.auth = { subject: 'tester', scopes: ['pets:read'] }
    return true
  }
}
