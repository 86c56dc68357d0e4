import { activateTelemetry, telemetry } from './telemetry.js';
import { countValidation } from './validation-metrics.js';

describe('telemetry without an SDK', () => {
  it('loads the API but creates no instrument while only the no-op meter is there', async () => {
    await activateTelemetry();
    expect(telemetry.api).toBeDefined();
    expect(telemetry.validations).toBeUndefined();
    expect(telemetry.duration).toBeUndefined();
    expect(() => countValidation('ok', 'jwt', 'memory')).not.toThrow();
  });
});
