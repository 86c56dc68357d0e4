import { Module } from '@nestjs/common';
import { OidcResourceModule } from 'nestjs-oidc-resource';
import { AppController } from './app.controller';
import { NotesController } from './notes.controller';

function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`environment variable ${name} is required`);
  return value;
}

@Module({
  imports: [
    OidcResourceModule.forRoot({
      issuer: env('OIDC_ISSUER'),
      audience: env('OIDC_AUDIENCE'),
      introspection: {
        clientId: env('OIDC_CLIENT_ID'),
        clientSecret: env('OIDC_CLIENT_SECRET'),
      },
    }),
  ],
  controllers: [AppController, NotesController],
})
export class AppModule {}
