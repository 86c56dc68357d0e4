import { BadRequestException } from '@nestjs/common';
import { Args, Field, Int, Mutation, ObjectType, Query, Resolver } from '@nestjs/graphql';
import { type AuthenticatedPrincipal, CurrentUser, Public, Scopes } from '../../lib/index.js';
import { authorOf } from '../notes/note-author.policy.js';
import { NotesService } from '../notes/notes.service.js';

@ObjectType('Note')
class NoteType {
  @Field(() => Int)
  id!: number;

  @Field()
  text!: string;

  @Field()
  author!: string;

  @Field()
  createdAt!: string;
}

/**
 * The notes, over GraphQL (POST /graphql): the same decorators as the REST controller, with
 * nothing added to the GraphQL module's context. A refused field is a GraphQL error whose
 * `extensions.code` is UNAUTHENTICATED, FORBIDDEN or SERVICE_UNAVAILABLE and whose
 * `extensions.oauth` holds the RFC 6750 error; the HTTP answer carries the same challenge a REST
 * route would.
 */
@Resolver(() => NoteType)
export class NotesResolver {
  constructor(private readonly store: NotesService) {}

  @Public()
  @Query(() => Int, { description: 'How many notes there are; no token needed.' })
  noteCount(): number {
    return this.store.list().length;
  }

  @Scopes('notes:read')
  @Query(() => [NoteType])
  notes(): NoteType[] {
    return this.store.list();
  }

  @Scopes('notes:write')
  @Mutation(() => NoteType)
  addNote(@Args('text') text: string, @CurrentUser() user: AuthenticatedPrincipal): NoteType {
    if (text.trim() === '' || text.length > 1000)
      throw new BadRequestException('text must have 1 to 1000 characters');
    return this.store.create(text.trim(), authorOf(user));
  }
}
