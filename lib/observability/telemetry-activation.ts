import { Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { activateTelemetry } from './telemetry.js';

/**
 * Picks up OpenTelemetry when the application starts: late enough for an SDK that the app
 * registers before `NestFactory.create()`, early enough for the first request.
 */
@Injectable()
export class TelemetryActivation implements OnApplicationBootstrap {
  onApplicationBootstrap(): Promise<void> {
    return activateTelemetry();
  }
}
