import {
  createParamDecorator,
  type ExecutionContext,
  type PipeTransform,
  type Type,
} from '@nestjs/common';
import type { AuthenticatedPrincipal } from '../interfaces/authenticated-principal.interface.js';
import { principalOf } from '../transports/principal-store.js';

/**
 * Injects the caller's {@link AuthenticatedPrincipal}, or one of its fields, in controllers,
 * GraphQL resolvers, WebSocket gateways and microservice handlers alike. `undefined` on a
 * `@Public()` handler called without a valid token.
 *
 * @example
 * @Get('me') me(@CurrentUser() user: AuthenticatedPrincipal, @CurrentUser('sub') sub: string) { … }
 */
// Annotated so that the emitted .d.ts names only types that Nest 11 and Nest 12 both export.
export const CurrentUser: (
  ...dataOrPipes: (keyof AuthenticatedPrincipal | PipeTransform | Type<PipeTransform> | undefined)[]
) => ParameterDecorator = createParamDecorator(
  (field: keyof AuthenticatedPrincipal | undefined, context: ExecutionContext) => {
    const user = principalOf(context);
    return field ? user?.[field] : user;
  },
);
