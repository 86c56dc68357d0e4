/**
 * Microservice messages over TCP with Nest's own client, tokens minted by the real oidc-provider
 * fixture. Without `rpc`, messages pass through (module.e2e-spec checks that); with
 * `rpc.token`, they are authenticated and authorized like HTTP requests.
 */
import { Controller, Module, type INestMicroservice } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import {
  ClientProxyFactory,
  MessagePattern,
  Payload,
  Transport,
  type ClientProxy,
} from '@nestjs/microservices';
import type { AddressInfo, Server } from 'node:net';
import { firstValueFrom } from 'rxjs';
import { CurrentUser, OidcResourceModule, Public, Scopes } from '../../lib/index.js';
import {
  API,
  startAuthorizationServer,
  type AuthorizationServer,
} from '../fixtures/authorization-server.js';

interface Message {
  token?: unknown;
  text?: string;
}

@Controller()
class NotesMessages {
  @MessagePattern('whoami')
  whoami(@CurrentUser('sub') sub: string | undefined) {
    return sub ?? null;
  }

  @Scopes('api:write')
  @MessagePattern('write')
  write(@Payload() message: Message, @CurrentUser('sub') sub: string | undefined) {
    return `${sub ?? '?'}: ${message.text ?? ''}`;
  }

  @Public()
  @MessagePattern('ping')
  ping(@CurrentUser('sub') sub: string | undefined) {
    return `pong ${sub ?? 'anonymous'}`;
  }
}

describe('microservice messages with rpc.token (TCP)', () => {
  let as: AuthorizationServer;
  let service: INestMicroservice;
  let client: ClientProxy;
  let reader: string;
  let writer: string;
  const send = (pattern: string, message: Message) =>
    firstValueFrom(client.send<unknown>(pattern, message)).then(
      (value) => ({ value }),
      (error: unknown) => ({ error }),
    );

  beforeAll(async () => {
    as = await startAuthorizationServer();
    @Module({
      imports: [
        OidcResourceModule.forRoot({
          issuer: as.issuer,
          audience: API,
          rpc: { token: (data: Message) => data?.token as string | undefined },
        }),
      ],
      controllers: [NotesMessages],
    })
    class ServiceModule {}
    service = await NestFactory.createMicroservice(ServiceModule, {
      transport: Transport.TCP,
      options: { host: '127.0.0.1', port: 0 },
      logger: false,
    });
    await service.listen();
    const { port } = service.unwrap<Server>().address() as AddressInfo;
    client = ClientProxyFactory.create({
      transport: Transport.TCP,
      options: { host: '127.0.0.1', port },
    });
    reader = await as.mintAccessToken({ scope: 'api:read' });
    writer = await as.mintAccessToken({ scope: 'api:read api:write' });
  });
  afterAll(async () => {
    await client?.close();
    await service?.close();
    await as?.close();
  });

  it('authenticates a message with a valid token, and @CurrentUser() works', async () => {
    expect(await send('whoami', { token: reader })).toEqual({ value: 'alice' });
    expect(await send('whoami', { token: `Bearer ${reader}` })).toEqual({ value: 'alice' });
  });

  it('refuses a message without a token, or with an invalid one', async () => {
    expect(await send('whoami', {})).toEqual({
      error: { error: 'invalid_token', error_description: 'No access token was sent' },
    });
    const forged = await send('whoami', { token: `${reader.slice(0, -4)}AAAA` });
    expect(forged).toMatchObject({ error: { error: 'invalid_token' } });
  });

  it('checks the handler scopes: FORBIDDEN-style insufficient_scope with the scope', async () => {
    expect(await send('write', { token: reader, text: 'hi' })).toEqual({
      error: {
        error: 'insufficient_scope',
        error_description: 'The access token lacks a required scope',
        scope: 'api:write',
      },
    });
    expect(await send('write', { token: writer, text: 'hi' })).toEqual({ value: 'alice: hi' });
  });

  it('lets a @Public() handler through, with or without a token', async () => {
    expect(await send('ping', {})).toEqual({ value: 'pong anonymous' });
    expect(await send('ping', { token: reader })).toEqual({ value: 'pong alice' });
    expect(await send('ping', { token: 'not a token' })).toEqual({ value: 'pong anonymous' });
  });

  it('a token that is not a string is invalid_request, and the service goes on', async () => {
    expect(await send('whoami', { token: { nested: true } })).toMatchObject({
      error: { error: 'invalid_request' },
    });
    expect(await send('whoami', { token: reader })).toEqual({ value: 'alice' });
  });
});
