import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { AuthenticatedPrincipal } from '../interfaces/authenticated-principal.interface.js';

/**
 * Injects the caller's {@link AuthenticatedPrincipal}, or one of its fields. `undefined` on a
 * `@Public()` route called without a valid token.
 *
 * @example
 * @Get('me') me(@CurrentUser() user: AuthenticatedPrincipal, @CurrentUser('sub') sub: string) { … }
 */
export const CurrentUser = createParamDecorator(
  (field: keyof AuthenticatedPrincipal | undefined, context: ExecutionContext) => {
    const request = context.switchToHttp().getRequest<{ user?: AuthenticatedPrincipal }>();
    const user = request?.user;
    return field ? user?.[field] : user;
  },
);
