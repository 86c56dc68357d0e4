import { Module } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { OidcResourceModule } from '../lib/index.js';
import { HealthController } from './health/health.controller.js';
import { MeController } from './me/me.controller.js';
import { NotesController } from './notes/notes.controller.js';
import { NotesService } from './notes/notes.service.js';

@Module({
  imports: [
    // Reads process.env (and a .env file, when there is one).
    ConfigModule.forRoot(),
    OidcResourceModule.forRootAsync({
      imports: [ConfigModule],
      inject: [ConfigService],
      useFactory: (config: ConfigService) => {
        const clientId = config.get<string>('OIDC_INTROSPECTION_CLIENT_ID');
        return {
          issuer: config.getOrThrow<string>('OIDC_ISSUER'),
          audience: config.getOrThrow<string>('OIDC_AUDIENCE'),
          // Only needed to accept opaque tokens; JWT access tokens are verified locally.
          ...(clientId
            ? {
                introspection: {
                  clientId,
                  clientSecret: config.get<string>('OIDC_INTROSPECTION_CLIENT_SECRET'),
                },
              }
            : {}),
        };
      },
    }),
  ],
  controllers: [HealthController, NotesController, MeController],
  providers: [NotesService],
})
export class AppModule {}
