import { SetMetadata } from '@nestjs/common';
import { PUBLIC_METADATA_KEY } from '../oidc-resource.constants.js';

/**
 * Marks a handler or a whole controller as reachable without a token. A valid token, if sent,
 * still populates `@CurrentUser()`; a missing, invalid or misplaced one never fails the route.
 *
 * @example
 * @Public() @Get('health') health() { return { ok: true }; }
 */
export const Public = (): MethodDecorator & ClassDecorator =>
  SetMetadata(PUBLIC_METADATA_KEY, true);
