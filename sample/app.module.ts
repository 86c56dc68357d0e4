import { Module } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { OidcResourceModule } from '../lib/index.js';
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
  ],
  controllers: [HealthController, NotesController, MeController],
  // A policy class is a provider like any other, so it can inject NotesService.
  providers: [NotesService, NoteAuthorPolicy],
})
export class AppModule {}
