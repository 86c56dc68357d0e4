import { Controller, Get } from '@nestjs/common';
import { CurrentUser, Public, Scopes, type AuthenticatedPrincipal } from 'nestjs-oidc-resource';

// README's quick-start NotesController, which docs/testing.md's e2e spec (test/app.e2e-spec.ts)
// calls. Its POST /notes is left out: AppController's POST notes serves the runner's checks.
@Controller('notes')
export class NotesController {
  @Public()
  @Get('count')
  count() {
    return { count: 42 }; // no token needed
  }

  @Get()
  @Scopes('notes:read')
  list(@CurrentUser() user: AuthenticatedPrincipal) {
    // A client-credentials token may have no "sub": name the client instead.
    return { for: user.sub ?? user.clientId, notes: [] };
  }
}
