import { Controller, Get } from '@nestjs/common';
import { Public } from '../../lib/index.js';

@Controller('health')
export class HealthController {
  /** No token needed: `@Public()` opts this route out of the global guard. */
  @Public()
  @Get()
  health(): { status: 'ok' } {
    return { status: 'ok' };
  }
}
