import {
  BadRequestException,
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  NotFoundException,
  Param,
  ParseIntPipe,
  Post,
} from '@nestjs/common';
import {
  type AuthenticatedPrincipal,
  Authorize,
  CurrentUser,
  Roles,
  Scopes,
} from '../../lib/index.js';
import { authorOf, NoteAuthorPolicy } from './note-author.policy.js';
import { type Note, NotesService } from './notes.service.js';

/**
 * Every route here needs a valid access token (the guard is global), and each
 * route names the scopes that the token must carry. A token without them gets
 * 403 with `WWW-Authenticate: Bearer error="insufficient_scope", scope="…"`.
 * A missing role, or a policy that refuses, gets 403 with the same `error` and
 * no `scope` parameter.
 */
@Controller('notes')
export class NotesController {
  constructor(private readonly notes: NotesService) {}

  @Get()
  @Scopes('notes:read')
  list(): Note[] {
    return this.notes.list();
  }

  /** For administrators only: the token's roles (`roles` claim) must include notes-admin. */
  @Get('stats')
  @Scopes('notes:read')
  @Roles('notes-admin')
  stats(): Record<string, number> {
    return this.notes.stats();
  }

  @Post()
  @Scopes('notes:write')
  create(@Body() body: unknown, @CurrentUser() user: AuthenticatedPrincipal): Note {
    const text = (body as { text?: unknown } | undefined)?.text;
    if (typeof text !== 'string' || text.trim() === '' || text.length > 1000) {
      throw new BadRequestException('send JSON {"text": "..."} with 1 to 1000 characters');
    }
    return this.notes.create(text.trim(), authorOf(user));
  }

  /** Only the note's author may delete it: NoteAuthorPolicy loads the note and compares. */
  @Delete(':id')
  @Scopes('notes:write')
  @Authorize(NoteAuthorPolicy)
  @HttpCode(204)
  remove(@Param('id', ParseIntPipe) id: number): void {
    if (!this.notes.delete(id)) throw new NotFoundException(`no note ${id}`);
  }
}
