import { Injectable, type ExecutionContext } from '@nestjs/common';
import type { AuthenticatedPrincipal, OidcPolicy } from '../../lib/index.js';
import { NotesService } from './notes.service.js';

/**
 * An ownership policy: only a note's author may change it. A class registered as a provider
 * (see AppModule), so it can inject NotesService and load the note named in the route.
 */
@Injectable()
export class NoteAuthorPolicy implements OidcPolicy {
  constructor(private readonly notes: NotesService) {}

  allows(principal: AuthenticatedPrincipal, context: ExecutionContext): boolean {
    const { id } = context.switchToHttp().getRequest<{ params: { id?: string } }>().params;
    const note = this.notes.find(Number(id));
    // A missing note is not an authorization question: the handler answers 404. (A policy
    // must not throw NotFoundException: anything but an OidcResourceError is a 500.)
    if (!note) return true;
    return note.author === authorOf(principal);
  }
}

/** Who a note is written by: the token's `sub`, or the client id of a token without one. */
export function authorOf(principal: AuthenticatedPrincipal): string {
  return principal.sub ?? principal.clientId ?? 'unknown';
}
