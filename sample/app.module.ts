import { Module } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { ApolloDriver, type ApolloDriverConfig } from '@nestjs/apollo';
import { GraphQLModule } from '@nestjs/graphql';
import { OidcResourceModule } from '../lib/index.js';
import { NotesResolver } from './graphql/notes.resolver.js';
import { HealthController } from './health/health.controller.js';
import { MeController } from './me/me.controller.js';
import { NoteAuthorPolicy } from './notes/note-author.policy.js';
import { NotesController } from './notes/notes.controller.js';
import { NotesService } from './notes/notes.service.js';
import { oidcOptionsFromEnv } from './oidc-env.js';

@Module({
  imports: [
    // Reads process.env (and a .env file, when there is one).
    ConfigModule.forRoot(),
    OidcResourceModule.forRootAsync({
      imports: [ConfigModule],
      inject: [ConfigService],
      // OIDC_ISSUER, OIDC_AUDIENCE and the optional OIDC_* variables: see oidc-env.ts.
      useFactory: (config: ConfigService) => oidcOptionsFromEnv((name) => config.get(name)),
    }),
    // GraphQL at POST /graphql (Apollo on Express), schema generated from the resolver's
    // decorators. The guard needs nothing from it: it reads the token from the HTTP request.
    GraphQLModule.forRoot<ApolloDriverConfig>({
      driver: ApolloDriver,
      autoSchemaFile: true,
      graphiql: false,
    }),
  ],
  controllers: [HealthController, NotesController, MeController],
  // A policy class is a provider like any other, so it can inject NotesService.
  providers: [NotesService, NoteAuthorPolicy, NotesResolver],
})
export class AppModule {}
