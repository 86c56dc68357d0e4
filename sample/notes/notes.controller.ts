import { BadRequestException, Body, Controller, Get, Post } from '@nestjs/common';
import { type AuthenticatedPrincipal, CurrentUser, Scopes } from '../../lib/index.js';
import { type Note, NotesService } from './notes.service.js';

/**
 * Every route here needs a valid access token (the guard is global), and each
 * route names the scopes that the token must carry. A token without them gets
 * 403 with `WWW-Authenticate: Bearer error="insufficient_scope", scope="…"`.
 */
@Controller('notes')
export class NotesController {
  constructor(private readonly notes: NotesService) {}

  @Get()
  @Scopes('notes:read')
  list(): Note[] {
    return this.notes.list();
  }

  @Post()
  @Scopes('notes:write')
  create(@Body() body: unknown, @CurrentUser() user: AuthenticatedPrincipal): Note {
    const text = (body as { text?: unknown } | undefined)?.text;
    if (typeof text !== 'string' || text.trim() === '' || text.length > 1000) {
      throw new BadRequestException('send JSON {"text": "..."} with 1 to 1000 characters');
    }
    return this.notes.create(text.trim(), user.sub ?? user.clientId ?? 'unknown');
  }
}
