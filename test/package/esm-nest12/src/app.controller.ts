import { Controller, Get, HttpCode, Post } from '@nestjs/common';
import { CurrentUser, OidcResourceError, Public, Scopes } from 'nestjs-oidc-resource';
import type { AuthenticatedPrincipal } from 'nestjs-oidc-resource';

// Compile-time checks: under `moduleResolution: nodenext` (and `skipLibCheck`, as `nest new`
// sets it) a type the package fails to resolve silently becomes `any`; these fail instead.
type IsAny<T> = 0 extends 1 & T ? true : false;
export const principalIsTyped: IsAny<AuthenticatedPrincipal> = false;
export const sourceIsTyped: AuthenticatedPrincipal['source'] extends 'jwt' | 'introspection'
  ? true
  : false = true;
export const errorIsTyped: IsAny<OidcResourceError['code']> = false;

@Controller()
export class AppController {
  @Public()
  @Get('health')
  health() {
    return { status: 'ok', runtime: 'esm-nest12' };
  }

  @Get('me')
  me(@CurrentUser() user: AuthenticatedPrincipal) {
    return user;
  }

  @Scopes('api:write')
  @Post('notes')
  @HttpCode(201)
  createNote(@CurrentUser('sub') sub: string | undefined) {
    return { createdBy: sub };
  }
}
