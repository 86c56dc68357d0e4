import { Controller, Get } from '@nestjs/common';
import { type AuthenticatedPrincipal, CurrentUser, UserInfoService } from '../../lib/index.js';

@Controller('me')
export class MeController {
  constructor(private readonly userInfo: UserInfoService) {}

  /**
   * What the handler knows about the caller: the principal built from the
   * access token (JWT claims or the introspection response). No session, no
   * cookie: the same token on the next request gives the same principal.
   */
  @Get()
  me(@CurrentUser() user: AuthenticatedPrincipal): AuthenticatedPrincipal {
    return user;
  }

  /**
   * The user's profile from the authorization server's UserInfo endpoint, called
   * with the caller's own access token (cached per token). A token without the
   * `openid` scope, or one the UserInfo endpoint refuses (for example a
   * client-credentials token), gets 403 `insufficient_scope` with `scope="openid"`.
   */
  @Get('profile')
  profile(@CurrentUser() user: AuthenticatedPrincipal): Promise<Record<string, unknown>> {
    return this.userInfo.getUserInfo(user);
  }
}
