import { Controller, Get, Res } from '@nestjs/common'
import type { Response } from 'express'
import * as path from 'path'

/** GET /dashboard: a static page on the socket.io client the socket.io server itself serves. */
@Controller('dashboard')
export class DashboardController {
  static readonly file = path.resolve(__dirname, '..', '..', 'public', 'dashboard.html')

  @Get()
  page(@Res() res: Response) {
    res.sendFile(DashboardController.file)
  }
}
